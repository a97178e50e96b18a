"""Composite lens models: a list of components evaluated and summed.

numba has no polymorphism, so a composite model is two arrays built once by
``mocklens.models.lenses``: ``codes`` (n_comp,) int64 naming each component's profile and
``packed`` (n_comp, PACK_WIDTH) float64 holding its kernel-native parameters:

=========  ====  =====================================================================
profile    code  packed row
=========  ====  =====================================================================
EPL        1     b, t, q, cos(phi), sin(phi), center_x, center_y, n_terms
SIE        2     b, 1, q, cos(phi), sin(phi), center_x, center_y, n_terms
SIS        3     theta_E, center_x, center_y
POINT_MASS 4     theta_E, center_x, center_y
SHEAR      5     gamma1, gamma2
CONVERGENCE 6    kappa
=========  ====  =====================================================================

``b = theta_E sqrt(q)`` [arcsec], ``t = gamma - 1``; lengths in [arcsec]. ``n_terms`` is the
EPL series length (``epl_series_terms``) for the SIE too: its deflection here is closed-form,
but the EPL finder and the caustic kernel treat it as the EPL with ``t = 1``.
"""

from __future__ import annotations

import numpy as np

from mocklens.kernels._jit import jit, jit_parallel, prange
from mocklens.kernels.epl import lens_epl
from mocklens.kernels.shear import lens_convergence, lens_shear
from mocklens.kernels.sie import lens_sie
from mocklens.kernels.sis import lens_point_mass, lens_sis

CODE_EPL, CODE_SIE, CODE_SIS, CODE_POINT_MASS, CODE_SHEAR, CODE_CONVERGENCE = 1, 2, 3, 4, 5, 6
#: Width of one packed component row.
PACK_WIDTH = 8


@jit
def lens_component(x, y, code, p):
    """Evaluate one packed component.

    Parameters
    ----------
    x, y : float
        Sky position [arcsec].
    code : int
        Profile code (see module table).
    p : ndarray of float64, shape (PACK_WIDTH,)
        Packed parameters.

    Returns
    -------
    psi, alpha_x, alpha_y, f_xx, f_xy, f_yy : float
        Potential [arcsec^2], deflection [arcsec] and Hessian [dimensionless].
    """
    if code == CODE_EPL:
        return lens_epl(x, y, p[0], p[1], p[2], p[3], p[4], p[5], p[6], int(p[7]))
    if code == CODE_SIE:
        return lens_sie(x, y, p[0], p[2], p[3], p[4], p[5], p[6])
    if code == CODE_SIS:
        return lens_sis(x, y, p[0], p[1], p[2])
    if code == CODE_POINT_MASS:
        return lens_point_mass(x, y, p[0], p[1], p[2])
    if code == CODE_SHEAR:
        return lens_shear(x, y, p[0], p[1])
    if code == CODE_CONVERGENCE:
        return lens_convergence(x, y, p[0])
    return np.nan, np.nan, np.nan, np.nan, np.nan, np.nan


@jit
def lens_composite(x, y, codes, packed):
    """Sum potential, deflection and Hessian over all components.

    Parameters
    ----------
    x, y : float
        Sky position [arcsec].
    codes : ndarray of int64, shape (n_comp,)
        Profile codes.
    packed : ndarray of float64, shape (n_comp, PACK_WIDTH)
        Packed parameters, C-contiguous.

    Returns
    -------
    psi, alpha_x, alpha_y, f_xx, f_xy, f_yy : float
        Potential [arcsec^2], deflection [arcsec] and Hessian [dimensionless].
    """
    psi = 0.0
    ax = 0.0
    ay = 0.0
    fxx = 0.0
    fxy = 0.0
    fyy = 0.0
    for i in range(codes.shape[0]):
        c_psi, c_ax, c_ay, c_fxx, c_fxy, c_fyy = lens_component(x, y, codes[i], packed[i])
        psi += c_psi
        ax += c_ax
        ay += c_ay
        fxx += c_fxx
        fxy += c_fxy
        fyy += c_fyy
    return psi, ax, ay, fxx, fxy, fyy


@jit_parallel
def evaluate_batch(x, y, codes, packed, out):
    """Evaluate a composite model at many positions of one system.

    Parameters
    ----------
    x, y : ndarray of float64, shape (n,)
        Sky positions [arcsec].
    codes : ndarray of int64, shape (n_comp,)
        Profile codes.
    packed : ndarray of float64, shape (n_comp, PACK_WIDTH)
        Packed parameters.
    out : ndarray of float64, shape (6, n)
        Written in place: psi [arcsec^2], alpha_x, alpha_y [arcsec], f_xx, f_xy, f_yy.
    """
    for i in prange(x.shape[0]):
        r = lens_composite(x[i], y[i], codes, packed)
        for j in range(6):
            out[j, i] = r[j]


@jit_parallel
def raytrace_batch(x, y, codes, packed, beta_x, beta_y):
    """Shoot rays to the source plane: ``beta = theta - alpha(theta)``.

    Parameters
    ----------
    x, y : ndarray of float64, shape (n,)
        Image-plane positions [arcsec].
    codes : ndarray of int64, shape (n_comp,)
        Profile codes.
    packed : ndarray of float64, shape (n_comp, PACK_WIDTH)
        Packed parameters.
    beta_x, beta_y : ndarray of float64, shape (n,)
        Written in place: source-plane positions [arcsec].
    """
    for i in prange(x.shape[0]):
        r = lens_composite(x[i], y[i], codes, packed)
        beta_x[i] = x[i] - r[1]
        beta_y[i] = y[i] - r[2]


@jit_parallel
def raytrace_systems(x, y, codes, packed, beta_x, beta_y):
    """Shoot one ray per system: ``beta_i = theta_i - alpha_i(theta_i)``.

    Parameters
    ----------
    x, y : ndarray of float64, shape (n_sys,)
        One image-plane position per system [arcsec].
    codes : ndarray of int64, shape (n_comp,)
        Profile codes.
    packed : ndarray of float64, shape (n_sys, n_comp, PACK_WIDTH)
        Packed parameters per system.
    beta_x, beta_y : ndarray of float64, shape (n_sys,)
        Written in place: source-plane positions [arcsec].
    """
    for i in prange(x.shape[0]):
        r = lens_composite(x[i], y[i], codes, packed[i])
        beta_x[i] = x[i] - r[1]
        beta_y[i] = y[i] - r[2]
