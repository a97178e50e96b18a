"""Dense brute-force image finder in pure NumPy: slow, obvious, independent of the kernels.

The reference the grid-finder completeness tests compare against. For one system it

1. covers the image plane with patches, each a regular grid in its own coordinates ``(u, v)``:
   a Cartesian patch ``(x, y)`` over a square that holds every image, and one polar patch
   ``(ln r, phi)`` about the centre of every massive component, from ``R_MIN_FRACTION`` to
   ``R_MAX_FACTOR`` times its Einstein radius (near a centre the map is smooth in ``ln r``
   and the cells shrink with ``r``, so images inside small Einstein radii and next to point
   masses are bracketed);
2. evaluates the lens map with the pure-NumPy twins of :mod:`tests.reference.naive` at every
   grid vertex and splits every cell into two triangles; a triangle whose source-plane image
   contains the source (barycentric test with slack) gives a start point;
3. refines, ``REFINE_FACTOR`` x ``REFINE_FACTOR`` at a time, every cell whose vertices
   disagree in the sign of ``det(I - H)`` (it holds a piece of critical curve, where two
   images of one source can share a cell) and whose mapped vertices come near the source;
4. polishes every start by damped Newton steps on ``theta - alpha(theta) - beta`` and keeps
   distinct roots with a lens-equation residual below ``RESIDUAL_MAX``.

Everything is vectorised over grid vertices; one EPL system costs about a second.
"""

from __future__ import annotations

import numpy as np

from tests.reference import naive

#: Cartesian cell size [arcsec]: far finer than any image separation outside critical curves.
CARTESIAN_STEP = 0.02
#: Angular cells of each polar patch; its radial cells have the same size in ln r.
N_PHI = 256
#: Innermost radius of a polar patch in units of the component's Einstein radius
#: [dimensionless]: images closer to a singular centre have |mu| below ~1e-8 for these models.
R_MIN_FRACTION = 1e-4
#: Outermost radius of a polar patch in Einstein radii [dimensionless].
R_MAX_FACTOR = 3.0
#: Sub-cells per side when a critical cell is refined, and refinement rounds.
REFINE_FACTOR = 4
REFINE_LEVELS = 5
#: Barycentric slack of the triangle test: covers the curvature of the mapped cell edges.
SLACK = 0.25
#: A polished root must satisfy the lens equation to this accuracy [arcsec].
RESIDUAL_MAX = 1e-10
#: Two roots closer than this are the same image [arcsec].
DUPLICATE_DISTANCE = 1e-7
#: Newton iterations (each with step halving on failure).
NEWTON_ITER = 60

MASSIVE = ("EPL", "SIE", "SIS", "POINT_MASS")


def _map(patch, u, v):
    kind, cx, cy = patch
    if kind == "cart":
        return u, v
    r = np.exp(u)
    return cx + r * np.cos(v), cy + r * np.sin(v)


def _eval(kinds, kwargs_list, x, y, beta_x, beta_y):
    d = naive.composite(x, y, kinds, kwargs_list)
    gx = x - d["alpha_x"] - beta_x
    gy = y - d["alpha_y"] - beta_y
    det = (1.0 - d["f_xx"]) * (1.0 - d["f_yy"]) - d["f_xy"] ** 2
    return gx, gy, det


def _triangle_starts(u, v, gx, gy):
    """Start points from cells (..., 2, 2) vertex arrays: two triangles per cell."""
    starts_u, starts_v = [], []
    for i1, i2 in (((0, 1), (1, 1)), ((1, 1), (1, 0))):
        e1x = gx[:, i1[0], i1[1]] - gx[:, 0, 0]
        e1y = gy[:, i1[0], i1[1]] - gy[:, 0, 0]
        e2x = gx[:, i2[0], i2[1]] - gx[:, 0, 0]
        e2y = gy[:, i2[0], i2[1]] - gy[:, 0, 0]
        px = -gx[:, 0, 0]
        py = -gy[:, 0, 0]
        den = e1x * e2y - e1y * e2x
        with np.errstate(divide="ignore", invalid="ignore"):
            l1 = (px * e2y - py * e2x) / den
            l2 = (e1x * py - e1y * px) / den
        ok = (l1 >= -SLACK) & (l2 >= -SLACK) & (l1 + l2 <= 1.0 + SLACK) & np.isfinite(den)
        ok &= den != 0.0
        su = u[:, 0, 0] + l1 * (u[:, i1[0], i1[1]] - u[:, 0, 0]) + l2 * (
            u[:, i2[0], i2[1]] - u[:, 0, 0]
        )
        sv = v[:, 0, 0] + l1 * (v[:, i1[0], i1[1]] - v[:, 0, 0]) + l2 * (
            v[:, i2[0], i2[1]] - v[:, 0, 0]
        )
        starts_u.append(su[ok])
        starts_v.append(sv[ok])
    return np.concatenate(starts_u), np.concatenate(starts_v)


