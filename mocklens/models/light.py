"""Light models: validation and packing for the rendering kernels; magnitudes and fluxes.

Profiles use lenstronomy's names and meanings (``SERSIC_ELLIPSE`` of lenstronomy 1.14.2:
``amp`` is the surface brightness at ``R = R_sersic`` [flux/arcsec^2], see
``mocklens.kernels.render.light``), so stored labels mean the same in both codes.

Flux unit: whatever unit ``amp`` carries; ``mocklens.models`` uses counts/s [ADU/s], with a
zero point ``zp`` [mag] defined as the magnitude of a source giving 1 count/s:
``m = zp - 2.5 log10(flux)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import gamma as gamma_function

from mocklens.errors import KernelInputError
from mocklens.kernels.render.light import CODE_SERSIC, LIGHT_WIDTH, SERSIC_R_FLOOR

#: Light profile name -> (kernel code, parameter names).
LIGHT_PROFILES = {
    "SERSIC_ELLIPSE": (
        CODE_SERSIC,
        ("amp", "R_sersic", "n_sersic", "e1", "e2", "center_x", "center_y"),
    ),
}
#: Sersic index range accepted (lenstronomy's default bounds).
SERSIC_N_RANGE = (0.2, 10.0)
#: Largest ellipticity modulus |e| accepted (q = (1 - |e|)/(1 + |e|) >= 0.01).
MAX_LIGHT_ELLIPTICITY = 0.98


@dataclass(frozen=True)
class PackedLight:
    """A validated composite light model for a batch of systems.

    Attributes
    ----------
    types : tuple of str
        Profile names.
    codes : ndarray of int64, shape (n_comp,)
        Kernel codes.
    packed : ndarray of float64, shape (n_sys, n_comp, LIGHT_WIDTH)
        Kernel-native parameters (C-contiguous).
    """

    types: tuple[str, ...]
    codes: np.ndarray
    packed: np.ndarray

    @property
    def n_systems(self) -> int:
        """Number of systems in the batch."""
        return self.packed.shape[0]


def sersic_b_n(n_sersic):
    """Lenstronomy's ``b_n = 1.9992 n - 0.3271`` (floored at 1e-5) [dimensionless]."""
    return np.maximum(1.9992 * np.asarray(n_sersic, dtype=np.float64) - 0.3271, 1e-5)


def sersic_total_flux(amp, r_sersic, n_sersic):
    """Total flux of a Sersic profile (lenstronomy ``SERSIC_ELLIPSE`` convention).

    Parameters
    ----------
    amp : array_like of float64
        Surface brightness at ``R = R_sersic`` [flux/arcsec^2].
    r_sersic : array_like of float64
        Sersic radius (product-average radius of the ellipse) [arcsec].
    n_sersic : array_like of float64
        Sersic index [dimensionless].

    Returns
    -------
    ndarray of float64
        ``amp 2 pi n R**2 exp(b_n) b_n**(-2 n) Gamma(2 n)`` [flux]; the ellipticity does not
        enter because ``R`` is the product-average radius.
    """
    n = np.asarray(n_sersic, dtype=np.float64)
    bn = sersic_b_n(n)
    r = np.asarray(r_sersic, dtype=np.float64)
    shape = np.exp(bn) * bn ** (-2.0 * n) * gamma_function(2.0 * n)
    return np.asarray(amp) * 2.0 * np.pi * n * r**2 * shape


def flux_from_magnitude(mag, zero_point):
    """Flux [counts/s] of a magnitude: ``10**(-0.4 (mag - zp))``.

    Parameters
    ----------
    mag : array_like of float64
        Magnitude [mag].
    zero_point : float
        Magnitude of 1 count/s [mag].

    Returns
    -------
    ndarray of float64
        Flux [counts/s].
    """
    if zero_point is None or not np.isfinite(zero_point):
        raise KernelInputError("a magnitude needs a finite zero point (zero_point)")
    return 10.0 ** (-0.4 * (np.asarray(mag, dtype=np.float64) - zero_point))


def magnitude_from_flux(flux, zero_point):
    """Magnitude [mag] of a flux [counts/s] (``inf`` for zero flux)."""
    with np.errstate(divide="ignore"):
        return zero_point - 2.5 * np.log10(np.asarray(flux, dtype=np.float64))


def sersic_amp_from_magnitude(mag, zero_point, r_sersic, n_sersic):
    """``amp`` [counts/s/arcsec^2] of a Sersic profile of total magnitude ``mag``.

    Parameters
    ----------
    mag : array_like of float64
        Total magnitude [mag].
    zero_point : float
        Magnitude of 1 count/s [mag].
    r_sersic, n_sersic : array_like of float64
        Sersic radius [arcsec] and index [dimensionless].

    Returns
    -------
    ndarray of float64
        Surface brightness at ``R_sersic`` [counts/s/arcsec^2].
    """
    return flux_from_magnitude(mag, zero_point) / sersic_total_flux(1.0, r_sersic, n_sersic)


