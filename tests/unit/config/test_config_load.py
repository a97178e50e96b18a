"""Loading from YAML/JSON, CLI overrides and canonical JSON round trips."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mocklens.config import PRESETS, config_from_dict, dump_json, load_config, resolve
from mocklens.errors import ConfigError

YAML = """
n_samples: 10
seed: 3
lens:
  components:
    - type: SIS
      params: {theta_E: {dist: loguniform, min: 0.5, max: 2}, center_x: 0, center_y: 0}
    - type: SHEAR
      params: {gamma1: 0.01, gamma2: {dist: normal, mean: 0, sd: 1e-2}}
    - type: CONVERGENCE
      params: {kappa: {dist: truncnorm, mean: 0, sd: 0.05, min: -0.2, max: 0.2}}
redshifts:
  z_lens: 0.5
  z_source: {dist: uniform, min: 1, max: 3}
cosmology: {name: FlatLambdaCDM, H0: {dist: uniform, min: 60, max: 80}, Om0: 0.3}
selection: {min_abs_mu: 1e-4}
"""


def test_yaml_text_file_and_json(tmp_path):
    cfg = load_config(YAML)
    assert [c.name for c in cfg.lens.components] == ["lens", "shear", "convergence"]
    assert cfg.selection.min_abs_mu == 1e-4  # YAML 1.1 would read "1e-4" as a string
    assert cfg.family == "custom"
    path = tmp_path / "run.yaml"
    path.write_text(YAML)
    assert load_config(path) == cfg
    assert load_config(str(path)) == cfg
    jpath = tmp_path / "run.json"
    jpath.write_text(dump_json(cfg, indent=2))
    assert load_config(jpath) == cfg


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="cannot parse"):
        load_config("a: [1, 2\nb: 3\n")
    with pytest.raises(ConfigError, match="duplicate key 'seed'"):
        load_config("seed: 1\nseed: 2\n")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_config("- 1\n- 2\n")


def test_resolve_overrides():
    cfg = PRESETS["default"]
    assert resolve(cfg) is cfg
    new = resolve(cfg, n_samples=7, seed=11)
    assert (new.n_samples, new.seed) == (7, 11)
    assert new.lens == cfg.lens
    with pytest.raises(ConfigError, match="n_samples"):
        resolve(cfg, n_samples=0)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_json_round_trip_identity(name):
    text = dump_json(PRESETS[name])
    again = dump_json(config_from_dict(json.loads(text)))
    assert again == text
    assert list(json.loads(text)) == sorted(json.loads(text))


_dists = st.one_of(
    st.floats(0.1, 2.0).map(lambda v: v),
    st.tuples(st.floats(0.1, 1.0), st.floats(0.01, 1.0)).map(
        lambda t: {"dist": "uniform", "min": t[0], "max": t[0] + t[1]}
    ),
    st.tuples(st.floats(0.5, 1.5), st.floats(0.01, 0.5)).map(
        lambda t: {"dist": "truncnorm", "mean": t[0], "sd": t[1], "min": 0.1, "max": 2.0}
    ),
    st.tuples(st.floats(0.5, 1.5), st.floats(0.01, 0.3)).map(
        lambda t: {"dist": "lognormal", "median": t[0], "sigma_dex": t[1]}
    ),
    st.tuples(st.floats(0.1, 1.0), st.floats(0.01, 1.0)).map(
        lambda t: {"dist": "loguniform", "min": t[0], "max": t[0] + t[1]}
    ),
)


@settings(max_examples=60, deadline=None)
@given(
    theta_e=_dists,
    seed=st.integers(0, 2**63),
    n=st.integers(1, 10**9),
    convention=st.sampled_from(["one_minus_q", "lenstronomy"]),
    redraw=st.sampled_from(["system", "source"]),
    placement=st.sampled_from(["image_plane", "source_plane", "caustic"]),
)
def test_json_round_trip_property(theta_e, seed, n, convention, redraw, placement):
    data = json.loads(dump_json(PRESETS["both"]))
    data["lens"]["components"][0]["params"]["theta_E"] = theta_e
    data["lens"]["components"][0]["ellipticity"]["convention"] = convention
    data.update(seed=seed, n_samples=n)
    data["selection"]["redraw"] = redraw
    data["source"]["placement"] = placement
    text = dump_json(config_from_dict(data))
    assert dump_json(config_from_dict(json.loads(text))) == text


def test_one_line_text_is_text_not_path():
    with pytest.raises(ConfigError, match="n_samples: missing key"):
        load_config("seed: 1.5")
