"""Batched ray shooting through composite lenses, blocked so the EPL series vectorises.

The EPL (and the SIE, the EPL with ``t = 1``) deflection is evaluated for a block of
:data:`BLOCK` rays at a time: one pass computes the elliptical radius and angle of every ray of
the block, the power ``(b/R)**(t - 1)`` comes from the vectorisable :mod:`.vmath` ``exp`` and
``log``, and the Tessore & Metcalf series is summed by Horner's rule with the term loop outside
and the ray loop inside, so LLVM turns the inner loop into SIMD code. SHEAR and CONVERGENCE
are added in vector loops; SIS and POINT_MASS fall back to the scalar component kernels of
``mocklens.kernels.lens``.

The series length ``n_terms`` is the packed one (chosen from ``q``, ``t`` and a tolerance by
``mocklens.kernels.epl.epl_series_terms``), so accuracy does not fall at small ``q``.

References
----------
Tessore, N. & Metcalf, R. B. 2015, A&A 580, A79, arXiv:1507.01819, eq. 13 and 29.
"""

from __future__ import annotations

import numpy as np

from mocklens.kernels._jit import jit, jit_parallel, prange
from mocklens.kernels.epl import epl_coefficients
from mocklens.kernels.lens import (
    CODE_CONVERGENCE,
    CODE_EPL,
    CODE_SHEAR,
    CODE_SIE,
    lens_component,
)
from mocklens.kernels.render.vmath import vexp, vlog

#: Rays per block: small enough for the block's scratch rows to stay in L1 cache.
BLOCK = 64
#: Scratch rows used by :func:`_epl_block`.
SCRATCH_ROWS = 9


@jit
def _epl_block(x, y, start, m, p, coeffs, ax, ay, scr, iscr):
    """Add the deflection of one packed EPL/SIE to a block of rays.

    Parameters
    ----------
    x, y : ndarray of float64, shape (n,)
        Image-plane positions [arcsec].
    start, m : int
        The block is ``x[start:start + m]``, ``m <= BLOCK``.
    p : ndarray of float64, shape (PACK_WIDTH,)
        Packed EPL row (``b, t, q, cos_phi, sin_phi, center_x, center_y, n_terms``).
    coeffs : ndarray of float64, shape (>= n_terms,)
        Series coefficients ``c_n = a_n (-f)**n`` from ``epl_coefficients``.
    ax, ay : ndarray of float64, shape (BLOCK,)
        Deflection accumulators [arcsec], added to in place.
    scr : ndarray of float64, shape (SCRATCH_ROWS, BLOCK)
        Scratch, C-contiguous.
    iscr : ndarray of int64, shape (SCRATCH_ROWS, BLOCK)
        ``scr.view(np.int64)``.

    Notes
    -----
    ``alpha = 2 b/(1 + q) (b/R)**(t - 1) exp(i phi) sum_n c_n exp(2 i n phi)`` in the
    major-axis frame (Tessore & Metcalf 2015, eq. 13 and 29), rotated back to the sky. The
    deflection at the centre is zero, as in ``mocklens.kernels.epl``.
    """
    b = p[0]
    t = p[1]
    q = p[2]
    cp = p[3]
    sp = p[4]
    cx = p[5]
    cy = p[6]
    nt = int(p[7])
    ce = scr[0]
    se = scr[1]
    pw = scr[2]
    tmp = scr[3]
    sr = scr[4]
    si = scr[5]
    zr2 = scr[6]
    zi2 = scr[7]
    mask = scr[8]
    for j in range(m):
        dx = x[start + j] - cx
        dy = y[start + j] - cy
        xp = cp * dx + sp * dy
        yp = -sp * dx + cp * dy
        zr = q * xp
        big_r = np.sqrt(zr * zr + yp * yp)
        ok = big_r > 0.0
        rs = big_r if ok else b
        c = zr / rs
        s = yp / rs
        ce[j] = c
        se[j] = s
        zr2[j] = c * c - s * s
        zi2[j] = 2.0 * c * s
        pw[j] = b / rs
        mask[j] = 1.0 if ok else 0.0
    if t != 1.0:
        vlog(pw, iscr[2], tmp, iscr[3], m)
        for j in range(m):
            pw[j] = pw[j] * (t - 1.0)
        vexp(pw, iscr[2], tmp, m)
    else:
        for j in range(m):
            pw[j] = 1.0
    # Horner's rule in z = exp(2 i phi); |z| = 1 and |c_n| falls as f**n, so it is stable
    c_last = coeffs[nt - 1]
    for j in range(m):
        sr[j] = c_last
        si[j] = 0.0
    for k in range(nt - 2, -1, -1):
        ck = coeffs[k]
        for j in range(m):
            r = sr[j] * zr2[j] - si[j] * zi2[j] + ck
            si[j] = sr[j] * zi2[j] + si[j] * zr2[j]
            sr[j] = r
    scale = 2.0 * b / (1.0 + q)
    for j in range(m):
        c = ce[j]
        s = se[j]
        amp = scale * pw[j] * mask[j]
        axp = amp * (c * sr[j] - s * si[j])
        ayp = amp * (c * si[j] + s * sr[j])
        ax[j] += cp * axp - sp * ayp
        ay[j] += sp * axp + cp * ayp


