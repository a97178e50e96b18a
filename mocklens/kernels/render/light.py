"""Surface brightness of light profiles, blocked and vectorised like the ray shooting.

Light models are packed like lens models: ``codes`` (n_comp,) and ``packed``
(n_sys, n_comp, LIGHT_WIDTH), built and validated by ``mocklens.models.light``.

=========  ====  ========================================================================
profile    code  packed row
=========  ====  ========================================================================
SERSIC     1     amp, R_sersic, 1/n, b_n, a11, a12, a22, center_x, center_y
=========  ====  ========================================================================

``SERSIC`` is lenstronomy's ``SERSIC_ELLIPSE`` (1.14.2): ``I = amp exp(-b_n ((R/R_sersic)**(1/n)
- 1))`` [flux/arcsec^2] with ``R = sqrt(x'**2 + y'**2)``, ``(x', y') = A (x - c)`` and
``A = [[1 - e1, -e2], [-e2, 1 + e1]] / sqrt(1 - e1**2 - e2**2)``, i.e.
``R = sqrt(q x_maj**2 + y_min**2 / q)`` with ``q = (1 - |e|)/(1 + |e|)``; ``b_n = 1.9992 n -
0.3271``; ``R`` and ``R_sersic`` floored at 1e-4 arcsec; zero where ``R/R_sersic > 1000``.
"""

from __future__ import annotations

import numpy as np

from mocklens.kernels._jit import jit
from mocklens.kernels.render.vmath import vexp, vlog

CODE_SERSIC = 1
#: Width of one packed light row.
LIGHT_WIDTH = 9
#: lenstronomy's floor on R and R_sersic [arcsec].
SERSIC_R_FLOOR = 1e-4
#: lenstronomy's ``max_R_frac``: zero beyond this many R_sersic.
SERSIC_MAX_R_FRAC = 1000.0
#: Exponents below this give exactly zero (``exp`` would underflow anyway).
_EXP_FLOOR = -700.0
#: Scratch rows used by :func:`light_block`.
LIGHT_SCRATCH_ROWS = 4


@jit
def _sersic_block(x, y, start, m, p, out, scr, iscr):
    """Add one packed Sersic profile on a block of positions.

    Parameters
    ----------
    x, y : ndarray of float64, shape (n,)
        Positions [arcsec] (image plane for lens light, source plane for the source).
    start, m : int
        The block is ``x[start:start + m]``.
    p : ndarray of float64, shape (LIGHT_WIDTH,)
        Packed Sersic row.
    out : ndarray of float64, shape (>= m,)
        Surface brightness [flux/arcsec^2], added to in place.
    scr, iscr : ndarray, shape (LIGHT_SCRATCH_ROWS, >= m)
        Float64 scratch and its int64 view.
    """
    amp = p[0]
    r_s = p[1]
    inv_n = p[2]
    bn = p[3]
    a11 = p[4]
    a12 = p[5]
    a22 = p[6]
    cx = p[7]
    cy = p[8]
    w = scr[0]
    tmp = scr[1]
    keep = scr[2]
    for j in range(m):
        dx = x[start + j] - cx
        dy = y[start + j] - cy
        u = a11 * dx + a12 * dy
        v = a12 * dx + a22 * dy
        r = max(np.sqrt(u * u + v * v), SERSIC_R_FLOOR)
        frac = r / r_s
        keep[j] = 1.0 if frac <= SERSIC_MAX_R_FRAC else 0.0
        w[j] = frac
    vlog(w, iscr[0], tmp, iscr[1], m)
    for j in range(m):
        w[j] = w[j] * inv_n
    vexp(w, iscr[0], tmp, m)
    for j in range(m):
        arg = -bn * (w[j] - 1.0)
        keep[j] = keep[j] if arg > _EXP_FLOOR else 0.0
        w[j] = arg
    vexp(w, iscr[0], tmp, m)
    for j in range(m):
        out[j] += amp * w[j] * keep[j]


@jit
def light_block(x, y, start, m, codes, packed, out, scr, iscr):
    """Total surface brightness of a composite light model on one block of positions.

    Parameters
    ----------
    x, y : ndarray of float64, shape (n,)
        Positions [arcsec].
    start, m : int
        The block is ``x[start:start + m]``.
    codes : ndarray of int64, shape (n_comp,)
        Light profile codes.
    packed : ndarray of float64, shape (n_comp, LIGHT_WIDTH)
        Packed parameters of one system.
    out : ndarray of float64, shape (>= m,)
        Written in place: surface brightness [flux/arcsec^2].
    scr, iscr : ndarray, shape (LIGHT_SCRATCH_ROWS, >= m)
        Float64 scratch and its int64 view.
    """
    for j in range(m):
        out[j] = 0.0
    for i in range(codes.shape[0]):
        if codes[i] == CODE_SERSIC:
            _sersic_block(x, y, start, m, packed[i], out, scr, iscr)


@jit
def surface_brightness(x, y, codes, packed, out):
    """Surface brightness of one system's light model at many positions.

    Parameters
    ----------
    x, y : ndarray of float64, shape (n,)
        Positions [arcsec].
    codes : ndarray of int64, shape (n_comp,)
        Light profile codes.
    packed : ndarray of float64, shape (n_comp, LIGHT_WIDTH)
        Packed parameters.
    out : ndarray of float64, shape (n,)
        Written in place: surface brightness [flux/arcsec^2].
    """
    block = 64
    scr = np.empty((LIGHT_SCRATCH_ROWS, block))
    iscr = scr.view(np.int64)
    buf = np.empty(block)
    n = x.shape[0]
    for start in range(0, n, block):
        m = min(block, n - start)
        light_block(x, y, start, m, codes, packed, buf, scr, iscr)
        for j in range(m):
            out[start + j] = buf[j]
