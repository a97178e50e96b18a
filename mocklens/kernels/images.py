"""Image finding for whole batches of lens systems, and per-image properties.

:func:`solve_images_batch` is the batch driver: one ``prange`` iteration per system, each
running the EPL finder (``mode = MODE_EPL``) or the general grid finder (``MODE_GRID``),
then verifying, de-duplicating, measuring and sorting the images by arrival time.
"""

from __future__ import annotations

import math

import numpy as np

from mocklens.kernels._jit import jit, jit_parallel, prange
from mocklens.kernels.epl import MAX_SERIES_TERMS, epl_coefficients
from mocklens.kernels.grid import solve_grid
from mocklens.kernels.lens import CODE_SIS, lens_composite
from mocklens.kernels.solve import (
    DUPLICATE_DISTANCE,
    FRAME_WIDTH,
    MAX_CANDIDATES,
    WORKSPACE_ROWS,
    fill_angle_table,
    solve_epl_frame,
)

MODE_EPL, MODE_GRID = 1, 2
#: Image types as stored in ``/point/type``.
TYPE_NONE, TYPE_MINIMUM, TYPE_SADDLE, TYPE_MAXIMUM = 0, 1, 2, 3

# settings vector indices
S_N_ANGLES, S_TOLERANCE, S_MIN_ABS_MU, S_GRID_HALF, S_GRID_CELLS, S_GRID_DEPTH = 0, 1, 2, 3, 4, 5
S_GRID_CX, S_GRID_CY = 6, 7
SETTINGS_WIDTH = 8
#: Systems per parallel work item (scratch arrays are allocated once per item).
CHUNK = 64
#: Rows of the float output of :func:`solve_images_batch`, in order.
IMAGE_FLOAT_ROWS = ("x", "y", "mu", "fermat", "psi", "alpha_x", "alpha_y", "residual")


@jit
def _epl_frame_params(codes, packed, i_main, i_shear, i_conv, beta_x, beta_y, fp):
    """Fill the EPL-frame parameter vector; return (cos, sin, cx, cy) of the frame."""
    p = packed[i_main]
    if codes[i_main] == CODE_SIS:
        b, t, q, c, s, cx, cy, nt = p[0], 1.0, 1.0, 1.0, 0.0, p[1], p[2], 1.0
    else:
        b, t, q, c, s, cx, cy, nt = p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]
    g1 = 0.0
    g2 = 0.0
    kap = 0.0
    if i_shear >= 0:
        g1 = packed[i_shear, 0]
        g2 = packed[i_shear, 1]
    if i_conv >= 0:
        kap = packed[i_conv, 0]
    # shear and convergence act about the origin: move the source to the lens-centred problem
    btx = beta_x - ((1.0 - kap - g1) * cx - g2 * cy)
    bty = beta_y - (-g2 * cx + (1.0 - kap + g1) * cy)
    cos2 = c * c - s * s
    sin2 = 2.0 * c * s
    g1p = g1 * cos2 + g2 * sin2
    g2p = -g1 * sin2 + g2 * cos2
    fp[0] = 1.0 - kap - g1p
    fp[1] = -g2p
    fp[2] = 1.0 - kap + g1p
    fp[3] = c * btx + s * bty
    fp[4] = -s * btx + c * bty
    fp[5] = 2.0 * b**t / (1.0 + q)
    fp[6] = q
    fp[7] = t
    fp[8] = nt
    fp[9] = b
    return c, s, cx, cy


@jit
def image_properties(x, y, beta_x, beta_y, codes, packed):
    """Potential, deflection, magnification, Fermat potential and type of one image.

    Parameters
    ----------
    x, y : float
        Image position [arcsec].
    beta_x, beta_y : float
        Source position [arcsec].
    codes, packed : ndarray
        Composite model.

    Returns
    -------
    psi, alpha_x, alpha_y, mu, fermat, residual : float
        [arcsec^2], [arcsec], [arcsec], [dimensionless], [arcsec^2], [arcsec].
    image_type : int
        TYPE_MINIMUM, TYPE_SADDLE or TYPE_MAXIMUM.
    """
    psi, ax, ay, fxx, fxy, fyy = lens_composite(x, y, codes, packed)
    a11 = 1.0 - fxx
    a22 = 1.0 - fyy
    det = a11 * a22 - fxy * fxy
    mu = 1.0 / det if det != 0.0 else math.inf
    fermat = 0.5 * ((x - beta_x) ** 2 + (y - beta_y) ** 2) - psi
    res = math.hypot(x - ax - beta_x, y - ay - beta_y)
    if det < 0.0:
        kind = TYPE_SADDLE
    elif a11 + a22 > 0.0:
        kind = TYPE_MINIMUM
    else:
        kind = TYPE_MAXIMUM
    return psi, ax, ay, mu, fermat, res, kind


