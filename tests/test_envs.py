"""envs/*.yaml agree with pyproject.toml and hold what the rules that use them import."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from functools import cache
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

REPO = Path(__file__).resolve().parents[1]
ENVS = sorted((REPO / "envs").glob("*.yaml"))
RULE_FILES = sorted((REPO / "workflow" / "rules").glob("*.smk"))
# Provided by the Snakemake that runs the rule (its script preamble), not by the env.
PROVIDED_BY_SNAKEMAKE = {"snakemake"}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pyproject() -> dict:
    with open(REPO / "pyproject.toml", "rb") as handle:
        return tomllib.load(handle)


def pinned_dependencies() -> dict[str, str]:
    """Runtime dependencies of pyproject.toml: canonical name -> pinned version."""
    pins = {}
    for line in pyproject()["project"]["dependencies"]:
        requirement = Requirement(line)
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", f"pyproject.toml: {line} is not pinned with =="
        pins[canonical(requirement.name)] = specifier.version
    return pins


def env_spec(path: Path) -> tuple[list[str], dict[str, str]]:
    """The conda entries and the pip pins (canonical name -> version) of an env file."""
    data = yaml.safe_load(path.read_text())
    conda, pip = [], {}
    for entry in data["dependencies"]:
        if isinstance(entry, dict):
            for line in entry["pip"]:
                requirement = Requirement(line)
                specifiers = list(requirement.specifier)
                assert len(specifiers) == 1 and specifiers[0].operator == "==", (
                    f"{path.name}: pip entry {line!r} is not pinned with =="
                )
                pip[canonical(requirement.name)] = specifiers[0].version
        else:
            conda.append(entry)
    return conda, pip


def rule_envs_and_scripts() -> list[tuple[str, Path, Path | None]]:
    """(rule, env file, script or None) for every rule of workflow/rules that names a conda env."""
    found = []
    for rule_file in RULE_FILES:
        blocks = re.split(r"^rule (\w+):", rule_file.read_text(), flags=re.MULTILINE)
        for name, body in zip(blocks[1::2], blocks[2::2], strict=True):
            env = re.search(r"^\s+conda:\s*\n\s+[\"']([^\"']+)[\"']", body, flags=re.MULTILINE)
            if env is None:
                continue
            script = re.search(r"^\s+script:\s*\n\s+[\"']([^\"']+)[\"']", body, re.MULTILINE)
            base = rule_file.parent
            found.append(
                (
                    name,
                    (base / env.group(1)).resolve(),
                    (base / script.group(1)).resolve() if script else None,
                )
            )
    return found


def imported_modules(path: Path) -> set[str]:
    """Every module name that a Python file imports, at any depth of its code."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@cache
def third_party_imports(path: Path) -> frozenset[str]:
    """Top-level third-party modules a file needs, following imports into vvcjnd."""
    needed, seen, pending = set(), {path}, [path]
    while pending:
        for name in imported_modules(pending.pop()):
            top = name.split(".")[0]
            if top == "vvcjnd":
                module = REPO.joinpath(*name.split("."))
                for candidate in (module.with_suffix(".py"), module / "__init__.py"):
                    if candidate.is_file() and candidate not in seen:
                        seen.add(candidate)
                        pending.append(candidate)
            elif top not in sys.stdlib_module_names and top != "__future__":
                needed.add(top)
    return frozenset(needed)


def with_requirements(distributions: set[str]) -> set[str]:
    """The distributions and everything they require, as installed here."""
    closure, pending = set(), list(distributions)
    while pending:
        name = pending.pop()
        if name in closure:
            continue
        closure.add(name)
        for line in importlib.metadata.requires(name) or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                pending.append(canonical(requirement.name))
    return closure


def test_there_are_env_files():
    assert {path.stem for path in ENVS} >= {"encode", "labels", "torch"}


@pytest.mark.parametrize("env", ENVS, ids=lambda path: path.name)
def test_env_pins_equal_pyproject(env):
    conda, pip = env_spec(env)
    pins = pinned_dependencies()
    assert pip, f"{env.name} pins no packages"
    for name, version in pip.items():
        assert name in pins, f"{env.name}: {name} is not a dependency in pyproject.toml"
        assert version == pins[name], f"{env.name}: {name}=={version}, pyproject {pins[name]}"
    # Everything else comes from PyPI with the pins above, so the wheels equal a pip install.
    packages = {re.split(r"[=<>! ]", entry)[0] for entry in conda}
    assert packages == {"python", "pip"}, f"{env.name}: conda packages {sorted(packages)}"


@pytest.mark.parametrize("env", ENVS, ids=lambda path: path.name)
def test_env_python_meets_requires_python(env):
    conda, _ = env_spec(env)
    (python,) = [entry for entry in conda if entry.startswith("python")]
    version = python.partition("=")[2].lstrip("=")
    assert version, f"{env.name}: python is not pinned"
    assert version in SpecifierSet(pyproject()["project"]["requires-python"])


def test_rules_name_existing_envs():
    uses = rule_envs_and_scripts()
    assert uses, "no rule in workflow/rules names a conda env"
    missing = sorted({f"{rule}: {env}" for rule, env, _ in uses if not env.is_file()})
    assert not missing, f"conda envs that do not exist: {missing}"


def test_each_env_holds_what_its_rule_scripts_import():
    """A rule's script, and the vvcjnd modules it reaches, import only what its env installs."""
    distributions = importlib.metadata.packages_distributions()
    problems = []
    for rule, env, script in rule_envs_and_scripts():
        if script is None or not env.is_file():
            continue
        installed = with_requirements(set(env_spec(env)[1])) | PROVIDED_BY_SNAKEMAKE
        for module in sorted(third_party_imports(script)):
            providers = {canonical(name) for name in distributions.get(module, [module])}
            if not providers & installed:
                problems.append(f"rule {rule} ({env.name}) imports {module}")
    assert not problems, "\n".join(problems)


def test_envs_together_cover_the_runtime_dependencies():
    """Every pinned runtime package is in some env, except Snakemake and its executor plugin."""
    in_envs = set().union(*(env_spec(env)[1] for env in ENVS))
    drivers = {"snakemake", "snakemake-executor-plugin-slurm"}
    assert set(pinned_dependencies()) - drivers - in_envs == set()
