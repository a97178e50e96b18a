"""Validation errors of RunConfig: one line per problem, dotted location, suggestions."""

import copy
import json

import pytest
from pydantic import ValidationError

from mocklens.config import PRESETS, config_from_dict, dump_json
from mocklens.errors import ConfigError

BASE = json.loads(dump_json(PRESETS["both"]))


def _error(mutate) -> str:
    data = copy.deepcopy(BASE)
    mutate(data)
    with pytest.raises(ConfigError) as info:
        config_from_dict(data)
    msg = str(info.value)
    assert "pydantic" not in msg and "http" not in msg
    assert info.value.exit_code == 2
    return msg


def _epl(d):
    return d["lens"]["components"][0]


def test_unknown_param_key_did_you_mean():
    def m(d):
        p = _epl(d)["params"]
        p["theta_e"] = p.pop("theta_E")

    msg = _error(m)
    assert "lens.components[0].params.theta_e: unknown key; did you mean 'theta_E'?" in msg
    assert "lens.components[0] (EPL): missing parameter 'theta_E'" in msg


def test_unknown_keys_at_every_level_one_line_each():
    def m(d):
        d["selectoin"] = {}
        d["source"]["radus"] = 3.0
        _epl(d)["params"]["theta_E"]["mx"] = 2.0
        d["lens"]["components"][1]["typ"] = "SHEAR"

    lines = _error(m).splitlines()
    assert "selectoin: unknown key; did you mean 'selection'?" in lines
    assert "source.radus: unknown key; did you mean 'radius'?" in lines
    assert "lens.components[0].params.theta_E.mx: unknown key; did you mean 'max'?" in lines
    assert "lens.components[1].typ: unknown key; did you mean 'type'?" in lines
    assert len(lines) == 4


def test_unknown_distribution_and_type_and_cosmology():
    def m(d):
        d["redshifts"]["z_lens"]["dist"] = "unifrom"
        _epl(d)["type"] = "EPLL"
        d["cosmology"]["name"] = "planck18"

    msg = _error(m)
    assert "redshifts.z_lens: unknown distribution 'unifrom'; did you mean 'uniform'?" in msg
    assert "lens.components[0].type: unknown profile type 'EPLL'; did you mean 'EPL'?" in msg
    assert "cosmology.name: unknown cosmology 'planck18'; did you mean 'Planck18'?" in msg


def test_missing_parameter_message():
    msg = _error(lambda d: _epl(d)["params"].pop("gamma"))
    assert msg == "lens.components[0] (EPL): missing parameter 'gamma'"


@pytest.mark.parametrize(
    "dist",
    [
        {"dist": "uniform", "min": 2.0, "max": 1.0},
        {"dist": "truncnorm", "mean": 1.0, "sd": 0.1, "min": 2.0, "max": 1.0},
        {"dist": "loguniform", "min": 2.0, "max": 1.0},
    ],
)
def test_min_greater_than_max(dist):
    msg = _error(lambda d: _epl(d)["params"].__setitem__("theta_E", dist))
    assert msg.startswith("lens.components[0].params.theta_E: ")
    assert "min < max" in msg


@pytest.mark.parametrize(
    "dist",
    [
        -1.0,
        0.0,
        {"dist": "uniform", "min": -0.5, "max": 1.0},
        {"dist": "uniform", "min": 0.0, "max": 1.0},
    ],
)
def test_nonpositive_einstein_radius_refused(dist):
    msg = _error(lambda d: _epl(d)["params"].__setitem__("theta_E", dist))
    assert "theta_E" in msg and "(0, inf)" in msg


def test_unbounded_normal_for_theta_e_refused_with_hint():
    msg = _error(
        lambda d: _epl(d)["params"].__setitem__(
            "theta_E", {"dist": "normal", "mean": 1.2, "sd": 0.1}
        )
    )
    assert "use truncnorm" in msg


@pytest.mark.parametrize("q", [0.0, -0.1, 1.2, {"dist": "uniform", "min": 0.5, "max": 1.1}])
def test_axis_ratio_outside_0_1_refused(q):
    def m(d):
        _epl(d)["ellipticity"] = {"convention": "q", "e": q, "angle": 0.0}

    assert "lens.components[0].ellipticity.e" in _error(m)


