"""Every rendering kernel against its pure-NumPy twin (``naive_render``, ``tests.reference.naive``).

Also: the blocked EPL ray shooting against the scalar lens kernels of ``mocklens.kernels``
(``kernels/epl.py``) to 1e-12, including small axis ratios where a fixed-length series fails.
"""

from __future__ import annotations

import numpy as np
import pytest

from mocklens.kernels.lens import raytrace_batch
from mocklens.kernels.render.grid import subpixel_grid
from mocklens.kernels.render.light import surface_brightness
from mocklens.kernels.render.psf import gaussian_stamp, moffat_stamp
from mocklens.kernels.render.raytrace import raytrace_grid_batch
from mocklens.kernels.render.vmath import vexp, vlog
from mocklens.models.instrument import PSF, PixelGrid
from mocklens.models.lenses import pack
from mocklens.models.light import pack_light
from mocklens.models.render import Renderer
from tests.reference import naive
from tests.render import naive_render

# --- named tolerances ---------------------------------------------------------------------
#: vexp/vlog vs numpy, relative: degree-13/23 polynomials with truncation below 1e-17 and a
#: handful of roundings, i.e. a few ulp.
VMATH_RTOL = 1e-15
#: Blocked vs scalar EPL deflection [arcsec], the brief's bound: both sum the same series
#: (Horner vs forward recurrence), so only rounding differs (~1e-15 seen).
RAYTRACE_ATOL = 1e-12
#: Relative part of the same bounds, for the near-centre ray where alpha ~ 1e4 arcsec
#: (gamma = 2.5): a few ulp of the value.
RAYTRACE_RTOL = 1e-14
#: Blocked ray shooting vs the hyp2f1 twin [arcsec]: the series is truncated at 1e-14 of its
#: leading term (SERIES_TOLERANCE) and hyp2f1 is good to ~1e-14.
RAYTRACE_NAIVE_ATOL = 1e-11
#: Sersic kernel vs numpy twin, relative: vlog + two vexp, each a few ulp, and the exponent
#: ``b_n ((R/R_s)**(1/n) - 1)`` reaches ~100 where an ulp of it is 1e-14 relative in exp().
SERSIC_RTOL = 1e-12
#: Gaussian stamp vs ndtr twin, absolute on unit-sum stamps (erf vs ndtr rounding).
GAUSSIAN_ATOL = 1e-15
#: Moffat 8-node Gauss-Legendre vs a 200x200 midpoint rule (error ~ h**2/24 x curvature):
#: the midpoint twin is the less accurate side, ~5e-7 absolute on unit-sum stamps.
MOFFAT_ATOL = 1e-6
#: Pixel-kernel stamp vs scipy's quintic spline, absolute on unit-sum stamps (same
#: interpolant; prefilter boundaries differ at 0.43**12 of the edge values).
PIXEL_ATOL = 1e-9
#: Polyphase FFT convolution vs the direct sum, relative to the image maximum (FFT rounding).
CONVOLUTION_RTOL = 1e-11


def _lens(q, gamma=2.0, theta=0.3, kind="EPL", n=1):
    e = (1 - q) / (1 + q)
    kw = dict(
        theta_E=1.2, e1=e * np.cos(2 * theta), e2=e * np.sin(2 * theta), center_x=0.03,
        center_y=-0.02,
    )
    if kind == "EPL":
        kw["gamma"] = gamma
    shear = dict(gamma1=0.04, gamma2=-0.02)
    arrays = [{k: np.full(n, v) for k, v in d.items()} for d in (kw, shear)]
    return pack((kind, "SHEAR"), arrays), (kind, "SHEAR"), [kw, shear]


