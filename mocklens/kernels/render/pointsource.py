"""Point sources (quasar images) drawn with the PSF at their exact sub-pixel positions."""

from __future__ import annotations

import math

import numpy as np

from mocklens.kernels._jit import jit_parallel, prange
from mocklens.kernels.render.psf import psf_stamp


@jit_parallel
def add_points_batch(
    col, row, amp, kind, params, kernel, nodes, weights, radius, image
):
    """Add point sources to a batch of images.

    Parameters
    ----------
    col, row : ndarray of float64, shape (n_sys, K)
        Continuous pixel coordinates of the images (``col`` along +x, pixel centres at
        integers; see ``grid.sky_to_pixel``) [pixel]; NaN marks padding.
    amp : ndarray of float64, shape (n_sys, K)
        Flux of each image [flux] (NaN or 0 for padding).
    kind, params, kernel, nodes, weights
        PSF, as in ``psf.psf_stamp``.
    radius : int
        Stamp radius [pixel].
    image : ndarray of float64, shape (n_sys, n_rows, n_cols)
        Added to in place [flux per pixel]; stamp pixels outside the frame are dropped.
    """
    n_rows = image.shape[1]
    n_cols = image.shape[2]
    for i in prange(col.shape[0]):
        stamp = np.empty((2 * radius + 1, 2 * radius + 1))
        for k in range(col.shape[1]):
            a = amp[i, k]
            c = col[i, k]
            r = row[i, k]
            if not (math.isfinite(a) and math.isfinite(c) and math.isfinite(r)) or a == 0.0:
                continue
            cc = math.floor(c + 0.5)
            rc = math.floor(r + 0.5)
            # a stamp wholly outside the frame adds nothing
            if cc + radius < 0 or cc - radius >= n_cols or rc + radius < 0 or rc - radius >= n_rows:
                continue
            psf_stamp(kind, params, kernel, nodes, weights, c - cc, r - rc, stamp)
            c0 = int(cc) - radius
            r0 = int(rc) - radius
            for u in range(2 * radius + 1):
                rr = r0 + u
                if rr < 0 or rr >= n_rows:
                    continue
                for v in range(2 * radius + 1):
                    cv = c0 + v
                    if cv < 0 or cv >= n_cols:
                        continue
                    image[i, rr, cv] += a * stamp[u, v]
