"""Pixel-integrated PSF stamps at arbitrary sub-pixel positions.

Every PSF kind is used through its *pixel response* ``K(d)``: the fraction of a point
source's flux that falls in a pixel whose centre is ``d`` [pixel] from the source, i.e. the
PSF convolved with the pixel box. A stamp is ``K`` on the ``(2 r + 1)**2`` pixels around the
pixel nearest the source, ``stamp[a, b] = K((b - r) - dx, (a - r) - dy)`` (``a`` rows along +y,
``b`` columns along +x; ``dx, dy`` the source offset from the stamp's centre pixel), normalised
to unit sum so that a stamp carries exactly its flux.

- Gaussian: exact, ``K = [Phi((u + 1/2)/sigma) - Phi((u - 1/2)/sigma)] x (same in v)``.
- Moffat ``P(r) = (beta - 1)/(pi alpha**2) (1 + r**2/alpha**2)**(-beta)``: Gauss-Legendre
  quadrature over each pixel (the integrand is analytic, so a few nodes per axis reach 1e-8).
- Pixel kernel (an odd-sized array that already is ``K`` at integer offsets): interpolated
  by a quintic B-spline through the samples (exact at integer offsets); the accuracy between
  samples depends on how well the kernel is sampled (FWHM >= 3 pixel: better than 1e-3).

References
----------
Unser, M. 1999, IEEE Signal Processing Magazine 16, 22 (B-spline interpolation).
Moffat, A. F. J. 1969, A&A 3, 455.
"""

from __future__ import annotations

import math

import numpy as np

from mocklens.kernels._jit import jit

PSF_GAUSSIAN, PSF_MOFFAT, PSF_PIXEL = 0, 1, 2


@jit
def _normalise(out):
    total = 0.0
    for a in range(out.shape[0]):
        for b in range(out.shape[1]):
            total += out[a, b]
    for a in range(out.shape[0]):
        for b in range(out.shape[1]):
            out[a, b] /= total


@jit
def gaussian_stamp(dx, dy, sigma, out):
    """Pixel-integrated Gaussian stamp.

    Parameters
    ----------
    dx, dy : float
        Source offset from the stamp's centre pixel [pixel].
    sigma : float
        Gaussian standard deviation [pixel].
    out : ndarray of float64, shape (2 r + 1, 2 r + 1)
        Written in place, unit sum.
    """
    r = (out.shape[0] - 1) // 2
    gx = np.empty(2 * r + 1)
    gy = np.empty(2 * r + 1)
    c = 1.0 / (sigma * math.sqrt(2.0))
    for i in range(2 * r + 1):
        u = i - r - dx
        gx[i] = 0.5 * (math.erf((u + 0.5) * c) - math.erf((u - 0.5) * c))
        v = i - r - dy
        gy[i] = 0.5 * (math.erf((v + 0.5) * c) - math.erf((v - 0.5) * c))
    for a in range(2 * r + 1):
        for b in range(2 * r + 1):
            out[a, b] = gy[a] * gx[b]
    _normalise(out)


@jit
def moffat_stamp(dx, dy, alpha, beta, nodes, weights, out):
    """Pixel-integrated Moffat stamp by Gauss-Legendre quadrature over each pixel.

    Parameters
    ----------
    dx, dy : float
        Source offset from the stamp's centre pixel [pixel].
    alpha : float
        Moffat core width [pixel] (``FWHM = 2 alpha sqrt(2**(1/beta) - 1)``).
    beta : float
        Moffat power index, > 1 [dimensionless].
    nodes, weights : ndarray of float64, shape (n_gl,)
        Gauss-Legendre nodes on [-1/2, 1/2] and weights summing to one.
    out : ndarray of float64, shape (2 r + 1, 2 r + 1)
        Written in place, unit sum.
    """
    r = (out.shape[0] - 1) // 2
    inv_a2 = 1.0 / (alpha * alpha)
    norm = (beta - 1.0) / (math.pi * alpha * alpha)
    ng = nodes.shape[0]
    for a in range(2 * r + 1):
        v0 = a - r - dy
        for b in range(2 * r + 1):
            u0 = b - r - dx
            acc = 0.0
            for i in range(ng):
                v = v0 + nodes[i]
                for j in range(ng):
                    u = u0 + nodes[j]
                    acc += weights[i] * weights[j] * (1.0 + (u * u + v * v) * inv_a2) ** (-beta)
            out[a, b] = norm * acc
    _normalise(out)


@jit
def _bspline5(t):
    """Centred quintic B-spline (support |t| < 3)."""
    t = abs(t)
    if t < 1.0:
        t2 = t * t
        return 0.55 - 0.5 * t2 + 0.25 * t2 * t2 - t2 * t2 * t / 12.0
    if t < 2.0:
        t2 = t * t
        return (
            17.0 / 40.0 + 0.625 * t - 1.75 * t2 + 1.25 * t2 * t - 0.375 * t2 * t2
            + t2 * t2 * t / 24.0
        )
    if t < 3.0:
        u = 3.0 - t
        return u * u * u * u * u / 120.0
    return 0.0


