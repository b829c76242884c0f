"""Whether importing given vvcjnd modules loads torch, for tests/test_job_imports.py.

Usage: ``python tests/job_imports.py < jobs.json``, where jobs.json maps a job's name to the
vvcjnd modules its script imports; one JSON object on stdout, name -> whether torch is in
``sys.modules`` after importing them. Each job's modules are imported in their own child
forked from this process, which first loads the heavy libraries many jobs share (never
torch), so the children pay only for vvcjnd's own modules.
"""

from __future__ import annotations

import importlib
import json
import multiprocessing
import sys

import h5py  # noqa: F401
import matplotlib.pyplot  # noqa: F401
import pandas  # noqa: F401
import PIL.Image  # noqa: F401
import scipy.io  # noqa: F401
import scipy.optimize  # noqa: F401
import scipy.stats  # noqa: F401


def loads_torch(modules: list[str]) -> bool:
    for module in modules:
        importlib.import_module(module)
    return "torch" in sys.modules


def main() -> None:
    assert "torch" not in sys.modules
    jobs = json.load(sys.stdin)
    with multiprocessing.get_context("fork").Pool(2, maxtasksperchild=1) as pool:
        loaded = pool.map(loads_torch, list(jobs.values()), 1)
    print(json.dumps(dict(zip(jobs, loaded, strict=True))))


if __name__ == "__main__":
    main()
