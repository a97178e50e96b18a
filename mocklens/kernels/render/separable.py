"""Direct polyphase convolution with a separable PSF (the Gaussian), without an FFT.

A Gaussian's pixel response is a product ``K_k(i, j) = ky_k[i] kx_k[j]`` for every sub-pixel
offset ``k``, so the polyphase convolution ``out = sum_k f_k (*) K_k`` is two 1-D passes per
plane: ``(2 r + 1)`` multiply-adds per pixel and pass instead of an FFT, and the inner loops
run along rows, so they vectorise.
"""

from __future__ import annotations

import math

import numpy as np

from mocklens.kernels._jit import jit, jit_parallel, prange


@jit
def gaussian_factors(sigma, s, radius):
    """1-D pixel responses of a Gaussian at every sub-pixel offset, each of unit sum.

    Parameters
    ----------
    sigma : float
        Standard deviation [pixel].
    s : int
        Supersampling factor.
    radius : int
        Stamp radius ``r`` [pixel].

    Returns
    -------
    kx, ky : ndarray of float64, shape (s * s, 2 r + 1)
        ``bank[k] = ky[k][:, None] * kx[k][None, :]`` (``psf.kernel_bank`` of the Gaussian).
    """
    c = 1.0 / (sigma * math.sqrt(2.0))
    kx = np.empty((s * s, 2 * radius + 1))
    ky = np.empty((s * s, 2 * radius + 1))
    for ky_i in range(s):
        for kx_i in range(s):
            k = ky_i * s + kx_i
            dx = (kx_i + 0.5) / s - 0.5
            dy = (ky_i + 0.5) / s - 0.5
            tx = 0.0
            ty = 0.0
            for i in range(2 * radius + 1):
                u = i - radius - dx
                v = i - radius - dy
                kx[k, i] = 0.5 * (math.erf((u + 0.5) * c) - math.erf((u - 0.5) * c))
                ky[k, i] = 0.5 * (math.erf((v + 0.5) * c) - math.erf((v - 0.5) * c))
                tx += kx[k, i]
                ty += ky[k, i]
            for i in range(2 * radius + 1):
                kx[k, i] /= tx
                ky[k, i] /= ty
    return kx, ky


@jit_parallel
def convolve_separable_batch(flux, kx, ky, margin, out):
    """``out = sum_k f_k (*) (ky_k kx_k)`` cropped to the frame, for a batch.

    Parameters
    ----------
    flux : ndarray of float64, shape (n, s*s, rows, cols)
        Sub-pixel flux planes of the frame plus ``margin`` on each side [flux].
    kx, ky : ndarray of float64, shape (s*s, 2 r + 1)
        Separable pixel responses (:func:`gaussian_factors`).
    margin : int
        Margin of ``flux`` around the frame [pixel]; light beyond it counts as zero.
    out : ndarray of float64, shape (n, n_rows, n_cols)
        Written in place [flux per pixel].
    """
    n_rows = out.shape[1]
    n_cols = out.shape[2]
    rows = flux.shape[2]
    cols = flux.shape[3]
    r = (kx.shape[1] - 1) // 2
    for i in prange(flux.shape[0]):
        tmp = np.empty((rows, n_cols))
        for a in range(n_rows):
            for b in range(n_cols):
                out[i, a, b] = 0.0
        for k in range(flux.shape[1]):
            # along x: tmp[row, b] = sum_j f[row, margin + b - j] kx[j]
            for row in range(rows):
                for b in range(n_cols):
                    tmp[row, b] = 0.0
                for jj in range(2 * r + 1):
                    w = kx[k, jj]
                    off = margin - (jj - r)
                    b0 = max(0, -off)
                    b1 = min(n_cols, cols - off)
                    for b in range(b0, b1):
                        tmp[row, b] += w * flux[i, k, row, b + off]
            # along y: out[a, b] += sum_i tmp[margin + a - i, b] ky[i]
            for a in range(n_rows):
                for ii in range(2 * r + 1):
                    src = margin + a - (ii - r)
                    if src < 0 or src >= rows:
                        continue
                    w = ky[k, ii]
                    for b in range(n_cols):
                        out[i, a, b] += w * tmp[src, b]
