"""Vectorised time-delay distances against astropy's own distance functions."""

import astropy.units as u
import numpy as np
import pytest
from astropy.cosmology import FlatLambdaCDM, Planck15, Planck18

from mocklens.models.cosmology import time_delay_distance

#: Hermite interpolation of the tabulated integral is good to ~1e-13; astropy's quad ~1e-12.
DISTANCE_RTOL = 1e-10


def _astropy_ddt(cosmo, zl, zs):
    dl = cosmo.angular_diameter_distance(zl)
    ds = cosmo.angular_diameter_distance(zs)
    dls = cosmo.angular_diameter_distance_z1z2(zl, zs)
    return ((1 + zl) * dl * ds / dls).to_value(u.Mpc)


@pytest.mark.parametrize("cosmo, name", [(Planck18, "Planck18"), (Planck15, "Planck15")])
def test_ddt_matches_astropy(cosmo, name):
    rng = np.random.default_rng(0)
    zl = rng.uniform(0.05, 1.5, 200)
    zs = zl + rng.uniform(0.01, 3.0, 200)
    got = time_delay_distance(zl, zs, np.full(200, cosmo.H0.value), name)
    np.testing.assert_allclose(got, _astropy_ddt(cosmo, zl, zs), rtol=DISTANCE_RTOL)


def test_per_lens_h0_scales_as_inverse_h0():
    zl, zs = np.array([0.3, 0.3]), np.array([2.0, 2.0])
    d = time_delay_distance(zl, zs, np.array([70.0, 35.0]), "Planck18")
    assert d[1] / d[0] == pytest.approx(2.0, rel=1e-14)


def test_per_lens_om0_flat_lcdm_without_radiation_matches_astropy():
    zl, zs = np.array([0.4, 0.5]), np.array([1.5, 2.5])
    om = np.array([0.25, 0.35])
    got = time_delay_distance(zl, zs, np.array([70.0, 70.0]), None, om)
    ref = [_astropy_ddt(FlatLambdaCDM(70.0, o), a, b) for o, a, b in zip(om, zl, zs, strict=True)]
    np.testing.assert_allclose(got, ref, rtol=1e-9)
