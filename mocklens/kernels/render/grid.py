"""Pixel grids: pixel and sub-pixel centres, in the polyphase layout the renderer uses.

A frame of ``n_rows x n_cols`` pixels of side ``pixel_scale`` [arcsec] is centred on the
optical axis. ``image[row, col]``: ``col`` runs along +x, ``row`` along +y, and row 0 is the
most negative y (display with ``origin="lower"`` to see +y up). Pixel centres are

    x = (col - (n_cols - 1) / 2) * pixel_scale,   y = (row - (n_rows - 1) / 2) * pixel_scale.

This is lenstronomy's ``ImageData`` with ``transform_pix2angle = diag(d, d)`` and
``ra_at_xy_0 = -(n_cols - 1) d / 2``.

Supersampling ``s`` places ``s x s`` sub-pixels at the midpoints
``(k + 0.5)/s - 0.5`` pixel from the pixel centre (k = 0..s-1), as lenstronomy's
``make_subgrid``. The renderer stores sub-pixel values as ``(s*s, rows, cols)`` planes, one per
sub-pixel offset (index ``k = ky * s + kx``), so that a PSF convolution is a sum over planes of
ordinary pixel-grid convolutions (a polyphase convolution).
"""

from __future__ import annotations

import numpy as np

from mocklens.kernels._jit import jit


@jit
def subpixel_offsets(s):
    """Offsets of the sub-pixel midpoints from their pixel centre.

    Parameters
    ----------
    s : int
        Supersampling factor, >= 1.

    Returns
    -------
    dx, dy : ndarray of float64, shape (s * s,)
        Offsets [pixel] of sub-pixel ``k = ky * s + kx``.
    """
    dx = np.empty(s * s)
    dy = np.empty(s * s)
    for ky in range(s):
        for kx in range(s):
            dx[ky * s + kx] = (kx + 0.5) / s - 0.5
            dy[ky * s + kx] = (ky + 0.5) / s - 0.5
    return dx, dy


@jit
def subpixel_grid(n_rows, n_cols, pixel_scale, s, margin):
    """Sub-pixel centres of a frame and a margin around it, polyphase order.

    Parameters
    ----------
    n_rows, n_cols : int
        Frame size [pixel].
    pixel_scale : float
        Pixel side [arcsec].
    s : int
        Supersampling factor.
    margin : int
        Extra pixels on every side (the rendered frame is ``n_rows + 2 margin`` by
        ``n_cols + 2 margin``; pixel ``(margin, margin)`` is frame pixel ``(0, 0)``).

    Returns
    -------
    x, y : ndarray of float64, shape (s * s * (n_rows + 2 margin) * (n_cols + 2 margin),)
        Sub-pixel centres [arcsec], ordered ``[k, row, col]`` with ``k = ky * s + kx``.
    """
    rows = n_rows + 2 * margin
    cols = n_cols + 2 * margin
    dx, dy = subpixel_offsets(s)
    x = np.empty(s * s * rows * cols)
    y = np.empty(s * s * rows * cols)
    x0 = -(n_cols - 1) / 2.0 - margin
    y0 = -(n_rows - 1) / 2.0 - margin
    i = 0
    for k in range(s * s):
        for r in range(rows):
            yr = (y0 + r + dy[k]) * pixel_scale
            for c in range(cols):
                x[i] = (x0 + c + dx[k]) * pixel_scale
                y[i] = yr
                i += 1
    return x, y


@jit
def sky_to_pixel(x, y, n_rows, n_cols, pixel_scale):
    """Continuous pixel coordinates of sky positions (pixel centres are integers).

    Parameters
    ----------
    x, y : float
        Sky position [arcsec].
    n_rows, n_cols : int
        Frame size [pixel].
    pixel_scale : float
        Pixel side [arcsec].

    Returns
    -------
    col, row : float
        Column (+x) and row (+y) coordinates [pixel].
    """
    return x / pixel_scale + (n_cols - 1) / 2.0, y / pixel_scale + (n_rows - 1) / 2.0
