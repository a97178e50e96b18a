"""Pure-NumPy twins of the mocklens lens kernels (the stumpy ``naive.py`` pattern).

Everything here is vectorised, obvious and slow, and deliberately written in a different
algebraic form from ``mocklens.kernels``: complex arithmetic throughout (``z = x + i y``),
rotations as multiplications by ``exp(i phi)`` (spin 1) and ``exp(2 i phi)`` (spin 2) instead
of rotation matrices, the EPL angular factor from ``scipy.special.hyp2f1`` instead of a
truncated recurrence, and the SIE in Kormann et al.'s ``arctan``/``arctanh`` of
``sqrt(1 - q**2)`` form instead of the kernel's ``sqrt(f)`` form.

Each profile function returns a dict with keys ``psi`` [arcsec^2], ``alpha_x``, ``alpha_y``
[arcsec], ``f_xx``, ``f_xy``, ``f_yy`` [dimensionless] and ``kappa`` [dimensionless], each an
ndarray of the broadcast shape of the inputs.

Hessians: for every profile the Hessian is built analytically from the convergence and the
complex shear ``gamma = gamma1 + i gamma2`` as ``f_xx = kappa + gamma1``,
``f_yy = kappa - gamma1``, ``f_xy = gamma2``. For the EPL the complex shear is Tessore &
Metcalf (2015, arXiv:1507.01819) eq. 17, ``gamma = -kappa z/conj(z) + (1 - t) alpha/conj(z)``
(in the elliptical frame, ``z`` the frame position). The unit tests check every analytic
Hessian independently against central finite differences of the deflection.

Conventions follow lenstronomy: ``b = theta_E sqrt(q)``, ``R = sqrt(q**2 x**2 + y**2)`` in the
major-axis frame, ``t = gamma - 1``, ``e = (1 - q)/(1 + q)``, ``e1 = e cos 2 phi``,
``e2 = e sin 2 phi``; external shear and convergence act about the origin.
"""

from __future__ import annotations

import numpy as np
from scipy.special import hyp2f1

_KEYS = ("psi", "alpha_x", "alpha_y", "f_xx", "f_xy", "f_yy")


def _pack(psi, alpha, kappa, gamma):
    """Turn complex deflection and shear into the output dict."""
    psi = np.asarray(psi, dtype=np.float64)
    alpha = np.asarray(alpha, dtype=np.complex128)
    kappa = np.asarray(kappa, dtype=np.float64)
    gamma = np.asarray(gamma, dtype=np.complex128)
    return {
        "psi": psi,
        "alpha_x": alpha.real,
        "alpha_y": alpha.imag,
        "f_xx": kappa + gamma.real,
        "f_xy": gamma.imag,
        "f_yy": kappa - gamma.real,
        "kappa": kappa,
    }


def _frame(x, y, center_x, center_y, phi):
    """Complex position in the profile frame: ``(z - c) exp(-i phi)``."""
    z = (np.asarray(x, dtype=np.float64) - center_x) + 1j * (
        np.asarray(y, dtype=np.float64) - center_y
    )
    return z * np.exp(-1j * phi)


def omega_epl(phi_ell, q, t):
    """EPL angular factor ``exp(i phi) 2F1(1, t/2; 2 - t/2; -f exp(2 i phi))``.

    Parameters
    ----------
    phi_ell : ndarray of float64
        Elliptical angle [rad].
    q, t : float
        Axis ratio and slope ``gamma - 1`` [dimensionless].

    Returns
    -------
    ndarray of complex128
        ``Omega`` (Tessore & Metcalf 2015, eq. 13/29) [dimensionless].
    """
    f = (1.0 - q) / (1.0 + q)
    e2 = np.exp(2j * np.asarray(phi_ell))
    return np.exp(1j * np.asarray(phi_ell)) * hyp2f1(1.0, 0.5 * t, 2.0 - 0.5 * t, -f * e2)