def test_axis_ratio_one_allowed():
    data = copy.deepcopy(BASE)
    _epl(data)["ellipticity"] = {"convention": "q", "e": 1.0, "angle": 0.0}
    config_from_dict(data)


@pytest.mark.parametrize("e", [1.0, -0.1, {"dist": "uniform", "min": 0.0, "max": 1.0}])
def test_e_outside_0_1_refused(e):
    assert "ellipticity.e" in _error(lambda d: _epl(d)["ellipticity"].__setitem__("e", e))


def test_kappa_at_or_above_one_refused():
    def m(d):
        d["lens"]["components"].append({"type": "CONVERGENCE", "params": {"kappa": 1.0}})

    assert "kappa" in _error(m)


def test_ellipticity_given_twice():
    msg = _error(lambda d: _epl(d)["params"].update(e1=0.0, e2=0.0))
    assert "give either params.e1 or ellipticity, not both" in msg


def test_ellipticity_on_sis_refused():
    def m(d):
        d["lens"]["components"][0] = {
            "type": "SIS",
            "params": {"theta_E": 1.0, "center_x": 0.0, "center_y": 0.0},
            "ellipticity": {"convention": "q", "e": 0.5, "angle": 0.0},
        }

    assert "only EPL, SIE take an ellipticity" in _error(m)


def test_at_most_one_shear_and_convergence():
    def m(d):
        d["lens"]["components"].append({"type": "SHEAR", "params": {"gamma1": 0.0, "gamma2": 0.0}})

    msg = _error(m)
    assert "lens.components[2] (SHEAR): at most one SHEAR component" in msg


def test_redshift_ranges():
    def m(d):
        d["redshifts"]["z_source"] = {"dist": "uniform", "min": 0.1, "max": 0.4}

    assert "redshifts.z_source: its range must reach above the z_lens range" in _error(m)


def test_min_images_vs_output_width_and_shard_size():
    def m(d):
        d["selection"]["min_images"] = 6
        d["output"]["shard_size"] = 0

    msg = _error(m)
    assert "output.shard_size" in msg


def test_min_images_vs_output_width():
    msg = _error(lambda d: d["selection"].__setitem__("min_images", 6))
    assert msg.startswith("selection.min_images: 6 exceeds output.max_images (5)")


def test_shear_strength_tail_rule():
    # the recipe's lognormal (P(strength >= 1) ~ 4e-11) passes, a wide one does not
    wide = {"dist": "lognormal", "median": 0.5, "sigma_dex": 0.5}
    msg = _error(lambda d: d["lens"]["components"][1]["polar"].__setitem__("strength", wide))
    assert "lens.components[1].polar.strength" in msg


def test_boolean_and_bad_types():
    def m(d):
        _epl(d)["params"]["gamma"] = True
        d["seed"] = "x"

    msg = _error(m)
    assert "lens.components[0].params.gamma: a boolean is not a distribution" in msg
    assert msg.splitlines()[0].startswith("seed:")


def test_flat_lcdm_needs_values():
    msg = _error(lambda d: d["cosmology"].__setitem__("name", "FlatLambdaCDM"))
    assert "cosmology: FlatLambdaCDM needs both H0 and Om0" in msg


def test_names_default_and_auto_suffix():
    data = copy.deepcopy(BASE)
    for comp in data["lens"]["components"]:
        comp.pop("name")
    second = copy.deepcopy(data["lens"]["components"][0])
    data["lens"]["components"].append(second)
    cfg = config_from_dict(data)
    assert [c.name for c in cfg.lens.components] == ["lens", "shear", "lens_2"]
    assert cfg.lens.parameter_keys()[:2] == ["lens/theta_E", "lens/gamma"]


def test_duplicate_explicit_names_refused():
    def m(d):
        d["lens"]["components"][1]["name"] = "lens"

    assert "duplicate group name 'lens'" in _error(m)


def test_frozen():
    cfg = PRESETS["both"]
    with pytest.raises(ValidationError):
        cfg.seed = 3


def test_cosmology_table_matches_astropy():
    cosmology = pytest.importorskip("astropy.cosmology")
    from mocklens.config import COSMOLOGIES

    for name, (h0, om0) in COSMOLOGIES.items():
        ref = getattr(cosmology, name)
        assert (h0, om0) == (ref.H0.value, ref.Om0), name