def point_image_flux(source_flux, mu):
    """Flux of each lensed image: source flux x |mu|.

    Parameters
    ----------
    source_flux : ndarray of float64, shape (n,)
        Unlensed point-source flux [counts/s].
    mu : ndarray of float64, shape (n, K)
        Signed magnifications, NaN padded [dimensionless].

    Returns
    -------
    ndarray of float64, shape (n, K)
        Image fluxes [counts/s], NaN where ``mu`` is.
    """
    return np.asarray(source_flux, dtype=np.float64)[:, None] * np.abs(mu)


def _column(params: Mapping[str, np.ndarray], name: str, n: int, where: str) -> np.ndarray:
    if name not in params:
        raise KernelInputError(f"{where}: missing parameter '{name}'")
    a = np.asarray(params[name], dtype=np.float64)
    if a.ndim == 0:
        a = np.full(n, float(a))
    if a.shape != (n,):
        raise KernelInputError(f"{where}.{name}: shape {a.shape}, expected ({n},)")
    if not np.all(np.isfinite(a)):
        raise KernelInputError(f"{where}.{name}: non-finite value")
    return a


def pack_light(
    types: Sequence[str], params: Sequence[Mapping[str, np.ndarray]], n: int | None = None
) -> PackedLight:
    """Validate light-profile parameters and pack them for the kernels.

    Parameters
    ----------
    types : sequence of str
        Profile names (``"SERSIC_ELLIPSE"``).
    params : sequence of mapping str -> ndarray of float64, shape (n,) or scalar
        lenstronomy-named parameters of each component (``amp`` [flux/arcsec^2],
        ``R_sersic`` [arcsec], ``n_sersic``, ``e1``, ``e2``, ``center_x``, ``center_y``
        [arcsec]).
    n : int, optional
        Number of systems (needed when every parameter is a scalar; default: from the arrays,
        else 1).

    Returns
    -------
    PackedLight
        Validated, packed model.

    Raises
    ------
    KernelInputError
        On an unknown profile, a missing parameter, a wrong shape, a non-finite value, a
        negative amplitude, ``R_sersic <= 0``, ``n_sersic`` outside :data:`SERSIC_N_RANGE` or
        ``|e| > MAX_LIGHT_ELLIPTICITY``.
    """
    if len(types) != len(params):
        raise KernelInputError("pack_light: types and params differ in length")
    if n is None:
        n = 1
        for p in params:
            for v in p.values():
                if np.ndim(v) == 1:
                    n = len(v)
                    break
    codes = np.empty(len(types), dtype=np.int64)
    packed = np.zeros((n, len(types), LIGHT_WIDTH))
    for j, (kind, p) in enumerate(zip(types, params, strict=True)):
        if kind not in LIGHT_PROFILES:
            names = ", ".join(LIGHT_PROFILES)
            raise KernelInputError(
                f"light component {j}: unknown profile '{kind}' (known: {names})"
            )
        code, names = LIGHT_PROFILES[kind]
        where = f"light component {j} ({kind})"
        c = {name: _column(p, name, n, where) for name in names}
        if np.any(c["amp"] < 0):
            raise KernelInputError(f"{where}.amp: negative amplitude")
        if np.any(c["R_sersic"] <= 0):
            raise KernelInputError(f"{where}.R_sersic: must be > 0 arcsec")
        lo, hi = SERSIC_N_RANGE
        if np.any(c["n_sersic"] < lo) or np.any(c["n_sersic"] > hi):
            raise KernelInputError(f"{where}.n_sersic: outside [{lo}, {hi}]")
        e1, e2 = c["e1"], c["e2"]
        if np.any(np.hypot(e1, e2) > MAX_LIGHT_ELLIPTICITY):
            raise KernelInputError(f"{where}: ellipticity |e| above {MAX_LIGHT_ELLIPTICITY}")
        norm = np.sqrt(np.maximum(np.abs(1.0 - e1**2 - e2**2), 1e-6))
        codes[j] = code
        row = packed[:, j, :]
        row[:, 0] = c["amp"]
        row[:, 1] = np.maximum(c["R_sersic"], SERSIC_R_FLOOR)
        row[:, 2] = 1.0 / c["n_sersic"]
        row[:, 3] = sersic_b_n(c["n_sersic"])
        row[:, 4] = (1.0 - e1) / norm
        row[:, 5] = -e2 / norm
        row[:, 6] = (1.0 + e1) / norm
        row[:, 7] = c["center_x"]
        row[:, 8] = c["center_y"]
    return PackedLight(tuple(types), codes, np.ascontiguousarray(packed))


def no_light(n: int) -> PackedLight:
    """Return an empty light model for ``n`` systems (nothing is rendered)."""
    return PackedLight((), np.empty(0, dtype=np.int64), np.zeros((n, 0, LIGHT_WIDTH)))
