"""The one parameter specification of mocklens.

``PROFILES`` lists every lens-model component mocklens knows, with lenstronomy's profile name
(used as the config ``type`` string and written as the HDF5 group attribute ``profile``), the
kernel code used by the numba kernels, and each parameter's lenstronomy name, unit and bounds.
``COLUMNS`` lists every per-sample quantity stored in a dataset besides the lens parameters.
The config model, the HDF5 layout and ``schemas/catalog.schema.json`` are all derived from
these two tables; ``tests/unit/test_params.py`` checks that they agree.

Units: angles on the sky in [arcsec], position angles in [rad], time delays in [days],
distances in [Mpc], H0 in [km/s/Mpc].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ParamSpec:
    """One stored parameter.

    Attributes
    ----------
    name : str
        HDF5 dataset name, exactly as lenstronomy names the keyword argument.
    unit : str
        Unit string written to the ``units`` attribute.
    lower, upper : float
        Open bounds of the physically allowed range (``-inf``/``inf`` if unbounded).
    description : str
        One-line meaning, written to the ``description`` attribute.
    """

    name: str
    unit: str
    lower: float
    upper: float
    description: str


@dataclass(frozen=True)
class ProfileSpec:
    """A lens-model component type.

    Attributes
    ----------
    type : str
        lenstronomy profile name; also the config ``type`` string.
    code : int
        Integer tag the numba kernels dispatch on (see ``mocklens.kernels.lens``).
    params : tuple of ParamSpec
        Stored parameters, in lenstronomy keyword order.
    default_group : str
        HDF5 group name used when the config does not name the component.
    """

    type: str
    code: int
    params: tuple[ParamSpec, ...]
    default_group: str

    @property
    def param_names(self) -> tuple[str, ...]:
        """Names of the stored parameters, in order."""
        return tuple(p.name for p in self.params)


_INF = float("inf")
_CX = ParamSpec("center_x", "arcsec", -_INF, _INF, "x of the profile centre")
_CY = ParamSpec("center_y", "arcsec", -_INF, _INF, "y of the profile centre")
_THETA_E = ParamSpec("theta_E", "arcsec", 0.0, _INF, "Einstein radius (lenstronomy convention)")
_E1 = ParamSpec("e1", "dimensionless", -1.0, 1.0, "ellipticity (1-q)/(1+q) cos(2 phi)")
_E2 = ParamSpec("e2", "dimensionless", -1.0, 1.0, "ellipticity (1-q)/(1+q) sin(2 phi)")

#: Kernel codes; keep in sync with ``mocklens.kernels.lens``.
CODE_EPL, CODE_SIE, CODE_SIS, CODE_POINT_MASS, CODE_SHEAR, CODE_CONVERGENCE = 1, 2, 3, 4, 5, 6

PROFILES: dict[str, ProfileSpec] = {
    "EPL": ProfileSpec(
        "EPL",
        CODE_EPL,
        (
            _THETA_E,
            ParamSpec(
                "gamma", "dimensionless", 1.0, 3.0, "3D logarithmic density slope (2 = isothermal)"
            ),
            _E1,
            _E2,
            _CX,
            _CY,
        ),
        "lens",
    ),
    "SIE": ProfileSpec("SIE", CODE_SIE, (_THETA_E, _E1, _E2, _CX, _CY), "lens"),
    "SIS": ProfileSpec("SIS", CODE_SIS, (_THETA_E, _CX, _CY), "lens"),
    "POINT_MASS": ProfileSpec("POINT_MASS", CODE_POINT_MASS, (_THETA_E, _CX, _CY), "lens"),
    "SHEAR": ProfileSpec(
        "SHEAR",
        CODE_SHEAR,
        (
            ParamSpec(
                "gamma1",
                "dimensionless",
                -1.0,
                1.0,
                "external shear 1 (about the origin)",
            ),
            ParamSpec(
                "gamma2",
                "dimensionless",
                -1.0,
                1.0,
                "external shear 2 (about the origin)",
            ),
        ),
        "shear",
    ),
    "CONVERGENCE": ProfileSpec(
        "CONVERGENCE",
        CODE_CONVERGENCE,
        (ParamSpec("kappa", "dimensionless", -_INF, 1.0, "external convergence (mass sheet)"),),
        "convergence",
    ),
}

#: Per-lens system quantities stored in the main deflector group ``/lens``.
SYSTEM_COLUMNS: tuple[ParamSpec, ...] = (
    ParamSpec("z_lens", "dimensionless", 0.0, _INF, "lens redshift"),
    ParamSpec("z_source", "dimensionless", 0.0, _INF, "source redshift"),
    ParamSpec("D_dt", "Mpc", 0.0, _INF, "time-delay distance (1+z_l) D_l D_s / D_ls"),
    ParamSpec("H0", "km/s/Mpc", 0.0, _INF, "Hubble constant used for this lens"),
)

#: Per-lens source quantities stored in ``/source``.
SOURCE_COLUMNS: tuple[ParamSpec, ...] = (
    ParamSpec("x", "arcsec", -_INF, _INF, "source-plane x of the point source"),
    ParamSpec("y", "arcsec", -_INF, _INF, "source-plane y of the point source"),
    ParamSpec("area", "arcsec^2", 0.0, _INF, "area of the region the placement sampled"),
    ParamSpec(
        "density",
        "arcsec^-2",
        0.0,
        _INF,
        "probability density of the drawn source position per source-plane area; "
        "weight by 1/(density*area) for a population uniform in that region",
    ),
)

#: Per-image quantities stored in ``/point`` as (N, K) arrays padded with NaN (or 0 for ints).
IMAGE_COLUMNS: tuple[ParamSpec, ...] = (
    ParamSpec("x", "arcsec", -_INF, _INF, "image x"),
    ParamSpec("y", "arcsec", -_INF, _INF, "image y"),
    ParamSpec("mu", "dimensionless", -_INF, _INF, "signed magnification 1/det(A)"),
    ParamSpec("dt", "days", 0.0, _INF, "time delay relative to the first-arriving image"),
    ParamSpec("fermat", "arcsec^2", -_INF, _INF, "Fermat potential |x-beta|^2/2 - psi"),
    ParamSpec("psi", "arcsec^2", -_INF, _INF, "lensing potential at the image"),
    ParamSpec("alpha_x", "arcsec", -_INF, _INF, "total deflection x at the image"),
    ParamSpec("alpha_y", "arcsec", -_INF, _INF, "total deflection y at the image"),
    ParamSpec("residual", "arcsec", 0.0, _INF, "lens-equation residual |x - alpha(x) - beta|"),
)

#: Integer per-image columns: (name, dtype, description). Padding value 0.
IMAGE_INT_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("parity", "int8", "sign of mu: +1 or -1; 0 = no image"),
    ("type", "int8", "1 = minimum, 2 = saddle, 3 = maximum of the Fermat potential; 0 = no image"),
)

#: Image-type codes as stored in ``/point/type``.
IMAGE_TYPE_NONE, IMAGE_TYPE_MINIMUM, IMAGE_TYPE_SADDLE, IMAGE_TYPE_MAXIMUM = 0, 1, 2, 3


def profile(type_name: str) -> ProfileSpec:
    """Return the spec of a profile type.

    Parameters
    ----------
    type_name : str
        lenstronomy profile name, e.g. ``"EPL"``.

    Returns
    -------
    ProfileSpec
        The matching spec.

    Raises
    ------
    KeyError
        If the type is unknown.
    """
    return PROFILES[type_name]


def float_dtype() -> np.dtype:
    """Return the dtype of every stored float column (float64)."""
    return np.dtype(np.float64)
