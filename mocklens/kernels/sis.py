"""Singular isothermal sphere and point mass (axisymmetric closed forms).

SIS: ``psi = theta_E r``, ``alpha = theta_E x / r``, ``kappa = theta_E / (2 r)``.
Point mass: ``psi = theta_E**2 ln r``, ``alpha = theta_E**2 x / r**2``, ``kappa = 0`` off centre.
"""

from __future__ import annotations

import math

from mocklens.kernels._jit import jit


@jit
def lens_sis(x, y, theta_e, center_x, center_y):
    """Potential, deflection and Hessian of an SIS.

    Parameters
    ----------
    x, y : float
        Sky position [arcsec].
    theta_e : float
        Einstein radius [arcsec].
    center_x, center_y : float
        Centre [arcsec].

    Returns
    -------
    psi, alpha_x, alpha_y, f_xx, f_xy, f_yy : float
        Potential [arcsec^2], deflection [arcsec] and Hessian [dimensionless]; zero at the centre.
    """
    dx = x - center_x
    dy = y - center_y
    r = math.hypot(dx, dy)
    if r == 0.0:
        return 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
    r3 = r * r * r
    return (
        theta_e * r,
        theta_e * dx / r,
        theta_e * dy / r,
        theta_e * dy * dy / r3,
        -theta_e * dx * dy / r3,
        theta_e * dx * dx / r3,
    )


@jit
def lens_point_mass(x, y, theta_e, center_x, center_y):
    """Potential, deflection and Hessian of a point mass.

    Parameters
    ----------
    x, y : float
        Sky position [arcsec].
    theta_e : float
        Einstein radius [arcsec].
    center_x, center_y : float
        Centre [arcsec].

    Returns
    -------
    psi, alpha_x, alpha_y, f_xx, f_xy, f_yy : float
        Potential [arcsec^2], deflection [arcsec] and Hessian [dimensionless]; zero at the centre.
    """
    dx = x - center_x
    dy = y - center_y
    r2 = dx * dx + dy * dy
    if r2 == 0.0:
        return 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
    t2 = theta_e * theta_e
    r4 = r2 * r2
    return (
        0.5 * t2 * math.log(r2),
        t2 * dx / r2,
        t2 * dy / r2,
        t2 * (dy * dy - dx * dx) / r4,
        -2.0 * t2 * dx * dy / r4,
        t2 * (dx * dx - dy * dy) / r4,
    )