def _cells(u0, v0, du, dv, nu, nv):
    """Vertex coordinates (n_cells, 2, 2) of an nu x nv block per origin (u0, v0)."""
    iu = np.arange(nu)
    iv = np.arange(nv)
    cu = u0[:, None, None] + du[:, None, None] * iu[None, :, None] + np.zeros((1, 1, nv))
    cv = v0[:, None, None] + dv[:, None, None] * iv[None, None, :] + np.zeros((1, nu, 1))
    cu = cu.reshape(-1)
    cv = cv.reshape(-1)
    du = np.repeat(du, nu * nv)
    dv = np.repeat(dv, nu * nv)
    off = np.array([0.0, 1.0])
    uu = cu[:, None, None] + du[:, None, None] * off[None, :, None] + np.zeros((1, 1, 2))
    vv = cv[:, None, None] + dv[:, None, None] * off[None, None, :] + np.zeros((1, 2, 1))
    return uu, vv, du, dv


def _patch_starts(patch, u0, v0, du, dv, nu, nv, kinds, kwargs_list, beta_x, beta_y):
    """Start points of one patch: every cell tested, critical cells refined."""
    su_all, sv_all = [], []
    uu, vv, du, dv = _cells(np.array([u0]), np.array([v0]), np.array([du]), np.array([dv]), nu, nv)
    for level in range(REFINE_LEVELS + 1):
        x, y = _map(patch, uu, vv)
        gx, gy, det = _eval(kinds, kwargs_list, x, y, beta_x, beta_y)
        su, sv = _triangle_starts(uu, vv, gx, gy)
        su_all.append(su)
        sv_all.append(sv)
        if level == REFINE_LEVELS:
            break
        flat = det.reshape(det.shape[0], 4)
        critical = (flat.min(axis=1) < 0.0) & (flat.max(axis=1) > 0.0)
        # only where the source is near the mapped cell (generous: folds bulge past vertices)
        ext = np.maximum(np.ptp(gx.reshape(-1, 4), axis=1), np.ptp(gy.reshape(-1, 4), axis=1))
        near = (
            (gx.reshape(-1, 4).min(axis=1) - ext <= 0.0)
            & (gx.reshape(-1, 4).max(axis=1) + ext >= 0.0)
            & (gy.reshape(-1, 4).min(axis=1) - ext <= 0.0)
            & (gy.reshape(-1, 4).max(axis=1) + ext >= 0.0)
        )
        sel = critical & near
        if not np.any(sel):
            break
        f = REFINE_FACTOR
        uu, vv, du, dv = _cells(
            uu[sel, 0, 0], vv[sel, 0, 0], du[sel] / f, dv[sel] / f, f, f
        )
    u = np.concatenate(su_all)
    v = np.concatenate(sv_all)
    return _map(patch, u, v)


def _newton(x, y, kinds, kwargs_list, beta_x, beta_y):
    d = naive.composite(x, y, kinds, kwargs_list)
    gx = x - d["alpha_x"] - beta_x
    gy = y - d["alpha_y"] - beta_y
    res = np.hypot(gx, gy)
    step = np.ones_like(x)
    for _ in range(NEWTON_ITER):
        a11 = 1.0 - d["f_xx"]
        a12 = -d["f_xy"]
        a22 = 1.0 - d["f_yy"]
        det = a11 * a22 - a12 * a12
        with np.errstate(divide="ignore", invalid="ignore"):
            dx = -(a22 * gx - a12 * gy) / det
            dy = -(a11 * gy - a12 * gx) / det
        nx = x + step * dx
        ny = y + step * dy
        nd = naive.composite(nx, ny, kinds, kwargs_list)
        ngx = nx - nd["alpha_x"] - beta_x
        ngy = ny - nd["alpha_y"] - beta_y
        nres = np.hypot(ngx, ngy)
        better = np.isfinite(nres) & (nres < res)
        x = np.where(better, nx, x)
        y = np.where(better, ny, y)
        gx = np.where(better, ngx, gx)
        gy = np.where(better, ngy, gy)
        res = np.where(better, nres, res)
        for k in d:
            d[k] = np.where(better, nd[k], d[k])
        step = np.where(better, np.minimum(1.0, 2.0 * step), 0.5 * step)
    return x, y, res


