"""External shear and external convergence (mass sheet), both about the origin.

Shear (lenstronomy ``SHEAR`` with ``ra_0 = dec_0 = 0``):
``psi = (gamma1 (x**2 - y**2) + 2 gamma2 x y) / 2``.
Convergence (lenstronomy ``CONVERGENCE``): ``psi = kappa (x**2 + y**2) / 2``.
"""

from __future__ import annotations

from mocklens.kernels._jit import jit


@jit
def lens_shear(x, y, gamma1, gamma2):
    """Potential, deflection and Hessian of an external shear.

    Parameters
    ----------
    x, y : float
        Sky position [arcsec].
    gamma1, gamma2 : float
        Shear components [dimensionless].

    Returns
    -------
    psi, alpha_x, alpha_y, f_xx, f_xy, f_yy : float
        Potential [arcsec^2], deflection [arcsec] and Hessian [dimensionless].
    """
    return (
        0.5 * gamma1 * (x * x - y * y) + gamma2 * x * y,
        gamma1 * x + gamma2 * y,
        gamma2 * x - gamma1 * y,
        gamma1,
        gamma2,
        -gamma1,
    )


@jit
def lens_convergence(x, y, kappa):
    """Potential, deflection and Hessian of a uniform mass sheet.

    Parameters
    ----------
    x, y : float
        Sky position [arcsec].
    kappa : float
        Convergence [dimensionless].

    Returns
    -------
    psi, alpha_x, alpha_y, f_xx, f_xy, f_yy : float
        Potential [arcsec^2], deflection [arcsec] and Hessian [dimensionless].
    """
    return 0.5 * kappa * (x * x + y * y), kappa * x, kappa * y, kappa, 0.0, kappa
