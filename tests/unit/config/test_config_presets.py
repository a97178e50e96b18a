"""Presets: the originating recipe and its commented YAML."""

import math

import pytest
import yaml

from mocklens.config import PRESETS, dump_json, get_preset, load_config, preset_yaml
from mocklens.errors import ConfigError


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_preset_yaml_loads_back_exactly(name):
    cfg = load_config(preset_yaml(name))
    assert cfg == PRESETS[name]
    assert dump_json(cfg) == dump_json(PRESETS[name])


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_preset_yaml_every_key_commented(name):
    text = preset_yaml(name)
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            assert "  # " in line, line
    # plain YAML 1.1 readers get the same numbers too (no "1e-10" strings)
    plain = yaml.safe_load(text)
    assert plain["solver"]["tolerance"] == 1e-10


def test_default_is_originating_recipe():
    cfg = PRESETS["default"]
    assert cfg == PRESETS["both"]
    epl, shear = cfg.lens.components
    assert (epl.type, epl.name, shear.type, shear.name) == ("EPL", "lens", "SHEAR", "shear")
    assert epl.params["gamma"].value == 2.0
    assert (epl.params["theta_E"].min, epl.params["theta_E"].max) == (1.0, 1.5)
    e = epl.ellipticity
    assert e.convention == "one_minus_q"
    assert (e.e.dist, e.e.mean, e.e.sd, e.e.min, e.e.max) == ("truncnorm", 0.3, 0.16, 0.0, 0.9)
    assert (e.angle.min, e.angle.max) == (0.0, math.pi)
    s = shear.polar.strength
    assert (s.dist, s.median, s.sigma_dex) == ("lognormal", 0.05, 0.2)
    z = cfg.redshifts
    assert (z.z_lens.min, z.z_lens.max, z.z_source.min, z.z_source.max) == (0.2, 0.5, 1.0, 3.0)
    assert cfg.cosmology.name == "Planck18"
    assert (cfg.source.placement, cfg.source.radius) == ("image_plane", 4.0)
    assert (cfg.selection.min_abs_mu, cfg.selection.min_images) == (1e-4, 1)


def test_families_share_columns():
    keys = {name: cfg.lens.parameter_keys() for name, cfg in PRESETS.items()}
    assert len({tuple(k) for k in keys.values()}) == 1
    assert PRESETS["shear"].lens.components[0].ellipticity.e.value == 0.0
    assert PRESETS["ellipticity"].lens.components[1].polar.strength.value == 0.0
    assert {c.family for c in PRESETS.values()} == {"both", "shear", "ellipticity"}


def test_unknown_preset():
    with pytest.raises(ConfigError, match="unknown preset"):
        get_preset("nope")
