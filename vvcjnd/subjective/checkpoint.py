"""The test database's checkpointer: committed pages into the database file, off the lock.

A commit of the store (WAL journal, ``synchronous=FULL``) is durable once its WAL frames are
fsynced; copying them into the database file is a checkpoint, which costs more fsyncs.
Doing it in every answer's transaction tripled the answer call's latency, and leaving it to
SQLite (every 1000 pages, and at close) would leave the file unchanged for long stretches,
while the file's modification time is what tells Snakemake that the label stage (whose rule
input is the database) must rerun. So a background thread with its own connection runs a
PASSIVE checkpoint (it never blocks a writer) at most ``CHECKPOINT_S`` seconds after a commit:
the file holds every answer about a second after it was given, and readers see them all at
once through the WAL anyway.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading

log = logging.getLogger(__name__)

CHECKPOINT_S = 1.0  # most seconds from a commit until the database file holds it


class Checkpointer:
    """One daemon thread checkpointing ``path`` after commits (:meth:`committed`)."""

    def __init__(self, path: str | os.PathLike):
        self.path = path
        self._pending = threading.Event()  # a commit the database file lacks
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._run, name="checkpointer", daemon=True)
        self._thread.start()

    def committed(self) -> None:
        """Note a commit: a checkpoint follows within CHECKPOINT_S."""
        self._pending.set()

    def _run(self) -> None:
        connection = sqlite3.connect(self.path, isolation_level=None)
        try:
            while not self._closing.is_set():
                if self._pending.wait(timeout=CHECKPOINT_S):
                    self._closing.wait(timeout=CHECKPOINT_S)  # one checkpoint for a second's
                    self._pending.clear()
                    try:
                        connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
                    except sqlite3.Error as exc:  # the next commit tries again
                        log.warning("checkpoint of %s failed: %s", self.path, exc)
        finally:
            connection.close()

    def close(self) -> None:
        """Stop the thread (after one last checkpoint)."""
        self._closing.set()
        self._pending.set()  # wake it now
        self._thread.join()
