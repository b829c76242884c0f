"""Configuration: JSON-schema validation with defaults and messages that name the key.

The schema lives in ``workflow/schemas/config.schema.yaml``; each stage's section is a
sibling file it references (``sources.schema.yaml``, ``labels.schema.yaml`` ...).
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path

import jsonschema
import yaml
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from vvcjnd.errors import VvcjndError

MAIN_SCHEMA = "config.schema.yaml"
DEFAULT_SCHEMA_DIR = Path(__file__).resolve().parent.parent / "workflow" / "schemas"


def _schema(path: Path) -> dict:
    """The parsed schema file ``path``, read once per version of the file (size and
    modification time) in a process: a dry run of many configs validates each. Shared: do
    not change it."""
    stat = path.stat()
    return _parsed_schema(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=128)
def _parsed_schema(path: Path, mtime_ns: int, size: int) -> dict:
    return yaml.safe_load(path.read_text())


def _registry(schema_dir: Path) -> Registry:
    resources = []
    for file in sorted(schema_dir.glob("*.schema.yaml")):
        contents = {key: value for key, value in _schema(file).items() if key != "$schema"}
        resources.append((file.name, DRAFT202012.create_resource(contents)))
    return Registry().with_resources(resources)


def _with_defaults(validator_class):
    """Extend a validator so that it fills in ``default`` values of missing properties."""
    check_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "$ref" in subschema:
                    subschema = validator._resolver.lookup(subschema["$ref"]).contents
                if "default" in subschema and name not in instance:
                    instance[name] = copy.deepcopy(subschema["default"])
        yield from check_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


def _describe(error: jsonschema.ValidationError) -> str:
    key = ".".join(str(part) for part in error.absolute_path) or "<top level>"
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(allowed))
        return f"config key '{key}': unknown key(s) {unknown}; allowed keys are {allowed}"
    return f"config key '{key}': {error.message}"


def validate_config(config: dict, schema_dir: str | Path = DEFAULT_SCHEMA_DIR) -> dict:
    """Validate ``config`` in place against the schema, filling defaults; return it.

    Raises :class:`VvcjndError` naming the first offending key (by its dotted path).
    """
    schema_dir = Path(schema_dir)
    schema = _schema(schema_dir / MAIN_SCHEMA)
    validator_class = _with_defaults(jsonschema.Draft202012Validator)
    validator = validator_class(schema, registry=_registry(schema_dir))
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        raise VvcjndError("invalid configuration: " + "; ".join(_describe(e) for e in errors[:5]))
    _check_consistency(config)
    return config


def _check_consistency(config: dict) -> None:
    """Cross-key rules that a JSON schema cannot express."""
    qp = config["encode"]["qp"]
    if qp["min"] > qp["max"]:
        raise VvcjndError(
            f"config key 'encode.qp': min ({qp['min']}) must not exceed max ({qp['max']})"
        )


def load_config(path: str | Path, schema_dir: str | Path = DEFAULT_SCHEMA_DIR) -> dict:
    """Read a YAML config file and validate it (see :func:`validate_config`)."""
    path = Path(path)
    try:
        config = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise VvcjndError(f"cannot read config file {path}: {exc}") from exc
    return validate_config(config, schema_dir)


def qp_ladder(config: dict) -> list[int]:
    """The QP ladder of the run (QP 0..63), ascending."""
    qp = config["encode"]["qp"]
    return list(range(qp["min"], qp["max"] + 1, qp["step"]))


def schema_nodes(schema_dir: str | Path = DEFAULT_SCHEMA_DIR) -> list[tuple[str, dict]]:
    """(dotted key, schema node) of every config key, parents before their children; the
    nodes are the parsed schemas shared within the process: do not change them."""
    schema_dir = Path(schema_dir)
    found: list[tuple[str, dict]] = []

    def walk(prefix: str, node: dict) -> None:
        if "$ref" in node:
            node = _schema(schema_dir / node["$ref"])
        if prefix:
            found.append((prefix, node))
        options = [o for o in node.get("oneOf", []) if o.get("type") == "object"]
        for container in [node, *options]:
            for name, child in container.get("properties", {}).items():
                walk(f"{prefix}.{name}" if prefix else name, child)

    walk("", _schema(schema_dir / MAIN_SCHEMA))
    return found


@functools.cache
def operational_keys(schema_dir: str | Path = DEFAULT_SCHEMA_DIR) -> frozenset[str]:
    """Keys marked ``x-operational: true`` in the schemas: threads, time-outs, estimates for
    schedulers, batch sizes of evaluation... They cannot change a result, so rules carry them
    as resources or threads, never as params, and changing one reruns nothing. Read once per
    process (every rule's params ask for them while the workflow is planned)."""
    return frozenset(key for key, node in schema_nodes(schema_dir) if node.get("x-operational"))


def result_settings(config: dict, section: str) -> dict:
    """A copy of config ``section`` without its operational keys: what a rule's params carry.

    Keys are sorted at every level, so that the order in which a config file writes its keys
    (which Snakemake's params comparison would see) never reruns a job.
    """
    operational = operational_keys()

    def strip(prefix: str, node):
        if not isinstance(node, dict):
            return node
        return {
            key: strip(f"{prefix}.{key}", node[key])
            for key in sorted(node)
            if f"{prefix}.{key}" not in operational
        }

    return strip(section, copy.deepcopy(config[section]))


def config_reference(schema_dir: str | Path = DEFAULT_SCHEMA_DIR) -> str:
    """Markdown table of every config key (dotted name, type, default, description)."""
    lines = [
        "# Configuration reference",
        "",
        "Generated from `workflow/schemas/*.schema.yaml` by `python -m vvcjnd config-docs`;",
        "do not edit by hand. Unknown keys are errors; missing keys take the default.",
        "Keys marked *operational* cannot change a result (threads, time-outs, estimates,",
        "batch sizes of evaluation): changing one in a finished run plans no job.",
        "",
        "| key | type | default | description |",
        "| --- | --- | --- | --- |",
    ]

    lines += [_reference_row(key, node) for key, node in schema_nodes(schema_dir)]
    return "\n".join(lines) + "\n"


def _reference_row(key: str, node: dict) -> str:
    kind = node.get("type", "/".join(o.get("type", "?") for o in node.get("oneOf", [])))
    if isinstance(kind, list):
        kind = "/".join(kind)
    if "enum" in node:
        kind = " \\| ".join(str(v) for v in node["enum"])
    default = json.dumps(node["default"]) if "default" in node else "(required)"
    description = " ".join(str(node.get("description", "")).split()).replace("|", "\\|")
    default = default if default == "(required)" else f"`{default}`"
    if node.get("x-operational"):
        description += " *Operational: changing it reruns nothing.*"
    return f"| `{key}` | {kind} | {default} | {description} |"
