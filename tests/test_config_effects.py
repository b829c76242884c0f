"""Every config key's effect on a finished run: exactly its rules and their downstream rerun,
and an operational key reruns nothing. The table is tests/config_effects.yaml; the keys come
from the schemas, so a new key without a row fails here.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from vvcjnd.config import operational_keys, schema_nodes, validate_config

from .conftest import REPO

EFFECTS = yaml.safe_load((REPO / "tests" / "config_effects.yaml").read_text())


def leaf_keys() -> set[str]:
    """Dotted names of the schemas' leaf keys (a key whose value is not a further section)."""
    nodes = dict(schema_nodes())
    leaves = set()
    for key, node in nodes.items():
        parent, _, name = key.rpartition(".")
        declared = not parent or name in nodes[parent].get("properties", {})
        if declared and "properties" not in node:
            leaves.add(key)
    return leaves


def test_the_table_names_every_schema_key_and_no_other():
    missing, unknown = leaf_keys() - set(EFFECTS), set(EFFECTS) - leaf_keys()
    assert not missing, f"add these keys to tests/config_effects.yaml: {sorted(missing)}"
    assert not unknown, f"tests/config_effects.yaml names keys no schema has: {sorted(unknown)}"


def test_operational_keys_are_exactly_the_schemas_marked_ones():
    table = {key for key, row in EFFECTS.items() if row.get("operational")}
    assert table == operational_keys()
    assert all(EFFECTS[key]["reruns"] == [] for key in table)


def _set(config: dict, key: str, value) -> dict:
    changed = copy.deepcopy(config)
    *sections, name = key.split(".")
    node = changed
    for section in sections:
        node = node[section]
    if node.get(name) == value:
        raise AssertionError(f"tests/config_effects.yaml: {key} already is {value!r}")
    node[name] = value
    return changed


def _reversed(node):
    """``node`` with the keys of every mapping in reverse order."""
    if not isinstance(node, dict):
        return node
    return {key: _reversed(node[key]) for key in reversed(list(node))}


def _plans(workdir: Path, requests: list[dict]) -> list[dict]:
    result = subprocess.run(
        [sys.executable, str(REPO / "tests" / "plan_jobs.py"), str(workdir)],
        input=json.dumps(requests), capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return [json.loads(line) for line in result.stdout.splitlines()]


def _cases() -> list[tuple[str, list[str], tuple[str, ...]]]:
    """(label, keys changed together, the rules they rerun): one case per key, except that
    the keys rerunning nothing for the same reason (inactive ones with one reason, all the
    operational ones) are changed together in one case, so that a rerun by any of them shows."""
    cases, together = [], {}
    for key, row in sorted(EFFECTS.items()):
        if "skip" in row:
            continue
        if row["reruns"] == [] and ("inactive" in row or row.get("operational")):
            together.setdefault(row.get("inactive", "operational"), []).append(key)
        else:
            cases.append((key, [key], tuple(row["reruns"])))
    cases += [(", ".join(keys), keys, ()) for keys in together.values()]
    return cases


@pytest.mark.slow
def test_each_change_reruns_exactly_its_rules_and_their_downstream(finished_small_run):
    workdir, config = finished_small_run
    config = validate_config(copy.deepcopy(config))  # defaults filled: every key has a value
    cases = _cases()
    reordered = workdir / "reordered.yaml"  # the same settings, keys in reverse order
    reordered.write_text(yaml.safe_dump(_reversed(config), sort_keys=False))
    requests = [{"configfile": str(workdir / "config.yaml")}, {"configfile": str(reordered)}]
    forced = {}
    for index, (_, keys, reruns) in enumerate(cases):
        changed = config
        for key in keys:
            changed = _set(changed, key, EFFECTS[key]["change"])
            validate_config(copy.deepcopy(_set(config, key, EFFECTS[key]["change"])))
        validate_config(copy.deepcopy(changed))  # a bad `change` fails here, naming the key
        path = workdir / f"changed_{index}.yaml"
        path.write_text(yaml.safe_dump(changed))
        requests.append({"configfile": str(path)})
        forced.setdefault(reruns, None)
    forced_rules = [rules for rules in forced if rules]
    requests += [{"configfile": str(workdir / "config.yaml"), "forcerun": list(rules)}
                 for rules in forced_rules]  # fmt: skip
    answers = _plans(workdir, requests)
    assert answers[0] == {}, f"the finished run is not up to date: {answers[0]}"
    assert answers[1] == {}, f"reordering the config's keys plans {answers[1]}"
    answers = answers[1:]
    expected = {(): set()}
    for rules, answer in zip(forced_rules, answers[1 + len(cases) :], strict=True):
        expected[rules] = set(answer)
    wrong = []
    for (label, _, reruns), answer in zip(cases, answers[1:], strict=False):
        planned = set(answer)
        want = expected[reruns]
        if "error" in answer or planned != want:
            wrong.append(f"{label}: planned {sorted(planned)}, expected {sorted(want)}")
    assert not wrong, "\n".join(wrong)
