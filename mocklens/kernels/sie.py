"""Singular isothermal ellipsoid (SIE) in closed form (Kormann, Schneider & Bartelmann 1994).

The SIE is the EPL with ``t = 1``: ``kappa = b / (2 R)``, ``R = sqrt(q**2 x**2 + y**2)``,
``b = theta_E sqrt(q)``. Summing the Tessore & Metcalf series for ``t = 1`` gives
``alpha = 2 b / sqrt(1 - q**2) * arctan(sqrt(f) exp(i phi))`` with ``f = (1 - q)/(1 + q)`` and
``phi`` the elliptical angle; in real form (using ``sqrt(1 - q**2) = sqrt(f) (1 + q)``)

    alpha_x = b / (sqrt(f) (1 + q)) * arctan(2 sqrt(f) cos(phi) / (1 - f)),
    alpha_y = b / (sqrt(f) (1 + q)) * arctanh(2 sqrt(f) sin(phi) / (1 + f)),

which has no cancellation as q -> 1 (KSB 1994, A&A 284, 285, eq. 27 in another notation).
The potential is ``x alpha_x + y alpha_y`` and the Hessian follows from
``gamma = -kappa z / conj(z)``.
"""

from __future__ import annotations

import math

from mocklens.kernels._jit import jit
from mocklens.kernels.geometry import hessian_to_sky, to_profile_frame, vector_to_sky


@jit
def lens_sie(x, y, b, q, cos_phi, sin_phi, center_x, center_y):
    """Potential, deflection and Hessian of an SIE at one sky position.

    Parameters
    ----------
    x, y : float
        Sky position [arcsec].
    b : float
        ``theta_E * sqrt(q)`` [arcsec].
    q : float
        Axis ratio, 0 < q <= 1 [dimensionless].
    cos_phi, sin_phi : float
        Cosine and sine of the major-axis position angle [dimensionless].
    center_x, center_y : float
        Centre [arcsec].

    Returns
    -------
    psi, alpha_x, alpha_y, f_xx, f_xy, f_yy : float
        Potential [arcsec^2], deflection [arcsec] and Hessian [dimensionless].
    """
    xp, yp = to_profile_frame(x, y, center_x, center_y, cos_phi, sin_phi)
    zr = q * xp
    big_r = math.hypot(zr, yp)
    if big_r == 0.0:
        return 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
    c = zr / big_r
    s = yp / big_r
    f = (1.0 - q) / (1.0 + q)
    if f == 0.0:
        ax = b * c
        ay = b * s
    else:
        sf = math.sqrt(f)
        pref = b / (sf * (1.0 + q))
        ax = pref * math.atan(2.0 * sf * c / (1.0 - f))
        ay = pref * math.atanh(2.0 * sf * s / (1.0 + f))
    psi = xp * ax + yp * ay
    kappa = 0.5 * b / big_r
    r2 = xp * xp + yp * yp
    g1 = -kappa * (xp * xp - yp * yp) / r2
    g2 = -kappa * 2.0 * xp * yp / r2
    ax, ay = vector_to_sky(ax, ay, cos_phi, sin_phi)
    fxx, fxy, fyy = hessian_to_sky(kappa + g1, g2, kappa - g1, cos_phi, sin_phi)
    return psi, ax, ay, fxx, fxy, fyy
