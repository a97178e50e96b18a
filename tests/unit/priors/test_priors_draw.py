"""draw_lenses: keys, determinism under any split, attempts, z ordering, conventions."""

import json

import numpy as np
import pytest

from mocklens.config import PRESETS, config_from_dict, dump_json
from mocklens.models.ellipticity import e1e2_to_q_phi, shear_cartesian_to_polar
from mocklens.priors import draw_lenses, draw_placement_uniforms, stream_id
from mocklens.priors.draw import stream_paths

CFG = PRESETS["both"]


def test_keys_and_order():
    out = draw_lenses(CFG, np.arange(5, dtype=np.int64), 0)
    assert list(out) == [*CFG.lens.parameter_keys(), "lens/z_lens", "lens/z_source", "lens/H0"]
    assert all(v.shape == (5,) and v.dtype == np.float64 for v in out.values())
    np.testing.assert_array_equal(out["lens/H0"], 67.66)
    np.testing.assert_array_equal(out["lens/gamma"], 2.0)


def test_same_index_same_values_any_split_and_order():
    idx = np.arange(2000, dtype=np.int64)
    att = (idx % 4).astype(np.int64)
    whole = draw_lenses(CFG, idx, att)
    perm = np.random.default_rng(1).permutation(idx.size)
    shuffled = draw_lenses(CFG, idx[perm], att[perm])
    parts = [draw_lenses(CFG, idx[a:b], att[a:b]) for a, b in [(0, 3), (3, 1000), (1000, 2000)]]
    for key, val in whole.items():
        np.testing.assert_array_equal(shuffled[key], val[perm])
        np.testing.assert_array_equal(np.concatenate([p[key] for p in parts]), val)


def test_attempt_changes_values_and_seed_matters():
    idx = np.arange(100, dtype=np.int64)
    a0, a1 = draw_lenses(CFG, idx, 0), draw_lenses(CFG, idx, 1)
    for key in ("lens/theta_E", "lens/e1", "shear/gamma1", "lens/z_lens", "lens/z_source"):
        assert not np.any(a0[key] == a1[key]), key
    other = config_from_dict({**json.loads(dump_json(CFG)), "seed": 2})
    assert not np.any(draw_lenses(other, idx, 0)["lens/theta_E"] == a0["lens/theta_E"])


def test_ranges_and_recipe_conventions():
    out = draw_lenses(CFG, np.arange(20000, dtype=np.int64), 0)
    assert np.all((out["lens/theta_E"] >= 1.0) & (out["lens/theta_E"] <= 1.5))
    q, _ = e1e2_to_q_phi(out["lens/e1"], out["lens/e2"])
    e = 1.0 - q  # research convention
    assert np.all((e >= -1e-12) & (e <= 0.9 + 1e-12))
    strength, _ = shear_cartesian_to_polar(out["shear/gamma1"], out["shear/gamma2"])
    # lognormal median 0.05: half the draws below (binomial sd ~ 0.0035)
    assert abs(np.mean(strength < 0.05) - 0.5) < 0.02
    assert np.all(out["lens/z_source"] > out["lens/z_lens"] + 1e-3)


def test_z_source_redraw_is_deterministic():
    data = json.loads(dump_json(CFG))
    data["redshifts"] = {
        "z_lens": {"dist": "uniform", "min": 0.5, "max": 2.0},
        "z_source": {"dist": "uniform", "min": 0.6, "max": 2.5},
    }
    cfg = config_from_dict(data)
    idx = np.arange(5000, dtype=np.int64)
    out = draw_lenses(cfg, idx, 0)
    assert np.all(out["lens/z_source"] > out["lens/z_lens"] + 1e-3)
    again = draw_lenses(cfg, idx[::-1].copy(), 0)
    np.testing.assert_array_equal(again["lens/z_source"], out["lens/z_source"][::-1])


def test_single_effect_families():
    idx = np.arange(50, dtype=np.int64)
    shear = draw_lenses(PRESETS["shear"], idx, 0)
    np.testing.assert_array_equal(shear["lens/e1"], 0.0)
    np.testing.assert_array_equal(shear["lens/e2"], 0.0)
    ell = draw_lenses(PRESETS["ellipticity"], idx, 0)
    np.testing.assert_array_equal(ell["shear/gamma1"], 0.0)
    # streams are per variable: the shared variables have identical values across families
    np.testing.assert_array_equal(ell["lens/theta_E"], draw_lenses(CFG, idx, 0)["lens/theta_E"])


def test_adding_a_component_does_not_shift_other_streams():
    data = json.loads(dump_json(CFG))
    data["lens"]["components"].append(
        {"type": "CONVERGENCE", "params": {"kappa": {"dist": "uniform", "min": -0.1, "max": 0.1}}}
    )
    idx = np.arange(100, dtype=np.int64)
    more = draw_lenses(config_from_dict(data), idx, 0)
    base = draw_lenses(CFG, idx, 0)
    for key, val in base.items():
        np.testing.assert_array_equal(more[key], val)
    assert "convergence/kappa" in more


@pytest.mark.parametrize("convention", ["lenstronomy", "q"])
def test_ellipticity_conventions(convention):
    data = json.loads(dump_json(CFG))
    e = 0.2 if convention == "lenstronomy" else 0.6
    data["lens"]["components"][0]["ellipticity"] = {"convention": convention, "e": e, "angle": 0.3}
    out = draw_lenses(config_from_dict(data), np.arange(3, dtype=np.int64), 0)
    q, phi = e1e2_to_q_phi(out["lens/e1"], out["lens/e2"])
    np.testing.assert_allclose(q, (1 - 0.2) / 1.2 if convention == "lenstronomy" else 0.6)
    np.testing.assert_allclose(phi, 0.3)


def test_sampled_cosmology():
    data = json.loads(dump_json(CFG))
    data["cosmology"] = {
        "name": "FlatLambdaCDM",
        "H0": {"dist": "uniform", "min": 60.0, "max": 80.0},
        "Om0": 0.3,
    }
    out = draw_lenses(config_from_dict(data), np.arange(1000, dtype=np.int64), 0)
    assert np.all((out["lens/H0"] >= 60) & (out["lens/H0"] <= 80)) and np.ptp(out["lens/H0"]) > 10
    np.testing.assert_array_equal(out["lens/Om0"], 0.3)


def test_placement_uniforms():
    idx = np.arange(1000, dtype=np.int64)
    u1, u2 = draw_placement_uniforms(CFG, idx, 0)
    v1, v2 = draw_placement_uniforms(CFG, idx[500:], 0)
    np.testing.assert_array_equal(u1[500:], v1)
    np.testing.assert_array_equal(u2[500:], v2)
    w1, _ = draw_placement_uniforms(CFG, idx, 1)
    assert not np.any(w1 == u1)
    assert np.all((u1 > 0) & (u1 < 1) & (u2 > 0) & (u2 < 1))


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_stream_ids_distinct(name):
    ids = [stream_id(p) for p in stream_paths(PRESETS[name])]
    assert len(ids) == len(set(ids))