@jit_parallel
def solve_images_batch(
    codes, packed, beta_x, beta_y, mode, i_main, i_shear, i_conv, settings, out_f, out_i
):
    """Find, verify, measure and sort the images of a batch of systems.

    Parameters
    ----------
    codes : ndarray of int64, shape (n_comp,)
        Profile codes (same composition for every system).
    packed : ndarray of float64, shape (n_sys, n_comp, PACK_WIDTH)
        Packed parameters per system, C-contiguous.
    beta_x, beta_y : ndarray of float64, shape (n_sys,)
        Source positions [arcsec].
    mode : int
        MODE_EPL or MODE_GRID.
    i_main, i_shear, i_conv : int
        Component indices of the main deflector, shear and convergence (-1: absent);
        used by MODE_EPL only.
    settings : ndarray of float64, shape (SETTINGS_WIDTH,)
        n_angles, tolerance [arcsec], min |mu|, grid half-width [arcsec], grid cells,
        grid depth, grid centre x and y [arcsec].
    out_f : ndarray of float64, shape (8, n_sys, K)
        Written in place, NaN-padded, sorted by arrival (rows ``IMAGE_FLOAT_ROWS``):
        x, y [arcsec], mu, fermat [arcsec^2], psi [arcsec^2], alpha_x, alpha_y [arcsec],
        residual [arcsec].
    out_i : ndarray of int64, shape (4, n_sys, K)
        Written in place: parity, type, and in [2, :, 0] the number of kept images,
        in [3, :, 0] the number of verified images before the |mu| cut.
    """
    n_sys = beta_x.shape[0]
    n_angles = int(settings[S_N_ANGLES])
    n_chunks = (n_sys + CHUNK - 1) // CHUNK
    for ch in prange(n_chunks):
        ws = np.empty((WORKSPACE_ROWS, max(n_angles, 2)))
        fill_angle_table(ws, n_angles)
        coeffs = np.empty(MAX_SERIES_TERMS)
        cand = np.empty((MAX_CANDIDATES, 3))
        fp = np.empty(FRAME_WIDTH)
        props = np.empty((MAX_CANDIDATES, 8))
        kinds = np.empty(MAX_CANDIDATES, dtype=np.int64)
        for s in range(ch * CHUNK, min(n_sys, (ch + 1) * CHUNK)):
            _solve_one(
                s,
                codes,
                packed[s],
                beta_x[s],
                beta_y[s],
                mode,
                i_main,
                i_shear,
                i_conv,
                settings,
                ws,
                coeffs,
                cand,
                fp,
                props,
                kinds,
                out_f,
                out_i,
            )


@jit
def _solve_one(
    s,
    codes,
    pk,
    bx,
    by,
    mode,
    i_main,
    i_shear,
    i_conv,
    settings,
    ws,
    coeffs,
    cand,
    fp,
    props,
    kinds,
    out_f,
    out_i,
):
    """Find, verify, measure and sort the images of system ``s`` (see the batch driver)."""
    k_max = out_f.shape[2]
    n_angles = int(settings[S_N_ANGLES])
    tol = settings[S_TOLERANCE]
    min_mu = settings[S_MIN_ABS_MU]
    n_cand = 0
    if mode == 1:
        c, sn, cx, cy = _epl_frame_params(codes, pk, i_main, i_shear, i_conv, bx, by, fp)
        epl_coefficients(fp[6], fp[7], int(fp[8]), coeffs)
        n_cand = solve_epl_frame(fp, coeffs, n_angles, ws, cand)
        for k in range(n_cand):
            xs = c * cand[k, 0] - sn * cand[k, 1] + cx
            ys = sn * cand[k, 0] + c * cand[k, 1] + cy
            cand[k, 0] = xs
            cand[k, 1] = ys
    else:
        n_cand = solve_grid(
            bx,
            by,
            codes,
            pk,
            settings[S_GRID_CX],
            settings[S_GRID_CY],
            settings[S_GRID_HALF],
            int(settings[S_GRID_CELLS]),
            int(settings[S_GRID_DEPTH]),
            cand,
        )
    # verify in the sky frame with the composite model, merge duplicates, measure
    n_kept = 0
    for k in range(n_cand):
        x = cand[k, 0]
        y = cand[k, 1]
        psi, ax, ay, mu, fermat, res, kind = image_properties(x, y, bx, by, codes, pk)
        if not (res <= tol):
            continue
        dup = False
        for j in range(n_kept):
            if math.hypot(props[j, 0] - x, props[j, 1] - y) < DUPLICATE_DISTANCE:
                dup = True
                break
        if dup:
            continue
        props[n_kept, 0] = x
        props[n_kept, 1] = y
        props[n_kept, 2] = mu
        props[n_kept, 3] = fermat
        props[n_kept, 4] = psi
        props[n_kept, 5] = ax
        props[n_kept, 6] = ay
        props[n_kept, 7] = res
        kinds[n_kept] = kind
        n_kept += 1
    # drop faint images, then sort by arrival (Fermat potential)
    n_bright = 0
    for k in range(n_kept):
        if abs(props[k, 2]) >= min_mu:
            if n_bright != k:
                for r in range(8):
                    props[n_bright, r] = props[k, r]
                kinds[n_bright] = kinds[k]
            n_bright += 1
    order = np.argsort(props[:n_bright, 3])
    for k in range(k_max):
        if k < n_bright:
            j = order[k]
            for r in range(out_f.shape[0]):
                out_f[r, s, k] = props[j, r]
            out_i[0, s, k] = 1 if props[j, 2] > 0.0 else -1
            out_i[1, s, k] = kinds[j]
        else:
            for r in range(out_f.shape[0]):
                out_f[r, s, k] = np.nan
            out_i[0, s, k] = 0
            out_i[1, s, k] = TYPE_NONE
    out_i[2, s, 0] = min(n_bright, k_max)
    out_i[3, s, 0] = n_bright