def epl(x, y, b, t, q, phi, center_x, center_y):
    """Elliptical power law via the closed hypergeometric form (Tessore & Metcalf 2015).

    Parameters
    ----------
    x, y : ndarray of float64
        Sky positions [arcsec].
    b : float
        ``theta_E sqrt(q)`` [arcsec].
    t : float
        ``gamma - 1`` in (0, 2) [dimensionless].
    q : float
        Axis ratio in (0, 1] [dimensionless].
    phi : float
        Major-axis position angle [rad].
    center_x, center_y : float
        Centre [arcsec].

    Returns
    -------
    dict of str -> ndarray of float64
        See module docstring.

    Notes
    -----
    ``kappa = (2 - t)/2 (b/R)**t``,
    ``alpha = 2 b/(1 + q) (b/R)**(t - 1) exp(i phi_e) 2F1(1, t/2; 2 - t/2; -f exp(2 i phi_e))``
    with ``q x = R cos phi_e``, ``y = R sin phi_e``, ``f = (1 - q)/(1 + q)`` (eq. 13),
    ``psi = Re(conj(z) alpha)/(2 - t)`` (eq. 15), ``gamma`` from eq. 17.
    """
    z = _frame(x, y, center_x, center_y, phi)
    big_r = np.abs(q * z.real + 1j * z.imag)
    phi_e = np.angle(q * z.real + 1j * z.imag)
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = 2.0 * b / (1.0 + q) * (b / big_r) ** (t - 1.0) * omega_epl(phi_e, q, t)
        kappa = 0.5 * (2.0 - t) * (b / big_r) ** t
        psi = (np.conj(z) * alpha).real / (2.0 - t)
        gamma = -kappa * z / np.conj(z) + (1.0 - t) * alpha / np.conj(z)
    rot = np.exp(1j * phi)
    return _pack(psi, alpha * rot, kappa, gamma * rot**2)


def sie(x, y, b, q, phi, center_x, center_y):
    """Singular isothermal ellipsoid in the Kormann, Schneider & Bartelmann (1994) form.

    Parameters
    ----------
    x, y : ndarray of float64
        Sky positions [arcsec].
    b : float
        ``theta_E sqrt(q)`` [arcsec].
    q : float
        Axis ratio in (0, 1] [dimensionless].
    phi : float
        Major-axis position angle [rad].
    center_x, center_y : float
        Centre [arcsec].

    Returns
    -------
    dict of str -> ndarray of float64
        See module docstring.

    Notes
    -----
    With ``s = sqrt(1 - q**2)`` and ``R = sqrt(q**2 x**2 + y**2)`` (frame coordinates),
    ``alpha_x = b/s arctan(s x / R)``, ``alpha_y = b/s arctanh(s y / R)`` (KSB 1994, A&A 284,
    285; the ``q -> 1`` limit ``b (x, y)/r`` is taken separately), ``kappa = b/(2R)``,
    ``psi = x alpha_x + y alpha_y`` and ``gamma = -kappa z/conj(z)``.
    """
    z = _frame(x, y, center_x, center_y, phi)
    xf = z.real
    yf = z.imag
    big_r = np.hypot(q * xf, yf)
    with np.errstate(divide="ignore", invalid="ignore"):
        if q == 1.0:
            alpha = b * z / np.abs(z)
        else:
            s = np.sqrt(1.0 - q * q)
            alpha = b / s * (np.arctan(s * xf / big_r) + 1j * np.arctanh(s * yf / big_r))
        kappa = 0.5 * b / big_r
        gamma = -kappa * z / np.conj(z)
    psi = xf * alpha.real + yf * alpha.imag
    rot = np.exp(1j * phi)
    return _pack(psi, alpha * rot, kappa, gamma * rot**2)


def sis(x, y, theta_e, center_x, center_y):
    """Singular isothermal sphere: ``psi = theta_E |z|``, ``alpha = theta_E z/|z|``.

    Parameters
    ----------
    x, y : ndarray of float64
        Sky positions [arcsec].
    theta_e : float
        Einstein radius [arcsec].
    center_x, center_y : float
        Centre [arcsec].

    Returns
    -------
    dict of str -> ndarray of float64
        See module docstring; ``kappa = theta_E/(2|z|)``, ``gamma = -kappa z/conj(z)``.
    """
    z = _frame(x, y, center_x, center_y, 0.0)
    r = np.abs(z)
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = 0.5 * theta_e / r
        return _pack(theta_e * r, theta_e * z / r, kappa, -kappa * z / np.conj(z))


def point_mass(x, y, theta_e, center_x, center_y):
    """Point mass: ``psi = theta_E**2 ln|z|``, ``alpha = theta_E**2/conj(z)``.

    Parameters
    ----------
    x, y : ndarray of float64
        Sky positions [arcsec].
    theta_e : float
        Einstein radius [arcsec].
    center_x, center_y : float
        Centre [arcsec].

    Returns
    -------
    dict of str -> ndarray of float64
        See module docstring; ``kappa = 0``, ``gamma = -theta_E**2/conj(z)**2``.
    """
    z = _frame(x, y, center_x, center_y, 0.0)
    t2 = theta_e * theta_e
    with np.errstate(divide="ignore", invalid="ignore"):
        return _pack(
            t2 * np.log(np.abs(z)), t2 / np.conj(z), np.zeros(z.shape), -t2 / np.conj(z) ** 2
        )