def test_vexp_vlog_match_numpy():
    rng = np.random.default_rng(1)
    n = 64
    buf = np.empty(n)
    ib = buf.view(np.int64)
    tmp = np.empty(n)
    it = tmp.view(np.int64)
    for lo, hi in ((-700, 700), (-1, 1), (-1e-8, 1e-8)):
        x = rng.uniform(lo, hi, n)
        buf[:] = x
        vexp(buf, ib, tmp, n)
        np.testing.assert_allclose(buf, np.exp(x), rtol=VMATH_RTOL)
    for lo, hi in ((-700, 700), (-1e-3, 1e-3)):
        x = np.exp(rng.uniform(lo, hi, n))
        buf[:] = x
        vlog(buf, ib, tmp, it, n)
        ref = np.log(x)
        assert np.max(np.abs(buf - ref) / np.maximum(np.abs(ref), 1.0)) < VMATH_RTOL
    # partial blocks leave the rest alone
    buf[:] = 2.0
    vexp(buf, ib, tmp, 5)
    assert np.all(buf[5:] == 2.0)


@pytest.mark.parametrize("q", [1.0, 0.9, 0.7, 0.3, 0.1, 0.03])
@pytest.mark.parametrize("gamma", [1.6, 2.0, 2.5])
def test_blocked_epl_matches_scalar_kernel(q, gamma):
    rng = np.random.default_rng(2)
    # 1000 rays: 15 full blocks and a partial one; the centre itself and a near-centre ray
    x = rng.uniform(-3, 3, 1000)
    y = rng.uniform(-3, 3, 1000)
    x[0], y[0] = 0.03, -0.02
    x[1], y[1] = 0.03 + 1e-9, -0.02
    lens, kinds, kws = _lens(q, gamma)
    bx = np.empty((1, x.size))
    by = np.empty((1, x.size))
    raytrace_grid_batch(x, y, lens.codes, lens.packed, bx, by)
    rx = np.empty(x.size)
    ry = np.empty(x.size)
    codes, packed = lens.system(0)
    raytrace_batch(x, y, codes, packed, rx, ry)
    np.testing.assert_allclose(bx[0], rx, rtol=RAYTRACE_RTOL, atol=RAYTRACE_ATOL)
    np.testing.assert_allclose(by[0], ry, rtol=RAYTRACE_RTOL, atol=RAYTRACE_ATOL)
    nx, ny = naive.raytrace(x[1:], y[1:], kinds, kws)
    np.testing.assert_allclose(bx[0, 1:], nx, rtol=1e3 * RAYTRACE_RTOL, atol=RAYTRACE_NAIVE_ATOL)
    np.testing.assert_allclose(by[0, 1:], ny, rtol=1e3 * RAYTRACE_RTOL, atol=RAYTRACE_NAIVE_ATOL)


@pytest.mark.parametrize(
    "kinds",
    [("SIE", "SHEAR"), ("SIS", "CONVERGENCE"), ("POINT_MASS", "SHEAR"), ("EPL", "SIS", "SHEAR")],
)
def test_blocked_raytrace_other_profiles_match_scalar(kinds):
    rng = np.random.default_rng(3)
    x = rng.uniform(-3, 3, 300)
    y = rng.uniform(-3, 3, 300)
    kw = {
        "EPL": dict(theta_E=1.0, gamma=2.2, e1=0.2, e2=-0.1, center_x=0.1, center_y=0.0),
        "SIE": dict(theta_E=1.0, e1=0.3, e2=0.1, center_x=0.0, center_y=0.1),
        "SIS": dict(theta_E=0.3, center_x=0.5, center_y=-0.4),
        "POINT_MASS": dict(theta_E=0.8, center_x=0.0, center_y=0.0),
        "SHEAR": dict(gamma1=0.05, gamma2=0.02),
        "CONVERGENCE": dict(kappa=0.1),
    }
    kws = [kw[k] for k in kinds]
    lens = pack(kinds, [{k: np.array([v]) for k, v in d.items()} for d in kws])
    bx = np.empty((1, x.size))
    by = np.empty((1, x.size))
    raytrace_grid_batch(x, y, lens.codes, lens.packed, bx, by)
    nx, ny = naive.raytrace(x, y, kinds, kws)
    np.testing.assert_allclose(bx[0], nx, rtol=0, atol=RAYTRACE_NAIVE_ATOL)
    np.testing.assert_allclose(by[0], ny, rtol=0, atol=RAYTRACE_NAIVE_ATOL)