def half_width(kinds, kwargs_list, beta_x, beta_y):
    """Half-width [arcsec] of a square about the origin that holds every image.

    Outside the Einstein radii every deflection here is at most ~2 theta_E, and external
    shear and convergence stretch positions by at most ``1/(1 - kappa - |gamma|)``.
    """
    reach = abs(complex(beta_x, beta_y))
    lam = 1.0
    for kind, kw in zip(kinds, kwargs_list, strict=True):
        if kind in MASSIVE:
            reach += 2.0 * kw["theta_E"] + abs(complex(kw["center_x"], kw["center_y"]))
        elif kind == "SHEAR":
            lam -= abs(complex(kw["gamma1"], kw["gamma2"]))
        elif kind == "CONVERGENCE":
            lam -= kw["kappa"]
    return reach / max(lam, 0.2) + 0.5


def find_images(kinds, kwargs_list, beta_x, beta_y, half=None):
    """All images of one source, by dense search and Newton polish.

    Parameters
    ----------
    kinds : sequence of str
        Profile names (lenstronomy's).
    kwargs_list : sequence of mapping str -> float
        lenstronomy-named parameters, one mapping per component.
    beta_x, beta_y : float
        Source position [arcsec].
    half : float, optional
        Half-width of the Cartesian patch about the origin [arcsec] (default:
        :func:`half_width`).

    Returns
    -------
    x, y, mu, residual : ndarray of float64, shape (k,)
        Distinct images [arcsec], magnifications and lens-equation residuals [arcsec].
    """
    half = half_width(kinds, kwargs_list, beta_x, beta_y) if half is None else half
    n = int(np.ceil(2.0 * half / CARTESIAN_STEP))
    # irrational offset keeps vertices off profile centres
    off = 0.3183098861837907 * CARTESIAN_STEP
    xs, ys = [], []
    sx, sy = _patch_starts(
        ("cart", 0.0, 0.0), -half + off, -half + 0.618 * CARTESIAN_STEP, CARTESIAN_STEP,
        CARTESIAN_STEP, n, n, kinds, kwargs_list, beta_x, beta_y,
    )
    xs.append(sx)
    ys.append(sy)
    for kind, kw in zip(kinds, kwargs_list, strict=True):
        if kind not in MASSIVE:
            continue
        lo = np.log(R_MIN_FRACTION * kw["theta_E"])
        hi = np.log(R_MAX_FACTOR * kw["theta_E"])
        dphi = 2.0 * np.pi / N_PHI
        nr = int(np.ceil((hi - lo) / dphi))
        sx, sy = _patch_starts(
            ("polar", kw["center_x"], kw["center_y"]), lo, 0.1 * dphi, dphi, dphi, nr, N_PHI,
            kinds, kwargs_list, beta_x, beta_y,
        )
        xs.append(sx)
        ys.append(sy)
    x = np.concatenate(xs)
    y = np.concatenate(ys)
    x, y, res = _newton(x, y, kinds, kwargs_list, beta_x, beta_y)
    ok = res < RESIDUAL_MAX
    x, y, res = x[ok], y[ok], res[ok]
    keep = []
    for i in np.argsort(res):
        if all(np.hypot(x[i] - x[j], y[i] - y[j]) >= DUPLICATE_DISTANCE for j in keep):
            keep.append(i)
    keep = np.array(keep, dtype=int)
    x, y, res = x[keep], y[keep], res[keep]
    mu = naive.magnification(x, y, kinds, kwargs_list) if x.size else np.empty(0)
    return x, y, mu, res
