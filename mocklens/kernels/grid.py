"""The general image finder: adaptive cell subdivision, triangle mapping and Newton polish.

Images of any composite model are bracketed on patches, each a regular grid of square cells in
its own coordinates ``(u, v)``:

* a Cartesian patch ``(x, y)`` over the square searched (every image of an ordinary lens);
* one polar patch ``(ln r, phi)`` about the centre of every mass component (EPL, SIE, SIS,
  POINT_MASS), from ``POLAR_R_MIN`` Einstein radii out to ``POLAR_R_MAX`` of them or as far
  as any image can lie (``REACH_DEFLECTION``). Near a singular centre
  the lens map is smooth in ``ln r`` while its Cartesian cells are not: the cell holding a
  point mass maps onto the whole far plane, so its corners say nothing about where its images
  are. In ``(ln r, phi)`` the cells shrink with ``r`` and the map is equally smooth at every
  scale, so the faint images next to point masses and the images inside small Einstein radii
  are bracketed like any other.

A cell is kept while the source lies in the bounding box of its mapped corners widened by a
margin, and split 2 x 2 (five new evaluations, the corners are reused) down to ``depth``
levels. Two kinds of cells go up to ``EXTRA_DEPTH`` levels further: cells whose corners differ
in the sign of ``det(I - H)`` (they hold a piece of critical curve, where a bright image pair
can share one cell and the mapped cell folds beyond its corners, hence the wider margin), and
cells mapped to a region much larger than themselves (demagnified images near a singular
centre). At the last level the two triangles of the cell are tested (barycentric coordinates
with slack) and each hit is polished by Levenberg-Marquardt-damped Newton steps.
"""

from __future__ import annotations

import math

import numpy as np

from mocklens.kernels._jit import jit
from mocklens.kernels.lens import (
    CODE_CONVERGENCE,
    CODE_EPL,
    CODE_POINT_MASS,
    CODE_SHEAR,
    CODE_SIE,
    CODE_SIS,
    lens_composite,
)
from mocklens.kernels.solve import _append

#: A cell whose source-plane image is this many times larger than the cell is refined beyond
#: the regular depth (|mu| below ~1/STRETCH**2 there).
STRETCH = 8.0
#: Residual below which a grid candidate counts as converged [arcsec] (final check: tolerance).
CONVERGED_RESIDUAL = 1e-8
#: Extra subdivision levels allowed for critical and stretched cells.
EXTRA_DEPTH = 8
#: Offsets of the grid origin in cells (fractional parts of 1/pi and the golden ratio): they
#: keep vertices off profile centres and symmetry axes, where a vertex maps to a singular
#: deflection or a tie.
GRID_OFFSET_X, GRID_OFFSET_Y = 0.3183098861837907 - 0.5, 0.6180339887498949 - 0.5
#: Margin of the bounding-box test, in units of the mapped cell's extent: the mapped cell
#: bulges past its corners by its curvature, and a cell holding a fold folds past them.
MARGIN = 0.5
CRITICAL_MARGIN = 1.0
#: Barycentric slack of the final triangle test (curvature of the mapped cell edges).
SLACK = 0.05
#: Angular cells of a polar patch; its cells are square in (ln r, phi).
POLAR_CELLS = 32
#: Inner and outer radius of a polar patch, in Einstein radii of its component
#: [dimensionless]. Inside POLAR_R_MIN images have |mu| far below any useful cut for these
#: profiles (~1e-16 for a point mass, ~R/theta_E for an isothermal one, which has none there).
POLAR_R_MIN = 1e-5
POLAR_R_MAX = 3.0
#: The polar patch reaches at least this many coarse Cartesian cells from its centre: the
#: Cartesian cells that close to a singular centre are too coarse for the map's curvature.
POLAR_MIN_CARTESIAN_CELLS = 2.0
#: Far from every mass, deflections are below ~REACH_DEFLECTION Einstein radii each, so an
#: image lies within ``(|beta| + sum(REACH_DEFLECTION theta_E + |centre|)) / lambda`` of the
#: origin, ``lambda = 1 - kappa_ext - |gamma_ext|`` floored at REACH_MIN_LAMBDA: the polar
#: patches reach that far (a source behind a point mass, mapped from an image next to it, has
#: its bright image tens of arcsec out, beyond any fixed square).
REACH_DEFLECTION = 2.0
REACH_MIN_LAMBDA = 0.2
#: Newton iterations of the polish.
MAX_GRID_NEWTON = 100
#: Patch kinds.
PATCH_CARTESIAN, PATCH_POLAR = 0, 1
#: Width of one cell record: u0, v0, h, level, then g_x, g_y, det at the four corners.
_CELL = 16


