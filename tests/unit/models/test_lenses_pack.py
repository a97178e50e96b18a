"""Packing of EPL-like profiles: the SIE and SIS are the EPL at t = 1 for the EPL finder.

The EPL finder evaluates any EPL-like main deflector through the Tessore & Metcalf series, so
the packed series length (slot 7) must be filled for the SIE exactly as for an EPL with
gamma = 2; an SIS is the round case (one term). Issue 6: the SIE slot was left at 0, the EPL
finder then returned no image at all and the tangential caustic (``caustic`` placement) was
wrong. The SIS check passed before too (its kernel path hard-codes one term); it stays as the
round-case guard.
"""

from __future__ import annotations

import numpy as np
import pytest

from mocklens.kernels.epl import epl_series_terms
from mocklens.models.lenses import SERIES_TOLERANCE, e1e2_to_phi_q, pack
from mocklens.models.placement import caustic_polygons
from mocklens.models.solver import MODE_EPL, SolverSettings, choose_finder, solve_images

#: Same images from two packings of one mass model: positions to the Newton polish accuracy
#: [arcsec] (both are polished to ~1e-12), magnifications relative (closed-form SIE against
#: the series truncated at 1e-14).
POSITION_ATOL = 1e-9
MU_RTOL = 1e-7
N = 200


def _draw(seed):
    rng = np.random.default_rng(seed)
    q = rng.uniform(0.2, 1.0, N)
    ang = rng.uniform(0, np.pi, N)
    e = (1 - q) / (1 + q)
    g = rng.uniform(0, 0.2, N)
    gang = rng.uniform(0, np.pi, N)
    lens = dict(
        theta_E=rng.uniform(0.5, 2.0, N),
        e1=e * np.cos(2 * ang),
        e2=e * np.sin(2 * ang),
        center_x=rng.normal(0, 0.1, N),
        center_y=rng.normal(0, 0.1, N),
    )
    shear = dict(gamma1=g * np.cos(2 * gang), gamma2=g * np.sin(2 * gang))
    r = 0.8 * lens["theta_E"] * np.sqrt(rng.uniform(0, 1, N))
    a = rng.uniform(0, 2 * np.pi, N)
    return lens, shear, lens["center_x"] + r * np.cos(a), lens["center_y"] + r * np.sin(a)


def test_sie_series_length_is_packed():
    lens, shear, _, _ = _draw(1)
    packed = pack(("SIE", "SHEAR"), [lens, shear]).packed
    _, q = e1e2_to_phi_q(lens["e1"], lens["e2"])
    want = [epl_series_terms(qi, 1.0, SERIES_TOLERANCE) for qi in q]
    np.testing.assert_array_equal(packed[:, 0, 7], want)
    assert np.all(packed[:, 0, 7] >= 1)


def _same_images(a, b):
    np.testing.assert_array_equal(a.n_images, b.n_images)
    for key, tol in (("x", POSITION_ATOL), ("y", POSITION_ATOL)):
        np.testing.assert_allclose(a.values[key], b.values[key], atol=tol, rtol=0)
    np.testing.assert_allclose(a.values["mu"], b.values["mu"], rtol=MU_RTOL)


@pytest.mark.parametrize("with_shear", [False, True])
def test_sie_equals_isothermal_epl_in_the_epl_finder(with_shear):
    lens, shear, bx, by = _draw(2)
    types = ("SIE", "SHEAR") if with_shear else ("SIE",)
    params = [lens, shear] if with_shear else [lens]
    epl = dict(lens, gamma=np.full(N, 2.0))
    assert choose_finder(types)[0] == MODE_EPL
    s = SolverSettings(min_abs_mu=1e-4)
    sie_images = solve_images(pack(types, params), bx, by, max_images=6, settings=s)
    epl_images = solve_images(
        pack(("EPL",) + types[1:], [epl] + params[1:]), bx, by, max_images=6, settings=s
    )
    # sources inside 0.8 theta_E: almost every system is multiply imaged (a few of the
    # flattest lenses put the source outside their cut)
    assert np.all(sie_images.n_images >= 1) and np.mean(sie_images.n_images >= 2) > 0.95
    _same_images(sie_images, epl_images)


def test_sis_equals_round_sie():
    lens, shear, bx, by = _draw(3)
    sis = {k: lens[k] for k in ("theta_E", "center_x", "center_y")}
    round_sie = dict(sis, e1=np.zeros(N), e2=np.zeros(N))
    s = SolverSettings(min_abs_mu=1e-4)
    a = solve_images(pack(("SIS", "SHEAR"), [sis, shear]), bx, by, max_images=6, settings=s)
    b = solve_images(pack(("SIE", "SHEAR"), [round_sie, shear]), bx, by, max_images=6, settings=s)
    assert np.all(a.n_images >= 2) and np.any(a.n_images == 4)
    _same_images(a, b)


def test_sie_caustic_equals_isothermal_epl_caustic():
    # the caustic kernel also evaluates the SIE through the series (caustic placement)
    lens, shear, _, _ = _draw(4)
    epl = dict(lens, gamma=np.full(N, 2.0))
    ax, ay, a_area = caustic_polygons(pack(("SIE", "SHEAR"), [lens, shear]))
    bx, by, b_area = caustic_polygons(pack(("EPL", "SHEAR"), [epl, shear]))
    np.testing.assert_allclose(ax, bx, atol=POSITION_ATOL)
    np.testing.assert_allclose(ay, by, atol=POSITION_ATOL)
    np.testing.assert_allclose(a_area, b_area, rtol=MU_RTOL)
