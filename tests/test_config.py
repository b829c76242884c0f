"""Config validation: defaults filled, bad keys named."""

import shutil

import pytest
import yaml

from vvcjnd.config import load_config, qp_ladder, validate_config
from vvcjnd.errors import VvcjndError

from .conftest import REPO


def test_default_config_validates_and_fills_defaults(default_config):
    assert default_config["encode"]["vtm"]["encoder"] is None
    assert qp_ladder(default_config) == list(range(13, 52))


@pytest.mark.parametrize("name", sorted(p.name for p in (REPO / "configs").glob("*.yaml")))
def test_shipped_configs_validate(name):
    load_config(REPO / "configs" / name)


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ({"encode": {"qp": {"max": 99}}}, "encode.qp.max"),
        ({"encode": {"qpmax": 3}}, "'qpmax'"),
        ({"sources": {"kind": "flickr"}}, "sources.kind"),
        ({"colour": {"bit_depth": "ten"}}, "colour.bit_depth"),
        ({"encode": {"qp": {"min": 40, "max": 20}}}, "encode.qp"),
        ({"seed": -1}, "seed"),
        ({"colur": {}}, "'colur'"),
    ],
)
def test_bad_values_name_the_key(override, named):
    with pytest.raises(VvcjndError, match=named.replace(".", r"\.")):
        validate_config(override)


def test_unreadable_config_file_is_named(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("encode: [unclosed\n")
    with pytest.raises(VvcjndError, match="bad.yaml"):
        load_config(bad)


def test_an_edited_schema_file_is_read_again(tmp_path):
    """The parsed schemas are kept per process, but by file version: an edit counts."""
    schemas = shutil.copytree(REPO / "workflow" / "schemas", tmp_path / "schemas")
    assert validate_config({}, schemas)["seed"] == validate_config({})["seed"]
    seed_schema = schemas / "config.schema.yaml"
    text = seed_schema.read_text()
    seed_default = "\n    default: " + str(validate_config({})["seed"]) + "\n"
    assert seed_default in text
    seed_schema.write_text(text.replace(seed_default, "\n    default: 123457\n", 1))
    assert validate_config({}, schemas)["seed"] == 123457


def test_config_yaml_sets_only_known_keys():
    raw = yaml.safe_load((REPO / "config.yaml").read_text())
    validate_config(raw)  # raises on any unknown key


def test_config_reference_is_up_to_date():
    """docs/config.md documents every key; regenerate with `python -m vvcjnd config-docs`."""
    from vvcjnd.config import config_reference

    assert (REPO / "docs" / "config.md").read_text() == config_reference()