@jit
def newton_cartesian(x, y, beta_x, beta_y, codes, packed, max_iter):
    """Polish an image of ``(beta_x, beta_y)`` by Levenberg-Marquardt-damped Newton steps.

    Parameters
    ----------
    x, y : float
        Starting position [arcsec].
    beta_x, beta_y : float
        Source position [arcsec].
    codes, packed : ndarray
        Composite model (see ``mocklens.kernels.lens``).
    max_iter : int
        Iteration cap.

    Returns
    -------
    x, y, residual : float
        Polished position [arcsec] and lens-equation residual [arcsec].
    """
    _, ax, ay, fxx, fxy, fyy = lens_composite(x, y, codes, packed)
    gx = x - ax - beta_x
    gy = y - ay - beta_y
    res = math.hypot(gx, gy)
    # Levenberg-Marquardt damping: lam = 0 is Newton; it grows when a step fails, which keeps
    # progress near critical curves where the Jacobian is nearly singular (|mu| >> 1)
    lam = 0.0
    for _ in range(max_iter):
        if res == 0.0:
            break
        a11 = 1.0 - fxx
        a12 = -fxy
        a22 = 1.0 - fyy
        # normal equations (J^T J + lam I) d = -J^T g, J symmetric
        n11 = a11 * a11 + a12 * a12 + lam
        n12 = a11 * a12 + a12 * a22
        n22 = a12 * a12 + a22 * a22 + lam
        r1 = -(a11 * gx + a12 * gy)
        r2 = -(a12 * gx + a22 * gy)
        det = n11 * n22 - n12 * n12
        if det == 0.0 or not math.isfinite(det):
            lam = max(1e-12, 10.0 * lam) if lam > 0.0 else 1e-12 * (n11 + n22 + 1.0)
            continue
        dx = (n22 * r1 - n12 * r2) / det
        dy = (n11 * r2 - n12 * r1) / det
        nx = x + dx
        ny = y + dy
        _, nax, nay, nfxx, nfxy, nfyy = lens_composite(nx, ny, codes, packed)
        ngx = nx - nax - beta_x
        ngy = ny - nay - beta_y
        nres = math.hypot(ngx, ngy)
        if nres < res:
            step = math.hypot(dx, dy)
            x, y, gx, gy, res = nx, ny, ngx, ngy, nres
            ax, ay, fxx, fxy, fyy = nax, nay, nfxx, nfxy, nfyy
            lam *= 0.1
            if step < 1e-15 * (1.0 + math.hypot(x, y)):
                break
        else:
            scale = a11 * a11 + a22 * a22 + 2.0 * a12 * a12
            lam = max(10.0 * lam, 1e-6 * scale + 1e-300)
            if lam > 1e12 * (scale + 1.0):
                break
    return x, y, res


@jit
def _to_sky(kind, cx, cy, u, v):
    """Sky position [arcsec] of patch coordinates ``(u, v)``."""
    if kind == PATCH_CARTESIAN:
        return u, v
    r = math.exp(u)
    return cx + r * math.cos(v), cy + r * math.sin(v)


@jit
def _eval_point(kind, cx, cy, u, v, beta_x, beta_y, codes, packed, rec, k):
    """Write the lens-equation residual vector and det(I - H) at a patch point into ``rec``."""
    x, y = _to_sky(kind, cx, cy, u, v)
    _, ax, ay, fxx, fxy, fyy = lens_composite(x, y, codes, packed)
    rec[4 + k] = x - ax - beta_x
    rec[8 + k] = y - ay - beta_y
    rec[12 + k] = (1.0 - fxx) * (1.0 - fyy) - fxy * fxy