def test_sersic_matches_twin():
    rng = np.random.default_rng(4)
    x = rng.uniform(-2, 2, 2000)
    y = rng.uniform(-2, 2, 2000)
    x[:3] = [0.1, 0.1 + 1e-6, 300.0]  # the centre, inside the 1e-4 floor, beyond 1000 R_s
    y[:3] = [-0.2, -0.2, 0.0]
    for kw in (
        dict(amp=3.0, R_sersic=0.3, n_sersic=1.0, e1=0.1, e2=-0.2, center_x=0.1, center_y=-0.2),
        dict(amp=1.0, R_sersic=0.05, n_sersic=4.0, e1=-0.3, e2=0.0, center_x=0.1, center_y=-0.2),
        dict(amp=1.0, R_sersic=1.0, n_sersic=0.5, e1=0.0, e2=0.0, center_x=0.1, center_y=-0.2),
    ):
        light = pack_light(("SERSIC_ELLIPSE",), [{k: np.array([v]) for k, v in kw.items()}])
        out = np.empty(x.size)
        surface_brightness(x, y, light.codes, light.packed[0], out)
        ref = naive_render.sersic(x, y, **kw)
        np.testing.assert_allclose(out, ref, rtol=SERSIC_RTOL, atol=0)
        assert out[2] == 0.0 or kw["R_sersic"] * 1000 > 300


def test_subpixel_grid_matches_twin():
    for s, margin in ((1, 0), (2, 3), (3, 1)):
        x, y = subpixel_grid(5, 7, 0.1, s, margin)
        nx, ny = naive_render.subpixel_centres(5, 7, 0.1, s, margin)
        np.testing.assert_allclose(x, nx.ravel(), atol=1e-15)
        np.testing.assert_allclose(y, ny.ravel(), atol=1e-15)


def test_psf_stamps_match_twins():
    r = 8
    for dx, dy in ((0.0, 0.0), (0.37, -0.21), (-0.5, 0.5)):
        out = np.empty((2 * r + 1, 2 * r + 1))
        gaussian_stamp(dx, dy, 1.3, out)
        ref = naive_render.stamp(lambda u, v: naive_render.gaussian_response(u, v, 1.3), dx, dy, r)
        np.testing.assert_allclose(out, ref, rtol=0, atol=GAUSSIAN_ATOL)
        x, w = np.polynomial.legendre.leggauss(8)
        moffat_stamp(dx, dy, 1.6, 2.5, 0.5 * x, 0.5 * w, out)
        ref = naive_render.stamp(
            lambda u, v: naive_render.moffat_response(u, v, 1.6, 2.5), dx, dy, r
        )
        np.testing.assert_allclose(out, ref, rtol=0, atol=MOFFAT_ATOL)
    # pixel kernel through the model front end (prefilter), then the stamp kernel
    k = naive_render.stamp(lambda u, v: naive_render.gaussian_response(u, v, 1.5), 0.0, 0.0, 6)
    prepared = PSF.pixel(k).prepare(0.1)
    from mocklens.kernels.render.psf import psf_stamp

    out = np.empty((2 * prepared.radius + 1,) * 2)
    for dx, dy in ((0.0, 0.0), (0.3, -0.45)):
        psf_stamp(prepared.kind, prepared.params, prepared.kernel, prepared.nodes,
                  prepared.weights, dx, dy, out)
        ref = naive_render.pixel_kernel_shift(k, dx, dy, prepared.radius)
        np.testing.assert_allclose(out, ref, rtol=0, atol=PIXEL_ATOL)
    # at a pixel centre the interpolant is the kernel itself
    psf_stamp(prepared.kind, prepared.params, prepared.kernel, prepared.nodes, prepared.weights,
              0.0, 0.0, out)
    np.testing.assert_allclose(out[3:-3, 3:-3], k, atol=PIXEL_ATOL)


