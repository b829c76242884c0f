"""The library's shape: stage packages in pipeline order over a shared base, small modules.

A stage may import the shared base and earlier stages, never a later one; the base imports
no stage. Imports inside functions count too (they are the usual way to a late import).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from .conftest import REPO

PACKAGE = REPO / "vvcjnd"
# Stage packages in pipeline order: sources, codecs and the ladder, quality, the subjective
# test, labels, patches, the model and its training, JND profiles, evaluation.
STAGES = ["sources", "distort", "quality", "subjective", "labels", "patches", "model", "infer",
          "evaluate"]  # fmt: skip
# Modules above every stage: the command line and the package entry point.
TOP = {"cli", "__main__"}
MAX_MODULE_LINES = 350


def _layer(module: str) -> int | None:
    """Position of a dotted module name: -1 for the base, the stage's index, None for TOP."""
    parts = module.split(".")
    if parts[0] != "vvcjnd" or len(parts) == 1:
        return -1
    if parts[1] in TOP:
        return None
    return STAGES.index(parts[1]) if parts[1] in STAGES else -1


def vvcjnd_imports(source: str, module: str) -> list[tuple[int, str]]:
    """(line, module) of every vvcjnd import in ``source`` (the code of dotted ``module``)."""
    found = []
    package = module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([target] if target else []))
            if target == "vvcjnd":
                found += [(node.lineno, f"vvcjnd.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, target))
    return [(line, name) for line, name in found if name.split(".")[0] == "vvcjnd"]


def order_violations(source: str, module: str) -> list[str]:
    """The imports of ``module`` (dotted name) that break the pipeline order."""
    own = _layer(module)
    if own is None:
        return []
    bad = []
    for line, imported in vvcjnd_imports(source, module):
        theirs = _layer(imported)
        if theirs is None or theirs > own:
            what = "the base" if own == -1 else f"stage '{STAGES[own]}'"
            bad.append(f"{module}:{line} ({what}) imports the later {imported}")
    return bad


def _modules() -> list[tuple[str, Path]]:
    modules = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(REPO).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules.append((".".join(parts), path))
    return modules


def test_no_module_imports_a_later_stage():
    bad = [v for module, path in _modules() for v in order_violations(path.read_text(), module)]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("vvcjnd.infer.profile", "from vvcjnd.evaluate.baselines import luminance_adaptation"),
        ("vvcjnd.labels.stage", "def f():\n    from vvcjnd.patches import grid"),
        ("vvcjnd.quality.metrics", "import vvcjnd.model.training"),
        ("vvcjnd.patches.grid", "from ..evaluate import jnd_qp"),
        ("vvcjnd.images", "from vvcjnd.distort import codecs"),
        ("vvcjnd.io", "from vvcjnd import cli"),
    ],
)
def test_the_order_check_catches_a_later_import(module, source):
    assert order_violations(source, module)


def test_earlier_stages_and_the_base_may_be_imported():
    source = "from vvcjnd.patches.grid import compose\nfrom vvcjnd.io import write_json\n"
    assert not order_violations(source, "vvcjnd.infer.profile")


def test_every_stage_is_a_package_and_modules_stay_small():
    assert all((PACKAGE / stage / "__init__.py").is_file() for stage in STAGES)
    lines = {module: len(path.read_text().splitlines()) for module, path in _modules()}
    long = {module: n for module, n in lines.items() if n > MAX_MODULE_LINES}
    assert not long, f"modules over {MAX_MODULE_LINES} lines: {long}"
