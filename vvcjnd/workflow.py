"""Helpers for the thin rule scripts: logging into the rule's log file, tidying after kills."""

from __future__ import annotations

import contextlib
import logging
import sys
import traceback
from collections.abc import Iterable, Iterator
from pathlib import Path

from vvcjnd.errors import VvcjndError
from vvcjnd.io import remove_stale_temporaries


@contextlib.contextmanager
def logged(log_path: str | Path, outputs: Iterable[str] = ()) -> Iterator[logging.Logger]:
    """Send the `vvcjnd` logger to ``log_path`` for the body of a rule script.

    An expected error (:class:`VvcjndError`: bad input, bad config, a failed tool) ends the
    job with exit status 1 and no Python traceback: its first line goes to stderr with the
    log's path, the whole message to the log. Any other exception is a bug: its traceback
    goes to the log and it is re-raised, traceback and all. First removes the temporary
    files that a killed earlier run of the job left beside its ``outputs`` (Snakemake
    removes the incomplete outputs themselves, not these).
    """
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log_path, mode="a", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger = logging.getLogger("vvcjnd")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        removed = sum(remove_stale_temporaries(output) for output in outputs)
        if removed:
            logger.info("removed %d temporary files left by an interrupted run", removed)
        yield logger
    except VvcjndError as error:
        logger.error("error: %s", error)
        print(f"error: {str(error).splitlines()[0]} (log: {log_path})", file=sys.stderr)
        raise SystemExit(1) from None
    except BaseException:
        logger.error("failed:\n%s", traceback.format_exc())
        raise
    finally:
        logger.removeHandler(handler)
        handler.close()
