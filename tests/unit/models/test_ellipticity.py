"""Ellipticity and shear conversions against lenstronomy.Util.param_util."""

import numpy as np
import pytest
from lenstronomy.Util import param_util

from mocklens.models.ellipticity import (
    e1e2_to_q_phi,
    e1e2_to_research,
    q_phi_to_e1e2,
    research_to_e1e2,
    shear_cartesian_to_polar,
    shear_polar_to_cartesian,
)

#: Round trips and cross-checks are a few float64 operations: 1e-12 absolute is ample.
ATOL = 1e-12

rng = np.random.default_rng(0)
Q = rng.uniform(0.1, 1.0, 500)
PHI = rng.uniform(-np.pi / 2, np.pi / 2, 500)


def test_matches_lenstronomy_phi_q2_ellipticity():
    e1, e2 = q_phi_to_e1e2(Q, PHI)
    r1, r2 = param_util.phi_q2_ellipticity(PHI, Q)
    np.testing.assert_allclose(e1, r1, atol=ATOL)
    np.testing.assert_allclose(e2, r2, atol=ATOL)
    q, phi = e1e2_to_q_phi(e1, e2)
    lphi, lq = param_util.ellipticity2phi_q(e1, e2)
    np.testing.assert_allclose(q, lq, atol=ATOL)
    np.testing.assert_allclose(phi, lphi, atol=ATOL)


def test_round_trip_q_phi():
    q, phi = e1e2_to_q_phi(*q_phi_to_e1e2(Q, PHI))
    np.testing.assert_allclose(q, Q, atol=ATOL)
    # phi is defined modulo pi
    np.testing.assert_allclose(np.cos(2 * phi), np.cos(2 * PHI), atol=1e-9)
    np.testing.assert_allclose(np.sin(2 * phi), np.sin(2 * PHI), atol=1e-9)


def test_round_q_gives_zero():
    e1, e2 = q_phi_to_e1e2(np.ones(3), np.array([0.0, 1.0, 2.0]))
    np.testing.assert_array_equal(e1, 0.0)
    np.testing.assert_array_equal(e2, 0.0)
    ec, es = research_to_e1e2(np.zeros(2), np.zeros(2))
    np.testing.assert_array_equal(ec, 0.0)
    np.testing.assert_array_equal(es, 0.0)


def test_research_convention():
    e = 1.0 - Q
    ec, es = e * np.cos(2 * PHI), e * np.sin(2 * PHI)
    e1, e2 = research_to_e1e2(ec, es)
    r1, r2 = param_util.phi_q2_ellipticity(PHI, Q)
    np.testing.assert_allclose(e1, r1, atol=ATOL)
    np.testing.assert_allclose(e2, r2, atol=ATOL)
    back = e1e2_to_research(e1, e2)
    np.testing.assert_allclose(back[0], ec, atol=ATOL)
    np.testing.assert_allclose(back[1], es, atol=ATOL)


@pytest.mark.parametrize("strength", [0.0, 0.05, 0.3])
def test_shear_matches_lenstronomy(strength):
    g = np.full(PHI.shape, strength)
    g1, g2 = shear_polar_to_cartesian(g, PHI)
    r1, r2 = param_util.shear_polar2cartesian(PHI, g)
    np.testing.assert_allclose(g1, r1, atol=ATOL)
    np.testing.assert_allclose(g2, r2, atol=ATOL)
    s, phi = shear_cartesian_to_polar(g1, g2)
    lphi, ls = param_util.shear_cartesian2polar(g1, g2)
    np.testing.assert_allclose(s, ls, atol=ATOL)
    if strength:
        np.testing.assert_allclose(np.cos(2 * phi), np.cos(2 * lphi), atol=1e-9)
