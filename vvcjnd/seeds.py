"""Every random stream of the pipeline, derived from the master seed (config key ``seed``).

A stream is named; its numeric id below keeps the draws of earlier versions (changing an id
changes the dataset or the trained model). :func:`rng` gives a numpy generator for a stream
and keys (an epoch, a session, an image id: integers as they are, strings by their CRC-32, so
nothing depends on Python's hash seed). :func:`stream_seed` gives one integer, the master seed
plus the stream's id, for code that takes a single seed (torch; the training loop draws its
epoch orders and flips from that integer and the epoch).
"""

from __future__ import annotations

import zlib

import numpy as np

STREAMS = {
    "labels_simulate": 3,  # keys: session
    "labels_bootstrap": 31,  # keys: image id
    "labels_planning": 32,
    "labels_protocols": 33,  # keys: panel, then procedure, image and subject
    "train": 400,  # the training seed (torch's initial seed, epoch orders, flips)
    "patch_split": 4001,
    "patch_figure": 4002,
    "infer_sign": 6001,  # keys: image id
    "evaluate_noise": 6002,  # keys: image id
    "subjective_order": 7001,  # keys: subject id (session and image order)
    "subjective_trial": 7002,  # keys: subject id, trial number (side, traps)
}


def _entropy(master: int, stream: str, keys: tuple) -> list[int]:
    if stream not in STREAMS:
        raise KeyError(f"unknown random stream '{stream}'; known: {sorted(STREAMS)}")
    words = [int(master), STREAMS[stream]]
    for key in keys:
        words.append(zlib.crc32(key.encode()) if isinstance(key, str) else int(key))
    return words


def rng(master: int, stream: str, *keys: int | str) -> np.random.Generator:
    """A numpy generator for ``stream`` (and ``keys``) of the master seed."""
    return np.random.default_rng(_entropy(master, stream, keys))


def stream_seed(master: int, stream: str) -> int:
    """One integer seed of ``stream``: the master seed plus the stream's id."""
    return _entropy(master, stream, ())[0] + STREAMS[stream]
