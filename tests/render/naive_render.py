"""Pure-NumPy twins of the rendering kernels, written in a different form from the kernels.

- Sersic: rotation by the position angle and ``R = sqrt(q x'**2 + y'**2/q)`` (the kernels use
  lenstronomy's e1/e2 matrix), ``numpy.exp``/``numpy.power`` instead of the polynomial
  ``vexp``/``vlog``.
- Ray shooting: ``tests.reference.naive`` (complex arithmetic and ``scipy.special.hyp2f1``).
- PSF stamps: ``scipy.special.ndtr`` for the Gaussian, a dense midpoint rule for the Moffat,
  ``scipy.ndimage.map_coordinates(order=5)`` for the pixel kernel.
- Convolution: the defining sum ``I_p = sum_j f_j K(p - u_j)`` over sub-pixels, done directly.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.special import ndtr


def sersic(x, y, amp, R_sersic, n_sersic, e1, e2, center_x, center_y):  # noqa: N803
    """lenstronomy SERSIC_ELLIPSE surface brightness [flux/arcsec^2]."""
    phi = 0.5 * np.arctan2(e2, e1)
    e = np.hypot(e1, e2)
    q = (1 - e) / (1 + e)
    z = ((x - center_x) + 1j * (y - center_y)) * np.exp(-1j * phi)
    r = np.sqrt(q * z.real**2 + z.imag**2 / q)
    r = np.maximum(r, 1e-4)
    frac = r / max(R_sersic, 1e-4)
    bn = max(1.9992 * n_sersic - 0.3271, 1e-5)
    with np.errstate(over="ignore"):
        out = amp * np.exp(-bn * (np.power(frac, 1.0 / n_sersic) - 1.0))
    return np.where(frac > 1000.0, 0.0, out)


def subpixel_centres(n_rows, n_cols, d, s, margin):
    """Sub-pixel centres as (s*s, rows, cols) arrays, from a meshgrid."""
    rows, cols = n_rows + 2 * margin, n_cols + 2 * margin
    off = (np.arange(s) + 0.5) / s - 0.5
    xs, ys = [], []
    for oy in off:
        for ox in off:
            c, r = np.meshgrid(np.arange(cols), np.arange(rows))
            xs.append((c - margin - (n_cols - 1) / 2 + ox) * d)
            ys.append((r - margin - (n_rows - 1) / 2 + oy) * d)
    return np.array(xs), np.array(ys)


def gaussian_response(u, v, sigma):
    """Pixel response of a Gaussian at offsets u, v [pixel] (unnormalised)."""
    return (ndtr((u + 0.5) / sigma) - ndtr((u - 0.5) / sigma)) * (
        ndtr((v + 0.5) / sigma) - ndtr((v - 0.5) / sigma)
    )


def moffat_response(u, v, alpha, beta, n_sub=200):
    """Pixel response of a Moffat by a dense midpoint rule (unnormalised)."""
    t = (np.arange(n_sub) + 0.5) / n_sub - 0.5
    uu = np.asarray(u)[..., None, None] + t[None, :]
    vv = np.asarray(v)[..., None, None] + t[:, None]
    p = (beta - 1) / (np.pi * alpha**2) * (1 + (uu**2 + vv**2) / alpha**2) ** (-beta)
    return p.mean(axis=(-1, -2))


def stamp(response, dx, dy, radius):
    """Unit-sum stamp ``response((b - r) - dx, (a - r) - dy)`` on (2r+1)**2 pixels."""
    idx = np.arange(-radius, radius + 1)
    v, u = np.meshgrid(idx - dy, idx - dx, indexing="ij")
    s = response(u, v)
    return s / s.sum()


def pixel_kernel_shift(kernel, dx, dy, radius):
    """Quintic-spline shift of a pixel kernel by scipy (zero outside)."""
    pad = 16
    kp = np.pad(kernel, pad)
    c = (kp.shape[0] - 1) // 2
    idx = np.arange(-radius, radius + 1)
    v, u = np.meshgrid(idx - dy + c, idx - dx + c, indexing="ij")
    out = ndimage.map_coordinates(kp, [v, u], order=5, mode="constant")
    return out / out.sum()


def convolve_direct(flux, response, s, margin, n_rows, n_cols, radius):
    """``I_p = sum_j f_j K(p - u_j)`` summed directly over the sub-pixels within the radius.

    flux : (s*s, rows, cols) sub-pixel fluxes of the padded frame; response(u, v) unit-sum
    pixel response at offsets [pixel] (normalised per sub-pixel offset, as the kernels do).
    """
    off = (np.arange(s) + 0.5) / s - 0.5
    out = np.zeros((n_rows, n_cols))
    idx = np.arange(-radius, radius + 1)
    for ky, oy in enumerate(off):
        for kx, ox in enumerate(off):
            v, u = np.meshgrid(idx - oy, idx - ox, indexing="ij")
            k = response(u, v)
            k = k / k.sum()
            f = flux[ky * s + kx]
            for a in range(n_rows):
                for b in range(n_cols):
                    # source pixel q = p - m, m in [-r, r]
                    pr, pc = a + margin, b + margin
                    rows = pr - idx
                    cols = pc - idx
                    ok_r = (rows >= 0) & (rows < f.shape[0])
                    ok_c = (cols >= 0) & (cols < f.shape[1])
                    sub = f[np.ix_(rows[ok_r], cols[ok_c])]
                    out[a, b] += np.sum(sub * k[np.ix_(ok_r, ok_c)])
    return out
