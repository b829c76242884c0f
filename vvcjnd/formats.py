"""Output format versions of the stages: how a change of library code reaches the DAG.

Snakemake reruns a job when its rule's script, inputs or params change, but it cannot see a
change inside the `vvcjnd` package. Every rule therefore carries its stage's version below
among its params. A change of library code that changes what a stage writes (other bytes,
other columns, other numbers) bumps that stage's version in the same commit, and every job
of the stage and its downstream reruns. ``tests/test_golden.py`` holds the sha256 of a few
small dataset files together with these versions and fails when the bytes change while the
version stays the same.
"""

FORMAT = {
    "sources": 2,
    "distort": 3,
    "quality": 3,
    "subjective": 1,
    "labels": 4,
    "patches": 3,
    "model": 3,
    "infer": 3,
    "evaluate": 2,
}


def tool_versions() -> dict[str, str]:
    """Versions of what shapes the dataset's bytes besides the encoders: this package, numpy,
    the zlib our PNG writer links at run time, Pillow (PNG reading) and the ffmpeg wheel."""
    import zlib
    from importlib.metadata import PackageNotFoundError, version

    import numpy as np

    versions = {"vvcjnd": version("vvcjnd"), "numpy": np.__version__}
    versions["zlib"] = zlib.ZLIB_RUNTIME_VERSION
    for package in ("pillow", "imageio-ffmpeg"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = "not installed"
    return versions
