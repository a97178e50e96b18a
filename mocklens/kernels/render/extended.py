"""Extended light of a batch of systems: ray shooting and surface brightness in one pass.

Per system and per block of sub-pixel rays: deflect (``raytrace.deflect_block``), evaluate the
source light at ``beta`` and the lens light at ``theta`` (``light.light_block``), and store
flux per sub-pixel (surface brightness x sub-pixel area). No ray coordinates are stored, so the
working set of a block stays in L1 cache.
"""

from __future__ import annotations

import numpy as np

from mocklens.kernels._jit import jit_parallel, prange
from mocklens.kernels.render.light import LIGHT_SCRATCH_ROWS, light_block
from mocklens.kernels.render.raytrace import BLOCK, SCRATCH_ROWS, deflect_block, series_coefficients


@jit_parallel
def render_extended_batch(
    x, y, lens_codes, lens_packed, src_codes, src_packed, ll_codes, ll_packed, area, out_src, out_ll
):
    """Sub-pixel flux of the lensed source and of the lens light for every system.

    Parameters
    ----------
    x, y : ndarray of float64, shape (n,)
        Sub-pixel centres shared by all systems (``grid.subpixel_grid``) [arcsec].
    lens_codes : ndarray of int64, shape (n_lens,)
        Lens profile codes.
    lens_packed : ndarray of float64, shape (n_sys, n_lens, PACK_WIDTH)
        Packed lens parameters.
    src_codes, ll_codes : ndarray of int64, shape (n_src,), (n_ll,)
        Light profile codes of source and lens light (length 0: none).
    src_packed, ll_packed : ndarray of float64, shape (n_sys, n_src | n_ll, LIGHT_WIDTH)
        Packed light parameters.
    area : float
        Sub-pixel area [arcsec^2].
    out_src, out_ll : ndarray of float64, shape (n_sys, n)
        Written in place: flux per sub-pixel [flux] (left untouched when the model is empty).
    """
    n = x.shape[0]
    for i in prange(lens_packed.shape[0]):
        coeffs = series_coefficients(lens_codes, lens_packed[i])
        scr = np.empty((SCRATCH_ROWS, BLOCK))
        iscr = scr.view(np.int64)
        lscr = np.empty((LIGHT_SCRATCH_ROWS, BLOCK))
        ilscr = lscr.view(np.int64)
        ax = np.empty(BLOCK)
        ay = np.empty(BLOCK)
        buf = np.empty(BLOCK)
        for start in range(0, n, BLOCK):
            m = min(BLOCK, n - start)
            if src_codes.shape[0] > 0:
                deflect_block(x, y, start, m, lens_codes, lens_packed[i], coeffs, ax, ay, scr, iscr)
                for j in range(m):
                    ax[j] = x[start + j] - ax[j]
                    ay[j] = y[start + j] - ay[j]
                light_block(ax, ay, 0, m, src_codes, src_packed[i], buf, lscr, ilscr)
                for j in range(m):
                    out_src[i, start + j] = buf[j] * area
            if ll_codes.shape[0] > 0:
                light_block(x, y, start, m, ll_codes, ll_packed[i], buf, lscr, ilscr)
                for j in range(m):
                    out_ll[i, start + j] = buf[j] * area
