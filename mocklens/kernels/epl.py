"""Elliptical power-law (EPL) convergence profile after Tessore & Metcalf (2015).

The profile, in its major-axis frame, is

    kappa(R) = (2 - t)/2 * (b / R)**t,   R = sqrt(q**2 x**2 + y**2),   t = gamma - 1,

with lenstronomy's ``b = theta_E * sqrt(q)``. With the elliptical angle ``phi`` defined by
``q x = R cos(phi)``, ``y = R sin(phi)``, the complex deflection is (Tessore & Metcalf 2015,
arXiv:1507.01819, eq. 13 and 29)

    alpha = 2 b / (1 + q) * (b / R)**(t - 1) * Omega(phi),
    Omega(phi) = exp(i phi) * sum_n a_n (-f exp(2 i phi))**n,   f = (1 - q)/(1 + q),
    a_0 = 1,  a_n = a_{n-1} (2n - 2 + t)/(2n + 2 - t),

which is the hypergeometric series 2F1(1, t/2; 2 - t/2; -f exp(2 i phi)). The potential is
``psi = (x alpha_x + y alpha_y)/(2 - t)`` (eq. 15) and the complex shear is
``gamma = -kappa z/conj(z) + (1 - t) alpha/conj(z)`` (eq. 17).

The series length is not fixed: :func:`epl_series_terms` picks it from ``q``, ``t`` and a
tolerance (about 11 terms at q = 0.8, 160 at q = 0.1 for 1e-14), because a fixed length fails
below q ~ 0.25.
"""

from __future__ import annotations

import math

from mocklens.kernels._jit import jit
from mocklens.kernels.geometry import hessian_to_sky, to_profile_frame, vector_to_sky

#: Hard cap on the series length (q = 0.01 needs ~1600 terms at 1e-14).
MAX_SERIES_TERMS = 4096


@jit
def epl_series_terms(q, t, tolerance):
    """Choose the EPL series length for a relative truncation tolerance.

    Parameters
    ----------
    q : float
        Axis ratio, 0 < q <= 1 [dimensionless].
    t : float
        Convergence slope ``gamma - 1``, 0 < t < 2 [dimensionless].
    tolerance : float
        Bound on the neglected tail relative to the leading term [dimensionless].

    Returns
    -------
    int
        Number of terms ``N`` (including ``a_0``).

    Notes
    -----
    ``|a_n| <= f**n`` and the ratio of successive terms is below ``f``, so the tail after
    term ``n`` is below ``|a_n| f / (1 - f)``.
    """
    f = (1.0 - q) / (1.0 + q)
    if f <= 0.0:
        return 1
    a = 1.0
    n = 0
    while n < MAX_SERIES_TERMS - 1:
        n += 1
        a *= (2.0 * n - 2.0 + t) / (2.0 * n + 2.0 - t) * f
        if a * f / (1.0 - f) < tolerance:
            break
    return n + 1


@jit
def omega_epl(cos_ell, sin_ell, q, t, n_terms):
    """Angular factor ``Omega(phi)`` of the EPL deflection.

    Parameters
    ----------
    cos_ell, sin_ell : float
        Cosine and sine of the elliptical angle ``phi`` [dimensionless].
    q, t : float
        Axis ratio and slope ``gamma - 1`` [dimensionless].
    n_terms : int
        Series length from :func:`epl_series_terms`.

    Returns
    -------
    omega_re, omega_im : float
        Real and imaginary part of ``Omega`` [dimensionless].
    """
    f = (1.0 - q) / (1.0 + q)
    zr = -f * (cos_ell * cos_ell - sin_ell * sin_ell)
    zi = -f * 2.0 * cos_ell * sin_ell
    term_r = 1.0
    term_i = 0.0
    sum_r = 1.0
    sum_i = 0.0
    for n in range(1, n_terms):
        ratio = (2.0 * n - 2.0 + t) / (2.0 * n + 2.0 - t)
        tr = (term_r * zr - term_i * zi) * ratio
        term_i = (term_r * zi + term_i * zr) * ratio
        term_r = tr
        sum_r += term_r
        sum_i += term_i
    return cos_ell * sum_r - sin_ell * sum_i, cos_ell * sum_i + sin_ell * sum_r


@jit
def epl_coefficients(q, t, n_terms, out):
    """Fill the series coefficients ``c_n = a_n (-f)**n`` of ``Omega``.

    Parameters
    ----------
    q, t : float
        Axis ratio and slope ``gamma - 1`` [dimensionless].
    n_terms : int
        Series length.
    out : ndarray of float64, shape (>= n_terms,)
        Written in place.
    """
    f = (1.0 - q) / (1.0 + q)
    out[0] = 1.0
    for n in range(1, n_terms):
        out[n] = -out[n - 1] * f * (2.0 * n - 2.0 + t) / (2.0 * n + 2.0 - t)


@jit
def omega_from_coefficients(cos_ell, sin_ell, coeffs, n_terms):
    """``Omega(phi)`` from precomputed coefficients (see :func:`epl_coefficients`).

    Parameters
    ----------
    cos_ell, sin_ell : float
        Cosine and sine of the elliptical angle [dimensionless].
    coeffs : ndarray of float64, shape (>= n_terms,)
        Series coefficients.
    n_terms : int
        Series length.

    Returns
    -------
    omega_re, omega_im : float
        Real and imaginary part of ``Omega`` [dimensionless].

    Notes
    -----
    The powers ``exp(2 i n phi)`` come from a rotation recurrence: no division or
    transcendental call per term, unlike the coefficient recurrence of :func:`omega_epl`.
    """
    zr = cos_ell * cos_ell - sin_ell * sin_ell
    zi = 2.0 * cos_ell * sin_ell
    pr = 1.0
    pi = 0.0
    sr = coeffs[0]
    si = 0.0
    for n in range(1, n_terms):
        tr = pr * zr - pi * zi
        pi = pr * zi + pi * zr
        pr = tr
        sr += coeffs[n] * pr
        si += coeffs[n] * pi
    return cos_ell * sr - sin_ell * si, cos_ell * si + sin_ell * sr