@jit
def pixel_kernel_stamp(coeffs, pad, dx, dy, out):
    """Shift a pixel kernel by a sub-pixel offset with a quintic B-spline interpolant.

    Parameters
    ----------
    coeffs : ndarray of float64, shape (2 R + 1 + 2 pad, 2 R + 1 + 2 pad)
        Quintic B-spline coefficients of the kernel zero-padded by ``pad`` pixels
        (``scipy.ndimage.spline_filter(order=5)``, made in ``mocklens.models.instrument``).
    pad : int
        Zero padding of ``coeffs`` on each side [pixel].
    dx, dy : float
        Source offset from the stamp's centre pixel [pixel].
    out : ndarray of float64, shape (2 r + 1, 2 r + 1)
        Written in place (``r = R + 3`` covers the interpolant's support), unit sum.

    Notes
    -----
    The interpolant passes through the kernel's samples, so a point at a pixel centre gets
    the kernel itself; between samples its error falls as the sixth power of the sampling
    (Unser 1999), about 7e-4 relative L2 for a Gaussian of FWHM 3.2 pixel at half-pixel
    offsets, against 2e-2 for Keys' cubic convolution.
    """
    n = coeffs.shape[0]
    centre = (n - 1) // 2
    r = (out.shape[0] - 1) // 2
    for a in range(2 * r + 1):
        yv = a - r - dy + centre
        i0 = int(math.floor(yv)) - 2
        for b in range(2 * r + 1):
            xv = b - r - dx + centre
            j0 = int(math.floor(xv)) - 2
            acc = 0.0
            for i in range(i0, i0 + 6):
                if i < 0 or i >= n:
                    continue
                wy = _bspline5(yv - i)
                for j in range(j0, j0 + 6):
                    if j < 0 or j >= n:
                        continue
                    acc += coeffs[i, j] * wy * _bspline5(xv - j)
            out[a, b] = acc
    _normalise(out)


@jit
def psf_stamp(kind, params, kernel, nodes, weights, dx, dy, out):
    """Pixel-integrated stamp of any PSF kind (see the module notes).

    Parameters
    ----------
    kind : int
        ``PSF_GAUSSIAN``, ``PSF_MOFFAT`` or ``PSF_PIXEL``.
    params : ndarray of float64, shape (2,)
        Gaussian: ``sigma`` [pixel]; Moffat: ``alpha`` [pixel], ``beta``; pixel kernel:
        the padding of ``kernel``.
    kernel : ndarray of float64, shape (m, m)
        ``PSF_PIXEL``: B-spline coefficients of the padded kernel (see
        :func:`pixel_kernel_stamp`); any 2-D array otherwise.
    nodes, weights : ndarray of float64, shape (n_gl,)
        Quadrature rule on [-1/2, 1/2] (``PSF_MOFFAT`` only).
    dx, dy : float
        Source offset from the stamp's centre pixel [pixel].
    out : ndarray of float64, shape (2 r + 1, 2 r + 1)
        Written in place, unit sum.
    """
    if kind == PSF_GAUSSIAN:
        gaussian_stamp(dx, dy, params[0], out)
    elif kind == PSF_MOFFAT:
        moffat_stamp(dx, dy, params[0], params[1], nodes, weights, out)
    else:
        pixel_kernel_stamp(kernel, int(params[0]), dx, dy, out)


@jit
def kernel_bank(kind, params, kernel, nodes, weights, s, radius):
    """PSF stamps at every sub-pixel offset: the polyphase convolution kernels.

    Parameters
    ----------
    kind, params, kernel, nodes, weights
        As in :func:`psf_stamp`.
    s : int
        Supersampling factor.
    radius : int
        Stamp radius ``r`` [pixel].

    Returns
    -------
    ndarray of float64, shape (s * s, 2 r + 1, 2 r + 1)
        ``bank[k]`` is the stamp of a point at sub-pixel offset ``k = ky * s + kx``
        (``((kx + 1/2)/s - 1/2, (ky + 1/2)/s - 1/2)`` pixel), so that an image is
        ``sum_k f_k (*) bank[k]`` for sub-pixel flux planes ``f_k``.
    """
    bank = np.empty((s * s, 2 * radius + 1, 2 * radius + 1))
    for ky in range(s):
        for kx in range(s):
            psf_stamp(
                kind, params, kernel, nodes, weights,
                (kx + 0.5) / s - 0.5, (ky + 0.5) / s - 0.5, bank[ky * s + kx],
            )
    return bank