@jit
def deflect_block(x, y, start, m, codes, packed, coeffs, ax, ay, scr, iscr):
    """Total deflection of a composite lens on one block of rays.

    Parameters
    ----------
    x, y : ndarray of float64, shape (n,)
        Image-plane positions [arcsec].
    start, m : int
        The block is ``x[start:start + m]``, ``m <= BLOCK``.
    codes : ndarray of int64, shape (n_comp,)
        Profile codes (``mocklens.kernels.lens``).
    packed : ndarray of float64, shape (n_comp, PACK_WIDTH)
        Packed parameters of one system.
    coeffs : ndarray of float64, shape (n_comp, >= max n_terms)
        EPL series coefficients per component (rows of non-EPL components unused).
    ax, ay : ndarray of float64, shape (BLOCK,)
        Written in place: deflection [arcsec].
    scr, iscr : ndarray, shape (SCRATCH_ROWS, BLOCK)
        Float64 scratch and its int64 view.
    """
    for j in range(m):
        ax[j] = 0.0
        ay[j] = 0.0
    for i in range(codes.shape[0]):
        code = codes[i]
        p = packed[i]
        if code == CODE_EPL or code == CODE_SIE:
            _epl_block(x, y, start, m, p, coeffs[i], ax, ay, scr, iscr)
        elif code == CODE_SHEAR:
            g1 = p[0]
            g2 = p[1]
            for j in range(m):
                xj = x[start + j]
                yj = y[start + j]
                ax[j] += g1 * xj + g2 * yj
                ay[j] += g2 * xj - g1 * yj
        elif code == CODE_CONVERGENCE:
            kap = p[0]
            for j in range(m):
                ax[j] += kap * x[start + j]
                ay[j] += kap * y[start + j]
        else:
            for j in range(m):
                r = lens_component(x[start + j], y[start + j], code, p)
                ax[j] += r[1]
                ay[j] += r[2]


@jit
def series_coefficients(codes, packed):
    """EPL series coefficients of every component of one system.

    Parameters
    ----------
    codes : ndarray of int64, shape (n_comp,)
        Profile codes.
    packed : ndarray of float64, shape (n_comp, PACK_WIDTH)
        Packed parameters.

    Returns
    -------
    ndarray of float64, shape (n_comp, max(n_terms))
        ``c_n`` per EPL/SIE component; other rows hold a single 1.
    """
    n_max = 1
    for i in range(codes.shape[0]):
        if codes[i] == CODE_EPL or codes[i] == CODE_SIE:
            n_max = max(n_max, int(packed[i, 7]))
    out = np.zeros((codes.shape[0], n_max))
    for i in range(codes.shape[0]):
        out[i, 0] = 1.0
        if codes[i] == CODE_EPL or codes[i] == CODE_SIE:
            epl_coefficients(packed[i, 2], packed[i, 1], int(packed[i, 7]), out[i])
    return out


@jit
def raytrace_system(x, y, codes, packed, beta_x, beta_y):
    """Shoot the rays ``x, y`` through one system: ``beta = theta - alpha(theta)``.

    Parameters
    ----------
    x, y : ndarray of float64, shape (n,)
        Image-plane positions [arcsec], C-contiguous.
    codes : ndarray of int64, shape (n_comp,)
        Profile codes.
    packed : ndarray of float64, shape (n_comp, PACK_WIDTH)
        Packed parameters of the system.
    beta_x, beta_y : ndarray of float64, shape (n,)
        Written in place: source-plane positions [arcsec].
    """
    coeffs = series_coefficients(codes, packed)
    scr = np.empty((SCRATCH_ROWS, BLOCK))
    iscr = scr.view(np.int64)
    ax = np.empty(BLOCK)
    ay = np.empty(BLOCK)
    n = x.shape[0]
    for start in range(0, n, BLOCK):
        m = min(BLOCK, n - start)
        deflect_block(x, y, start, m, codes, packed, coeffs, ax, ay, scr, iscr)
        for j in range(m):
            beta_x[start + j] = x[start + j] - ax[j]
            beta_y[start + j] = y[start + j] - ay[j]


@jit_parallel
def raytrace_grid_batch(x, y, codes, packed, beta_x, beta_y):
    """Shoot one shared set of rays through every system of a batch.

    Parameters
    ----------
    x, y : ndarray of float64, shape (n,)
        Image-plane positions shared by all systems (a pixel grid) [arcsec].
    codes : ndarray of int64, shape (n_comp,)
        Profile codes.
    packed : ndarray of float64, shape (n_sys, n_comp, PACK_WIDTH)
        Packed parameters per system.
    beta_x, beta_y : ndarray of float64, shape (n_sys, n)
        Written in place: source-plane positions [arcsec].
    """
    for i in prange(packed.shape[0]):
        raytrace_system(x, y, codes, packed[i], beta_x[i], beta_y[i])
