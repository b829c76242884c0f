"""Whether each workflow script loads torch by its imports, for tests/test_job_imports.py.

Usage: ``python tests/job_imports.py SCRIPT.py ...``: one JSON object on stdout, script stem
-> whether torch is in ``sys.modules`` after importing the vvcjnd modules the script
imports. Each script is imported in its own child forked from this process, which first
loads the heavy libraries many jobs share (never torch), so the children pay only for
vvcjnd's own modules.
"""

from __future__ import annotations

import ast
import importlib
import json
import multiprocessing
import sys
from pathlib import Path

import h5py  # noqa: F401
import matplotlib.pyplot  # noqa: F401
import pandas  # noqa: F401
import PIL.Image  # noqa: F401
import scipy.io  # noqa: F401
import scipy.optimize  # noqa: F401
import scipy.stats  # noqa: F401


def vvcjnd_imports(script: Path) -> list[str]:
    """The vvcjnd modules ``script`` imports (at any depth of its code)."""
    modules = []
    for node in ast.walk(ast.parse(script.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("vvcjnd"):
            modules.append(node.module)
        elif isinstance(node, ast.Import):
            modules += [alias.name for alias in node.names if alias.name.startswith("vvcjnd")]
    return modules


def loads_torch(modules: list[str]) -> bool:
    for module in modules:
        importlib.import_module(module)
    return "torch" in sys.modules


def main(scripts: list[Path]) -> None:
    assert "torch" not in sys.modules
    with multiprocessing.get_context("fork").Pool(2, maxtasksperchild=1) as pool:
        loaded = pool.map(loads_torch, [vvcjnd_imports(script) for script in scripts], 1)
    print(json.dumps({script.stem: torch for script, torch in zip(scripts, loaded, strict=True)}))


if __name__ == "__main__":
    main([Path(argument) for argument in sys.argv[1:]])