def shear(x, y, gamma1, gamma2):
    """External shear about the origin: ``psi = Re(conj(g) z**2)/2``, ``alpha = g conj(z)``.

    Parameters
    ----------
    x, y : ndarray of float64
        Sky positions [arcsec].
    gamma1, gamma2 : float
        Shear components [dimensionless].

    Returns
    -------
    dict of str -> ndarray of float64
        See module docstring.
    """
    z = _frame(x, y, 0.0, 0.0, 0.0)
    g = gamma1 + 1j * gamma2
    return _pack(
        0.5 * (np.conj(g) * z * z).real, g * np.conj(z), np.zeros(z.shape), np.full(z.shape, g)
    )


def convergence(x, y, kappa):
    """Uniform mass sheet: ``psi = kappa |z|**2/2``, ``alpha = kappa z``.

    Parameters
    ----------
    x, y : ndarray of float64
        Sky positions [arcsec].
    kappa : float
        Convergence [dimensionless].

    Returns
    -------
    dict of str -> ndarray of float64
        See module docstring.
    """
    z = _frame(x, y, 0.0, 0.0, 0.0)
    return _pack(
        0.5 * kappa * np.abs(z) ** 2,
        kappa * z,
        np.full(z.shape, float(kappa)),
        np.zeros(z.shape, dtype=np.complex128),
    )


def phi_q_from_e1e2(e1, e2):
    """Major-axis angle [rad] and axis ratio from lenstronomy's ``(e1, e2)``."""
    e = np.hypot(e1, e2)
    return 0.5 * np.arctan2(e2, e1), (1.0 - e) / (1.0 + e)


def component(x, y, kind, kw):
    """Evaluate one component given lenstronomy's profile name and keyword arguments.

    Parameters
    ----------
    x, y : ndarray of float64
        Sky positions [arcsec].
    kind : str
        ``EPL``, ``SIE``, ``SIS``, ``POINT_MASS``, ``SHEAR`` or ``CONVERGENCE``.
    kw : mapping str -> float
        lenstronomy-named parameters of one system.

    Returns
    -------
    dict of str -> ndarray of float64
        See module docstring.
    """
    if kind in ("EPL", "SIE"):
        phi, q = phi_q_from_e1e2(kw["e1"], kw["e2"])
        b = kw["theta_E"] * np.sqrt(q)
        if kind == "SIE":
            return sie(x, y, b, q, phi, kw["center_x"], kw["center_y"])
        return epl(x, y, b, kw["gamma"] - 1.0, q, phi, kw["center_x"], kw["center_y"])
    if kind == "SIS":
        return sis(x, y, kw["theta_E"], kw["center_x"], kw["center_y"])
    if kind == "POINT_MASS":
        return point_mass(x, y, kw["theta_E"], kw["center_x"], kw["center_y"])
    if kind == "SHEAR":
        return shear(x, y, kw["gamma1"], kw["gamma2"])
    if kind == "CONVERGENCE":
        return convergence(x, y, kw["kappa"])
    raise ValueError(f"unknown profile {kind!r}")


def composite(x, y, kinds, kwargs_list):
    """Sum of all components (potential, deflection, Hessian and convergence).

    Parameters
    ----------
    x, y : ndarray of float64
        Sky positions [arcsec].
    kinds : sequence of str
        Profile names.
    kwargs_list : sequence of mapping str -> float
        lenstronomy-named parameters of one system, one mapping per component.

    Returns
    -------
    dict of str -> ndarray of float64
        See module docstring.
    """
    total = None
    for kind, kw in zip(kinds, kwargs_list, strict=True):
        part = component(x, y, kind, kw)
        total = part if total is None else {k: total[k] + part[k] for k in total}
    return total


def raytrace(x, y, kinds, kwargs_list):
    """Ray shooting ``beta = theta - alpha(theta)``.

    Parameters
    ----------
    x, y : ndarray of float64
        Image-plane positions [arcsec].
    kinds, kwargs_list
        As in :func:`composite`.

    Returns
    -------
    beta_x, beta_y : ndarray of float64
        Source-plane positions [arcsec].
    """
    d = composite(x, y, kinds, kwargs_list)
    return np.asarray(x) - d["alpha_x"], np.asarray(y) - d["alpha_y"]


def magnification(x, y, kinds, kwargs_list):
    """Signed magnification ``1/det(I - Hessian)`` [dimensionless]."""
    d = composite(x, y, kinds, kwargs_list)
    return 1.0 / ((1.0 - d["f_xx"]) * (1.0 - d["f_yy"]) - d["f_xy"] ** 2)


def fermat(x, y, beta_x, beta_y, kinds, kwargs_list):
    """Fermat potential ``|theta - beta|**2/2 - psi`` [arcsec^2]."""
    d = composite(x, y, kinds, kwargs_list)
    return 0.5 * ((np.asarray(x) - beta_x) ** 2 + (np.asarray(y) - beta_y) ** 2) - d["psi"]


KEYS = _KEYS