@pytest.mark.parametrize("s", [1, 2, 3])
def test_polyphase_convolution_matches_direct_sum(s):
    n_rows, n_cols, d = 12, 10, 0.1
    grid = PixelGrid(n_rows, n_cols, d, s)
    psf = PSF.gaussian(0.25)
    renderer = Renderer.build(grid, psf)
    kw = dict(amp=2.0, R_sersic=0.2, n_sersic=1.5, e1=0.2, e2=0.1, center_x=0.13, center_y=-0.4)
    light = pack_light(("SERSIC_ELLIPSE",), [{k: np.array([v]) for k, v in kw.items()}])
    lens, _, _ = _lens(0.8)
    img = renderer.render(lens, lens_light=light).model[0]
    m = renderer.margin
    x, y = naive_render.subpixel_centres(n_rows, n_cols, d, s, m)
    flux = naive_render.sersic(x, y, **kw) * (d / s) ** 2
    sigma = 0.25 / (2 * np.sqrt(2 * np.log(2))) / d
    ref = naive_render.convolve_direct(
        flux, lambda u, v: naive_render.gaussian_response(u, v, sigma), s, m, n_rows, n_cols,
        renderer.psf.radius,
    )
    # float32 output: compare at its precision
    np.testing.assert_allclose(img, ref, rtol=0, atol=max(CONVOLUTION_RTOL, 2e-7) * ref.max())


def test_points_match_naive_placement_with_clipping():
    from mocklens.kernels.render.pointsource import add_points_batch

    grid = PixelGrid(20, 16, 0.1, 1)
    prepared = PSF.gaussian(0.3).prepare(0.1)
    r = prepared.radius
    # one image well inside, one straddling the left edge, one outside but with wings inside
    x = np.array([[0.123, -0.79, 0.95, np.nan]])
    y = np.array([[-0.31, 0.2, -1.02, np.nan]])
    f = np.array([[5.0, 3.0, 2.0, np.nan]])
    col, row = grid.to_pixel(x, y)
    img = np.zeros((1, 20, 16))
    add_points_batch(col, row, f, prepared.kind, prepared.params, prepared.kernel,
                     prepared.nodes, prepared.weights, r, img)
    pad = 2 * r + 2
    ref = np.zeros((20 + 2 * pad, 16 + 2 * pad))
    sigma = prepared.params[0]
    for k in range(3):
        cc, rc = int(np.floor(col[0, k] + 0.5)), int(np.floor(row[0, k] + 0.5))
        st = naive_render.stamp(
            lambda u, v: naive_render.gaussian_response(u, v, sigma),
            col[0, k] - cc, row[0, k] - rc, r,
        )
        ref[rc - r + pad : rc + r + 1 + pad, cc - r + pad : cc + r + 1 + pad] += f[0, k] * st
    ref = ref[pad : pad + 20, pad : pad + 16]
    np.testing.assert_allclose(img[0], ref, rtol=0, atol=1e-14)
    assert 0 < img.sum() < 10.0


@pytest.mark.parametrize("s, margin", [(2, None), (3, 0)])
def test_separable_gaussian_convolution_matches_fft_path(s, margin):
    from dataclasses import replace

    renderer = Renderer.build(PixelGrid(20, 24, 0.1, s), PSF.gaussian(0.3), margin=margin)
    assert renderer.factors is not None
    fft_renderer = replace(renderer, factors=None)
    lens, _, _ = _lens(0.7, n=2)
    kw = dict(amp=2.0, R_sersic=0.2, n_sersic=1.5, e1=0.2, e2=0.1, center_x=0.9, center_y=-0.4)
    light = pack_light(("SERSIC_ELLIPSE",), [{k: np.full(2, v) for k, v in kw.items()}])
    a = renderer.render(lens, source=light).model
    b = fft_renderer.render(lens, source=light).model
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-6 * b.max())
