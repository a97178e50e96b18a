"""Tangential caustics of EPL + shear + convergence lenses, and point-in-polygon tests.

The EPL Hessian is homogeneous of degree ``-t`` along a ray of fixed elliptical angle:
``H(R, phi) = s H1(phi)`` with ``s = (b/R)**t`` and ``H1`` the Hessian at ``R = b``. With
``A = (1 - kappa_ext) I - Gamma`` the critical condition ``det(A - s H1) = 0`` is the quadratic

    det(H1) s**2 - (a11 h22 + a22 h11 - 2 a12 h12) s + det(A) = 0,

whose smallest positive root gives the tangential critical curve ``R = b s**(-1/t)``
(the larger root, when ``t < 1``, is the radial curve). Mapping it through the lens equation
gives the tangential caustic, sampled at ``n`` elliptical angles as a closed polygon.
"""

from __future__ import annotations

import math

import numpy as np

from mocklens.kernels._jit import jit, jit_parallel, prange
from mocklens.kernels.epl import _epl_major_axis
from mocklens.kernels.images import _epl_frame_params


@jit
def _smallest_positive_root(a, b, c):
    """Smallest positive root of a s^2 + b s + c = 0 (NaN if none)."""
    best = math.nan
    if a == 0.0:
        if b != 0.0:
            r = -c / b
            if r > 0.0:
                best = r
        return best
    disc = b * b - 4.0 * a * c
    if disc < 0.0:
        return best
    sq = math.sqrt(disc)
    # numerically stable pair of roots
    qq = -0.5 * (b + math.copysign(sq, b))
    r1 = qq / a
    r2 = c / qq if qq != 0.0 else math.nan
    for r in (r1, r2):
        if r > 0.0 and (math.isnan(best) or r < best):
            best = r
    return best


@jit_parallel
def tangential_caustic_batch(codes, packed, i_main, i_shear, i_conv, out_x, out_y):
    """Sample the tangential caustic of each system as a closed polygon.

    Parameters
    ----------
    codes : ndarray of int64, shape (n_comp,)
        Profile codes (one EPL-like main deflector, optional SHEAR and CONVERGENCE).
    packed : ndarray of float64, shape (n_sys, n_comp, PACK_WIDTH)
        Packed parameters.
    i_main, i_shear, i_conv : int
        Component indices (-1: absent).
    out_x, out_y : ndarray of float64, shape (n_sys, n_points)
        Written in place: caustic vertices in the sky's source plane [arcsec]; NaN where the
        curve does not exist at that angle.
    """
    n_pts = out_x.shape[1]
    for s in prange(out_x.shape[0]):
        fp = np.empty(10)
        c, sn, cx, cy = _epl_frame_params(codes, packed[s], i_main, i_shear, i_conv, 0.0, 0.0, fp)
        a11, a12, a22 = fp[0], fp[1], fp[2]
        # the frame source of beta = 0 is -(I - Gamma - kappa) c rotated; undo that offset
        off_x = -(c * fp[3] - sn * fp[4])
        off_y = -(sn * fp[3] + c * fp[4])
        b = fp[9]
        q = fp[6]
        t = fp[7]
        nt = int(fp[8])
        det_a = a11 * a22 - a12 * a12
        for k in range(n_pts):
            phi = 2.0 * math.pi * k / n_pts
            x1 = b * math.cos(phi) / q
            y1 = b * math.sin(phi)
            _, _, _, h11, h12, h22 = _epl_major_axis(x1, y1, b, t, q, nt)
            det_h = h11 * h22 - h12 * h12
            lin = -(a11 * h22 + a22 * h11 - 2.0 * a12 * h12)
            root = _smallest_positive_root(det_h, lin, det_a)
            if not (root > 0.0):
                out_x[s, k] = math.nan
                out_y[s, k] = math.nan
                continue
            big_r = b * root ** (-1.0 / t)
            x = big_r * math.cos(phi) / q
            y = big_r * math.sin(phi)
            _, ax, ay, _, _, _ = _epl_major_axis(x, y, b, t, q, nt)
            bx = a11 * x + a12 * y - ax
            by = a12 * x + a22 * y - ay
            out_x[s, k] = c * bx - sn * by + off_x
            out_y[s, k] = sn * bx + c * by + off_y


@jit_parallel
def points_in_polygons(px, py, poly_x, poly_y, inside):
    """Even-odd point-in-polygon test, one point per polygon.

    Parameters
    ----------
    px, py : ndarray of float64, shape (n,)
        Points [arcsec].
    poly_x, poly_y : ndarray of float64, shape (n, m)
        Closed polygons (last vertex connects to the first) [arcsec].
    inside : ndarray of bool, shape (n,)
        Written in place.
    """
    m = poly_x.shape[1]
    for i in prange(px.shape[0]):
        x = px[i]
        y = py[i]
        odd = False
        j = m - 1
        for k in range(m):
            xk = poly_x[i, k]
            yk = poly_y[i, k]
            xj = poly_x[i, j]
            yj = poly_y[i, j]
            if (yk > y) != (yj > y):
                xc = xk + (y - yk) * (xj - xk) / (yj - yk)
                if x < xc:
                    odd = not odd
            j = k
        inside[i] = odd
