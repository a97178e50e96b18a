"""Inverse-CDF samplers against scipy.stats."""

import numpy as np
import pytest
from scipy import stats

from mocklens.config.distributions import (
    Fixed,
    LogNormal,
    LogUniform,
    Normal,
    TruncNorm,
    Uniform,
)
from mocklens.priors.distributions import SAMPLERS, sample, standard_truncnorm
from mocklens.priors.random import root_key, uniform

KS_P_MIN = 1e-3  # see test_priors_random
N = 50_000


def _u(seed=1):
    return uniform(root_key(seed), np.arange(N, dtype=np.int64), 17, 0)


CASES = [
    (Uniform(dist="uniform", min=1.0, max=1.5), stats.uniform(1.0, 0.5)),
    (Normal(dist="normal", mean=2.0, sd=0.3), stats.norm(2.0, 0.3)),
    (
        TruncNorm(dist="truncnorm", mean=0.3, sd=0.16, min=0.0, max=0.9),
        stats.truncnorm((0.0 - 0.3) / 0.16, (0.9 - 0.3) / 0.16, 0.3, 0.16),
    ),
    (
        LogNormal(dist="lognormal", median=0.05, sigma_dex=0.2),
        stats.lognorm(s=0.2 * np.log(10.0), scale=0.05),
    ),
    (LogUniform(dist="loguniform", min=0.01, max=10.0), stats.loguniform(0.01, 10.0)),
]


@pytest.mark.parametrize(("dist", "ref"), CASES, ids=lambda c: getattr(c, "dist", ""))
def test_against_scipy(dist, ref):
    x = sample(dist, _u())
    assert stats.kstest(x, ref.cdf).pvalue > KS_P_MIN
    lo, hi = dist.support()
    assert np.all((x >= lo) & (x <= hi))


def test_registry_covers_every_dist():
    from mocklens.config.distributions import DISTRIBUTIONS

    assert set(SAMPLERS) == set(DISTRIBUTIONS)


def test_fixed():
    np.testing.assert_array_equal(sample(Fixed(dist="fixed", value=2.5), _u()[:3]), [2.5] * 3)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (5.0, 7.0),
        (30.0, 40.0),
        (-40.0, -30.0),
        (8.0, np.inf),
        (-np.inf, -8.0),
        (-0.5, 1.0),
        (-1e-3, 1e-3),
    ],
)
def test_truncnorm_tails(a, b):
    u = _u(3)
    x = standard_truncnorm(a, b, u)
    assert np.all(np.isfinite(x)) and np.all((x >= a) & (x <= b))
    order = np.argsort(u)
    assert np.all(np.diff(x[order]) >= 0)  # monotone in u
    if max(abs(a), abs(b)) < 37:  # scipy.stats.truncnorm is reliable in this range
        assert stats.kstest(x, stats.truncnorm(a, b).cdf).pvalue > KS_P_MIN
    else:  # far tail: mean of N(0,1) beyond a is ~ a + 1/a
        edge = a if a > 0 else b
        assert abs(abs(np.mean(x)) - (abs(edge) + 1 / abs(edge))) < 1e-2


def test_truncnorm_extreme_uniforms():
    u = np.array([2.0**-53, 0.5, 1 - 2.0**-53])
    for a, b in [(0.0, 1.0), (10.0, 12.0), (-12.0, -10.0), (-3.0, 3.0)]:
        x = standard_truncnorm(a, b, u)
        assert np.all((x >= a) & (x <= b)) and np.all(np.isfinite(x))
