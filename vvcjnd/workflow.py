"""Helpers for the thin rule scripts: logging into the rule's log file."""

from __future__ import annotations

import contextlib
import logging
import traceback
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def logged(log_path: str | Path) -> Iterator[logging.Logger]:
    """Send the `vvcjnd` logger to ``log_path``; record any exception there before re-raising."""
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log_path, mode="a", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger = logging.getLogger("vvcjnd")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield logger
    except BaseException:
        logger.error("failed:\n%s", traceback.format_exc())
        raise
    finally:
        logger.removeHandler(handler)
        handler.close()