@jit
def epl_from_omega(xp, yp, big_r, om_r, om_i, b, t, q):
    """Potential, deflection and Hessian of an EPL in its frame, given ``Omega``.

    Parameters
    ----------
    xp, yp : float
        Position in the major-axis frame [arcsec], not the centre.
    big_r : float
        Elliptical radius ``sqrt(q**2 xp**2 + yp**2)`` [arcsec].
    om_r, om_i : float
        ``Omega`` at the position's elliptical angle [dimensionless].
    b, t, q : float
        Scale [arcsec], slope ``gamma - 1`` and axis ratio.

    Returns
    -------
    psi, ax, ay, fxx, fxy, fyy : float
        Potential [arcsec^2], deflection [arcsec], Hessian [dimensionless].
    """
    ratio = b / big_r
    scale = 2.0 * b / (1.0 + q) * ratio ** (t - 1.0)
    ax = scale * om_r
    ay = scale * om_i
    psi = (xp * ax + yp * ay) / (2.0 - t)
    kappa = 0.5 * (2.0 - t) * ratio**t
    r2 = xp * xp + yp * yp
    g1 = (-kappa * (xp * xp - yp * yp) + (1.0 - t) * (ax * xp - ay * yp)) / r2
    g2 = (-kappa * 2.0 * xp * yp + (1.0 - t) * (ax * yp + ay * xp)) / r2
    return psi, ax, ay, kappa + g1, g2, kappa - g1


@jit
def _epl_major_axis(xp, yp, b, t, q, n_terms):
    """Potential, deflection and Hessian of an EPL in its major-axis frame.

    Parameters
    ----------
    xp, yp : float
        Position in the major-axis frame [arcsec].
    b, t, q : float
        Scale ``theta_E sqrt(q)`` [arcsec], slope ``gamma - 1`` and axis ratio.
    n_terms : int
        Series length.

    Returns
    -------
    psi, ax, ay, fxx, fxy, fyy : float
        Potential [arcsec^2], deflection [arcsec], Hessian [dimensionless]; zero at the centre.
    """
    zr = q * xp
    big_r = math.hypot(zr, yp)
    if big_r == 0.0:
        return 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
    om_r, om_i = omega_epl(zr / big_r, yp / big_r, q, t, n_terms)
    return epl_from_omega(xp, yp, big_r, om_r, om_i, b, t, q)


@jit
def lens_epl(x, y, b, t, q, cos_phi, sin_phi, center_x, center_y, n_terms):
    """Potential, deflection and Hessian of an EPL at one sky position.

    Parameters
    ----------
    x, y : float
        Sky position [arcsec].
    b : float
        ``theta_E * sqrt(q)`` [arcsec].
    t : float
        ``gamma - 1``, 0 < t < 2 [dimensionless].
    q : float
        Axis ratio, 0 < q <= 1 [dimensionless].
    cos_phi, sin_phi : float
        Cosine and sine of the major-axis position angle [dimensionless].
    center_x, center_y : float
        Centre [arcsec].
    n_terms : int
        Series length from :func:`epl_series_terms`.

    Returns
    -------
    psi, alpha_x, alpha_y, f_xx, f_xy, f_yy : float
        Potential [arcsec^2], deflection [arcsec] and Hessian [dimensionless].
    """
    xp, yp = to_profile_frame(x, y, center_x, center_y, cos_phi, sin_phi)
    psi, ax, ay, fxx, fxy, fyy = _epl_major_axis(xp, yp, b, t, q, n_terms)
    ax, ay = vector_to_sky(ax, ay, cos_phi, sin_phi)
    fxx, fxy, fyy = hessian_to_sky(fxx, fxy, fyy, cos_phi, sin_phi)
    return psi, ax, ay, fxx, fxy, fyy


@jit
def deflection_epl(x, y, b, t, q, cos_phi, sin_phi, center_x, center_y, n_terms):
    """Deflection of an EPL; parameters as in :func:`lens_epl`.

    Returns
    -------
    alpha_x, alpha_y : float
        Deflection [arcsec].
    """
    out = lens_epl(x, y, b, t, q, cos_phi, sin_phi, center_x, center_y, n_terms)
    return out[1], out[2]


@jit
def convergence_epl(x, y, b, t, q, cos_phi, sin_phi, center_x, center_y):
    """Convergence ``(2 - t)/2 (b/R)**t`` of an EPL; parameters as in :func:`lens_epl`.

    Returns
    -------
    float
        Convergence [dimensionless] (``inf`` at the centre).
    """
    xp, yp = to_profile_frame(x, y, center_x, center_y, cos_phi, sin_phi)
    big_r = math.hypot(q * xp, yp)
    if big_r == 0.0:
        return math.inf
    return 0.5 * (2.0 - t) * (b / big_r) ** t


@jit
def epl_series_terms_batch(q, t, tolerance, out):
    """Vectorised :func:`epl_series_terms`.

    Parameters
    ----------
    q, t : ndarray of float64, shape (n,)
        Axis ratios and slopes ``gamma - 1`` [dimensionless].
    tolerance : float
        Relative truncation tolerance [dimensionless].
    out : ndarray of float64, shape (n,)
        Written in place: series lengths (stored as float for the packed layout).
    """
    for i in range(q.shape[0]):
        out[i] = epl_series_terms(q[i], t[i], tolerance)