@jit
def _process(kind, cx, cy, beta_x, beta_y, codes, packed, depth, stack, top, lattice, cand, n_cand):
    """Visit the cells on ``stack[:top]`` depth-first; return the candidate count."""
    while top > 0:
        top -= 1
        rec = stack[top]
        u0 = rec[0]
        v0 = rec[1]
        h = rec[2]
        level = int(rec[3])
        lo_x = min(rec[4], rec[5], rec[6], rec[7])
        hi_x = max(rec[4], rec[5], rec[6], rec[7])
        lo_y = min(rec[8], rec[9], rec[10], rec[11])
        hi_y = max(rec[8], rec[9], rec[10], rec[11])
        d_lo = min(rec[12], rec[13], rec[14], rec[15])
        d_hi = max(rec[12], rec[13], rec[14], rec[15])
        if not (math.isfinite(lo_x + hi_x + lo_y + hi_y)):
            continue
        critical = d_lo < 0.0 < d_hi
        ext = max(hi_x - lo_x, hi_y - lo_y)
        margin = (CRITICAL_MARGIN if critical else MARGIN) * ext + 1e-12
        if not (lo_x - margin <= 0.0 <= hi_x + margin and lo_y - margin <= 0.0 <= hi_y + margin):
            continue
        # cell size on the sky: h in Cartesian cells, r h in polar ones
        sky = h if kind == PATCH_CARTESIAN else h * math.exp(u0 + 0.5 * h)
        stretched = ext > STRETCH * sky
        if level < depth or ((critical or stretched) and level < depth + EXTRA_DEPTH):
            hh = 0.5 * h
            # 3 x 3 lattice of the children's corners: parent corners reused, five new points
            for j in range(3):
                for i in range(3):
                    m = i + 3 * j
                    if i != 1 and j != 1:
                        c = i // 2 + 2 * (j // 2)
                        lattice[4 + m] = rec[4 + c]
                        lattice[13 + m] = rec[8 + c]
                        lattice[22 + m] = rec[12 + c]
                    else:
                        x, y = _to_sky(kind, cx, cy, u0 + i * hh, v0 + j * hh)
                        _, ax, ay, fxx, fxy, fyy = lens_composite(x, y, codes, packed)
                        lattice[4 + m] = x - ax - beta_x
                        lattice[13 + m] = y - ay - beta_y
                        lattice[22 + m] = (1.0 - fxx) * (1.0 - fyy) - fxy * fxy
            for b in range(2):
                for a in range(2):
                    child = stack[top]
                    child[0] = u0 + a * hh
                    child[1] = v0 + b * hh
                    child[2] = hh
                    child[3] = level + 1
                    for k in range(4):
                        m = (a + k % 2) + 3 * (b + k // 2)
                        child[4 + k] = lattice[4 + m]
                        child[8 + k] = lattice[13 + m]
                        child[12 + k] = lattice[22 + m]
                    top += 1
            continue
        # last level: the two triangles (0, 1, 3) and (0, 3, 2)
        for tri in range(2):
            i1 = 1 if tri == 0 else 3
            i2 = 3 if tri == 0 else 2
            ex1 = rec[4 + i1] - rec[4]
            ey1 = rec[8 + i1] - rec[8]
            ex2 = rec[4 + i2] - rec[4]
            ey2 = rec[8 + i2] - rec[8]
            den = ex1 * ey2 - ey1 * ex2
            if den == 0.0:
                continue
            px = -rec[4]
            py = -rec[8]
            l1 = (px * ey2 - py * ex2) / den
            l2 = (ex1 * py - ey1 * px) / den
            if l1 >= -SLACK and l2 >= -SLACK and l1 + l2 <= 1.0 + SLACK:
                su = u0 + h * (l1 * (i1 % 2) + l2 * (i2 % 2))
                sv = v0 + h * (l1 * (i1 // 2) + l2 * (i2 // 2))
                sx, sy = _to_sky(kind, cx, cy, su, sv)
                x, y, res = newton_cartesian(
                    sx, sy, beta_x, beta_y, codes, packed, MAX_GRID_NEWTON
                )
                if res <= CONVERGED_RESIDUAL:
                    n_cand = _append(x, y, res, cand, n_cand)
    return n_cand


@jit
def _patch(kind, cx, cy, u_lo, v_lo, h, n_u, n_v, beta_x, beta_y, codes, packed, depth, cand,
           n_cand):
    """Search one patch of n_u x n_v coarse cells of size h from (u_lo, v_lo)."""
    stack = np.empty((4 * (depth + EXTRA_DEPTH) + 8, _CELL))
    lattice = np.empty(31)
    # coarse corners are evaluated once and shared by the four cells around each
    row0 = np.empty((n_u + 1, _CELL))
    row1 = np.empty((n_u + 1, _CELL))
    for i in range(n_u + 1):
        _eval_point(kind, cx, cy, u_lo + i * h, v_lo, beta_x, beta_y, codes, packed, row0[i], 0)
    for j in range(n_v):
        for i in range(n_u + 1):
            _eval_point(
                kind, cx, cy, u_lo + i * h, v_lo + (j + 1) * h, beta_x, beta_y, codes, packed,
                row1[i], 0,
            )
        for i in range(n_u):
            rec = stack[0]
            rec[0] = u_lo + i * h
            rec[1] = v_lo + j * h
            rec[2] = h
            rec[3] = 0.0
            for q in range(3):
                r = 4 + 4 * q
                rec[r] = row0[i, r]
                rec[r + 1] = row0[i + 1, r]
                rec[r + 2] = row1[i, r]
                rec[r + 3] = row1[i + 1, r]
            n_cand = _process(
                kind, cx, cy, beta_x, beta_y, codes, packed, depth, stack, 1, lattice, cand,
                n_cand,
            )
        for i in range(n_u + 1):
            row0[i, 4] = row1[i, 4]
            row0[i, 8] = row1[i, 8]
            row0[i, 12] = row1[i, 12]
    return n_cand


@jit
def _mass_centre(code, p):
    """Centre [arcsec] and Einstein radius [arcsec] of a mass component (radius 0: none)."""
    if code == CODE_EPL or code == CODE_SIE:
        return p[5], p[6], p[0] / math.sqrt(p[2])
    if code == CODE_SIS or code == CODE_POINT_MASS:
        return p[1], p[2], p[0]
    return 0.0, 0.0, 0.0


@jit
def solve_grid(beta_x, beta_y, codes, packed, center_x, center_y, half, cells, depth, cand):
    """General image finder: Cartesian and per-component polar patches (module notes).

    Parameters
    ----------
    beta_x, beta_y : float
        Source position [arcsec].
    codes, packed : ndarray
        Composite model.
    center_x, center_y, half : float
        Centre and half-width of the square searched [arcsec].
    cells : int
        Cells per side of the coarse Cartesian grid.
    depth : int
        Regular levels of 2x2 subdivision of cells whose mapped corners come near the source.
    cand : ndarray of float64, shape (MAX_CANDIDATES, 3)
        Written in place: x, y [arcsec] and residual [arcsec] of candidates.

    Returns
    -------
    int
        Number of candidates written.
    """
    size = 2.0 * half / cells
    n_cand = _patch(
        PATCH_CARTESIAN, 0.0, 0.0, center_x - half + GRID_OFFSET_X * size,
        center_y - half + GRID_OFFSET_Y * size, size, cells, cells, beta_x, beta_y, codes,
        packed, depth, cand, 0,
    )
    h = 2.0 * math.pi / POLAR_CELLS
    reach = math.hypot(beta_x, beta_y)
    lam = 1.0
    for c in range(codes.shape[0]):
        cx, cy, theta_e = _mass_centre(codes[c], packed[c])
        reach += REACH_DEFLECTION * theta_e + math.hypot(cx, cy)
        if codes[c] == CODE_SHEAR:
            lam -= math.hypot(packed[c, 0], packed[c, 1])
        elif codes[c] == CODE_CONVERGENCE:
            lam -= packed[c, 0]
    reach /= max(lam, REACH_MIN_LAMBDA)
    for c in range(codes.shape[0]):
        cx, cy, theta_e = _mass_centre(codes[c], packed[c])
        if not (theta_e > 0.0):
            continue
        r_lo = POLAR_R_MIN * theta_e
        r_hi = max(
            POLAR_R_MAX * theta_e, POLAR_MIN_CARTESIAN_CELLS * size, reach + math.hypot(cx, cy)
        )
        n_r = int(math.ceil(math.log(r_hi / r_lo) / h))
        n_cand = _patch(
            PATCH_POLAR, cx, cy, math.log(r_lo), (GRID_OFFSET_Y + 0.5) * h, h, n_r,
            POLAR_CELLS, beta_x, beta_y, codes, packed, depth, cand, n_cand,
        )
    return n_cand
