"""Lens-model components: validation and packing for the kernels.

A composite lens is described by its component types (``models.params.PROFILES`` names) and,
per component, a dict of lenstronomy-named parameter arrays. :func:`pack` validates them once
(finite values, bounds, shapes) and converts them to the kernel-native packed layout of
``mocklens.kernels.lens``; kernels never check their inputs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from mocklens.errors import KernelInputError
from mocklens.kernels.epl import epl_series_terms_batch
from mocklens.kernels.lens import PACK_WIDTH
from mocklens.models.params import PROFILES

#: Default relative truncation tolerance of the EPL series.
SERIES_TOLERANCE = 1e-14
#: Smallest axis ratio accepted (the EPL series needs ~1600 terms at q = 0.01).
MIN_AXIS_RATIO = 0.01


@dataclass(frozen=True)
class PackedLens:
    """A validated composite lens for a batch of systems.

    Attributes
    ----------
    types : tuple of str
        Component profile names.
    codes : ndarray of int64, shape (n_comp,)
        Kernel codes.
    packed : ndarray of float64, shape (n_sys, n_comp, PACK_WIDTH)
        Kernel-native parameters (C-contiguous).
    """

    types: tuple[str, ...]
    codes: np.ndarray
    packed: np.ndarray

    @property
    def n_systems(self) -> int:
        """Number of systems in the batch."""
        return self.packed.shape[0]

    def system(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(codes, packed[i])`` for one system."""
        return self.codes, np.ascontiguousarray(self.packed[i])


def e1e2_to_phi_q(e1: np.ndarray, e2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Position angle and axis ratio from lenstronomy ellipticity components.

    Parameters
    ----------
    e1, e2 : ndarray of float64
        lenstronomy ellipticity components [dimensionless].

    Returns
    -------
    phi : ndarray of float64
        Major-axis position angle [rad].
    q : ndarray of float64
        Axis ratio ``(1 - e)/(1 + e)``, ``e = sqrt(e1**2 + e2**2)`` [dimensionless].
    """
    e = np.hypot(e1, e2)
    return 0.5 * np.arctan2(e2, e1), (1.0 - e) / (1.0 + e)


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


def pack(
    types: Sequence[str],
    params: Sequence[Mapping[str, np.ndarray]],
    series_tolerance: float = SERIES_TOLERANCE,
) -> PackedLens:
    """Validate component parameters and pack them for the kernels.

    Parameters
    ----------
    types : sequence of str
        Profile names, e.g. ``("EPL", "SHEAR")``.
    params : sequence of mapping str -> ndarray of float64, shape (n,) or scalar
        lenstronomy-named parameters of each component.
    series_tolerance : float, optional
        Relative truncation tolerance of the EPL series [dimensionless].

    Returns
    -------
    PackedLens
        Validated, packed model.

    Raises
    ------
    KernelInputError
        On a missing parameter, a wrong shape, a non-finite value or a value outside the
        profile's bounds (e.g. theta_E <= 0, q < 0.01, gamma outside (1, 3)).
    """
    if len(types) != len(params):
        raise KernelInputError("pack: types and params differ in length")
    n = 1
    for p in params:
        for v in p.values():
            a = np.asarray(v)
            if a.ndim == 1:
                n = a.shape[0]
                break
    codes = np.empty(len(types), dtype=np.int64)
    packed = np.zeros((n, len(types), PACK_WIDTH), dtype=np.float64)
    for j, (kind, p) in enumerate(zip(types, params, strict=True)):
        if kind not in PROFILES:
            raise KernelInputError(f"component {j}: unknown profile type '{kind}'")
        spec = PROFILES[kind]
        where = f"component {j} ({kind})"
        cols = {name: _column(p, name, n, where) for name in spec.param_names}
        for ps in spec.params:
            a = cols[ps.name]
            if np.any(a <= ps.lower) or np.any(a >= ps.upper):
                raise KernelInputError(f"{where}.{ps.name}: value outside ({ps.lower}, {ps.upper})")
        codes[j] = spec.code
        row = packed[:, j, :]
        if kind in ("EPL", "SIE"):
            phi, q = e1e2_to_phi_q(cols["e1"], cols["e2"])
            if np.any(q < MIN_AXIS_RATIO):
                raise KernelInputError(f"{where}: axis ratio q below {MIN_AXIS_RATIO}")
            t = cols["gamma"] - 1.0 if kind == "EPL" else np.ones(n)
            row[:, 0] = cols["theta_E"] * np.sqrt(q)
            row[:, 1] = t
            row[:, 2] = q
            row[:, 3] = np.cos(phi)
            row[:, 4] = np.sin(phi)
            row[:, 5] = cols["center_x"]
            row[:, 6] = cols["center_y"]
            # the SIE is the EPL with t = 1: the EPL finder and the caustic kernel evaluate it
            # through the series, so its length is needed as much as for the EPL
            epl_series_terms_batch(q, t, series_tolerance, row[:, 7])
        elif kind in ("SIS", "POINT_MASS"):
            row[:, 0] = cols["theta_E"]
            row[:, 1] = cols["center_x"]
            row[:, 2] = cols["center_y"]
        elif kind == "SHEAR":
            row[:, 0] = cols["gamma1"]
            row[:, 1] = cols["gamma2"]
        elif kind == "CONVERGENCE":
            row[:, 0] = cols["kappa"]
    return PackedLens(tuple(types), codes, np.ascontiguousarray(packed))
