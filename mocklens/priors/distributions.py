"""Inverse-CDF sampling of the configuration's distributions from given uniforms.

Each sampler maps uniforms ``u`` strictly inside (0, 1) (from :mod:`mocklens.priors.random`)
to draws, so a draw is a pure function of its uniform. Samplers are looked up in
:data:`SAMPLERS` by the ``dist`` string.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.special import log_ndtr, ndtr, ndtri, ndtri_exp

from mocklens.config.distributions import (
    DistModel,
    Fixed,
    LogNormal,
    LogUniform,
    Normal,
    TruncNorm,
    Uniform,
)


def _fixed(d: Fixed, u: np.ndarray) -> np.ndarray:
    return np.full(u.shape, d.value, dtype=np.float64)


def _uniform(d: Uniform, u: np.ndarray) -> np.ndarray:
    return np.clip(d.min + (d.max - d.min) * u, d.min, d.max)


def _normal(d: Normal, u: np.ndarray) -> np.ndarray:
    return d.mean + d.sd * ndtri(u)


def _lognormal(d: LogNormal, u: np.ndarray) -> np.ndarray:
    return d.median * 10.0 ** (d.sigma_dex * ndtri(u))


def _loguniform(d: LogUniform, u: np.ndarray) -> np.ndarray:
    lo, hi = np.log(d.min), np.log(d.max)
    return np.clip(np.exp(lo + (hi - lo) * u), d.min, d.max)


def _upper_tail(a: float, b: float, u: np.ndarray) -> np.ndarray:
    """Sample a standard normal truncated to ``[a, b]`` with ``0 <= a``, in log space.

    ``x = -Phi^-1(Phi(-a) - u (Phi(-a) - Phi(-b)))``; with ``la = log Phi(-a)`` and
    ``lb = log Phi(-b)`` the argument is ``exp(la + log1p(-u (1 - exp(lb - la))))``, which
    neither underflows nor cancels even for ``a`` of several tens.
    """
    la, lb = log_ndtr(-a), log_ndtr(-b)
    y = la + np.log1p(u * np.expm1(lb - la))
    return -ndtri_exp(y)


def standard_truncnorm(a: float, b: float, u: np.ndarray) -> np.ndarray:
    """Return standard normal draws truncated to ``[a, b]`` by inverse CDF.

    Parameters
    ----------
    a, b : float
        Truncation points in units of sd, ``a < b`` (may be +-inf) [dimensionless].
    u : ndarray of float64, shape (n,)
        Uniforms in (0, 1) [dimensionless].

    Returns
    -------
    ndarray of float64, shape (n,)
        Draws in ``[a, b]``, monotonically increasing in ``u`` [dimensionless].

    Notes
    -----
    Accurate in both tails: an interval above the mean is sampled through the upper-tail
    (survival) function in log space, one below the mean through the mirror image
    ``x -> -x``, and an interval straddling the mean directly through ``Phi``.
    """
    u = np.asarray(u, dtype=np.float64)
    if a >= 0.0:
        x = _upper_tail(a, b, u)
    elif b <= 0.0:
        x = -_upper_tail(-b, -a, 1.0 - u)
    else:
        pa, pb = ndtr(a), ndtr(b)
        x = ndtri(pa + u * (pb - pa))
    return np.clip(x, a, b)


def _truncnorm(d: TruncNorm, u: np.ndarray) -> np.ndarray:
    a, b = (d.min - d.mean) / d.sd, (d.max - d.mean) / d.sd
    return np.clip(d.mean + d.sd * standard_truncnorm(a, b, u), d.min, d.max)


#: Inverse-CDF samplers keyed by the ``dist`` string.
SAMPLERS: dict[str, Callable[[DistModel, np.ndarray], np.ndarray]] = {
    "fixed": _fixed,
    "uniform": _uniform,
    "normal": _normal,
    "truncnorm": _truncnorm,
    "lognormal": _lognormal,
    "loguniform": _loguniform,
}


def sample(dist: DistModel, u: np.ndarray) -> np.ndarray:
    """Map uniforms to draws of ``dist`` by its inverse CDF.

    Parameters
    ----------
    dist : DistModel
        A validated distribution model from :mod:`mocklens.config.distributions`.
    u : ndarray of float64, shape (n,)
        Uniforms strictly inside (0, 1) [dimensionless].

    Returns
    -------
    ndarray of float64, shape (n,)
        Draws inside ``dist.support()``, in the unit of the parameter.
    """
    return SAMPLERS[dist.dist](dist, np.asarray(u, dtype=np.float64))
