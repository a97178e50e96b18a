"""``base: <preset>``: a short config is deep-merged over a preset's resolved config."""

import json

import pytest

from mocklens.config import PRESETS, config_from_dict, config_yaml, dump_json, load_config
from mocklens.errors import ConfigError

SHORT = """\
base: shear
seed: 7
redshifts: {z_lens: {dist: uniform, min: 0.3, max: 0.6}}
"""


def preset_with(name, **changes):
    """The preset's JSON data with top-level sections updated by ``changes``."""
    data = json.loads(dump_json(PRESETS[name]))
    for key, value in changes.items():
        if isinstance(value, dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return data


def test_three_line_config_equals_preset_with_the_change(tmp_path):
    path = tmp_path / "short.yaml"
    path.write_text(SHORT)
    cfg = load_config(path)
    z_lens = {"dist": "uniform", "min": 0.3, "max": 0.6}
    expected = config_from_dict(preset_with("shear", seed=7, redshifts={"z_lens": z_lens}))
    assert cfg == expected
    assert dump_json(cfg) == dump_json(expected)
    # the rest really is the shear preset (round lens, sheared), not the default recipe
    assert cfg.family == "shear"
    assert cfg.lens.components[0].ellipticity.e.value == 0.0
    assert cfg.redshifts.z_source == PRESETS["shear"].redshifts.z_source


def test_json_config_with_base_and_round_trip(tmp_path):
    path = tmp_path / "short.json"
    path.write_text(json.dumps({"base": "both", "n_samples": 500, "output": {"shard_size": 100}}))
    cfg = load_config(path)
    assert (cfg.n_samples, cfg.output.shard_size) == (500, 100)
    assert cfg.output.compression_level == PRESETS["both"].output.compression_level
    # the resolved config is stored without 'base' and reads back to itself, as JSON and YAML
    text = dump_json(cfg)
    assert "base" not in json.loads(text)
    assert dump_json(load_config(text)) == text
    assert load_config(config_yaml(cfg)) == cfg


def test_partial_distribution_merges_but_a_new_dist_replaces():
    cfg = load_config(
        "base: both\n"
        "lens:\n"
        "  components:\n"
        "    - {type: SIS, name: lens, params: {theta_E: 1.2, center_x: 0, center_y: 0}}\n"
        "redshifts: {z_lens: {max: 0.7}, z_source: {dist: fixed, value: 2.0}}\n"
    )
    z = cfg.redshifts
    assert (z.z_lens.dist, z.z_lens.min, z.z_lens.max) == ("uniform", 0.2, 0.7)
    assert (z.z_source.dist, z.z_source.value) == ("fixed", 2.0)
    # a list (lens.components) replaces the preset's list as a whole
    assert [c.type for c in cfg.lens.components] == ["SIS"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("base: bth\nseed: 2\n", "base: unknown preset 'bth'; did you mean 'both'?"),
        ("base: nothing_like_it\n", "(one of default, both, shear, ellipticity)"),
        ("base: [both]\n", "base: expected a preset name"),
    ],
)
def test_bad_base_is_one_line_config_error(text, message):
    with pytest.raises(ConfigError) as info:
        load_config(text)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_bad_key_in_short_config_is_the_only_problem_reported():
    """The preset supplies every other key: no 'missing key' lines, no 'base: unknown key'."""
    with pytest.raises(ConfigError) as info:
        load_config("base: shear\nredshifts: {z_lns: 0.3}\n")
    assert str(info.value) == "redshifts.z_lns: unknown key; did you mean 'z_lens'?"
