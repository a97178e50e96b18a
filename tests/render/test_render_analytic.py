"""Analytic checks of the renderer, each with its formula.

- A zero-mass lens (CONVERGENCE kappa = 0: beta = theta) renders the source unchanged.
- The flux of a Sersic image equals ``amp 2 pi n R**2 e**b_n b_n**(-2n) Gamma(2n)``.
- Surface brightness is conserved along a ray: ``I_image(theta) = I_source(beta(theta))``.
- A compact source's lensed flux is ``sum_i |mu_i|`` times its flux.
- The centroid of each quasar image (noise-free, host-free) is the catalogue position.
- The noise of ``NoiseModel.draw`` has the variance ``(model + sky)/(T g) + N rn**2/(T g)**2``.
- A pixel kernel sampled from an analytic PSF renders like that PSF (supersampled).
"""

from __future__ import annotations

import numpy as np
import pytest

from mocklens.kernels.lens import raytrace_batch
from mocklens.kernels.render.extended import render_extended_batch
from mocklens.kernels.render.grid import subpixel_grid
from mocklens.kernels.render.psf import gaussian_stamp
from mocklens.models.instrument import PSF, NoiseModel, PixelGrid
from mocklens.models.lenses import pack
from mocklens.models.light import no_light, pack_light, point_image_flux, sersic_total_flux
from mocklens.models.render import Renderer
from mocklens.models.solver import solve_images
from tests.render import naive_render

#: Zero-mass lens vs unlensed rendering: the same float64 numbers, float32 output.
UNLENSED_RTOL = 1e-6
#: Sersic flux on a 12" frame at s = 8 vs the analytic total: the midpoint rule on the
#: central cusp (I ~ exp(-b (R/R_s)**(1/n))), which falls with the sub-pixel size (measured:
#: -1.5e-5 for n = 1 at 0.1" pixels, -1.1e-4 for n = 2 at 0.05"), and flux beyond the frame
#: (< 1e-6 at 30 R_s).
TOTAL_FLUX_RTOL = {0.7: 1e-4, 1.0: 1e-4, 2.0: 2e-4}
#: Conservation along a ray: polynomial exp/log, a few ulp.
SB_RTOL = 1e-12
#: Lensed flux of a 10 mas source vs sum |mu| F: the source's finite size (mu varies across it,
#: second order in size/distance to the critical curve) and the s = 8 midpoint rule.
POINT_LIKE_RTOL = 3e-3
#: The issue's bound on quasar-image centroids [pixel].
CENTROID_TOL_PIX = 0.01
#: Pixel kernel from a sampled Gaussian vs the analytic Gaussian, relative L2 (quintic
#: interpolation of a FWHM 3.2 pixel kernel: ~1e-4 measured).
PIXEL_VS_ANALYTIC_L2 = 1e-3


def _one(kinds, kws):
    return pack(kinds, [{k: np.array([v]) for k, v in kw.items()} for kw in kws])


def _light(kw, n=1):
    return pack_light(("SERSIC_ELLIPSE",), [{k: np.full(n, v) for k, v in kw.items()}])


SRC = dict(amp=4.0, R_sersic=0.4, n_sersic=1.0, e1=0.2, e2=-0.1, center_x=0.1, center_y=-0.05)


def test_zero_mass_lens_returns_unlensed_source():
    renderer = Renderer.build(PixelGrid(48, 40, 0.1, 2), PSF.gaussian(0.3))
    lens = _one(("CONVERGENCE",), [dict(kappa=0.0)])
    lensed = renderer.render(lens, source=_light(SRC)).model
    unlensed = renderer.render(lens, lens_light=_light(SRC)).model
    np.testing.assert_allclose(lensed, unlensed, rtol=UNLENSED_RTOL, atol=0)
    # and a real lens changes it
    epl = _one(("SIS",), [dict(theta_E=1.0, center_x=0.0, center_y=0.0)])
    assert not np.allclose(renderer.render(epl, source=_light(SRC)).model, unlensed, rtol=0.01)


@pytest.mark.parametrize("n_sersic, pixel_scale", [(0.7, 0.1), (1.0, 0.1), (2.0, 0.05)])
def test_sersic_total_flux_matches_analytic(n_sersic, pixel_scale):
    # R_sersic 0.2": the frame edge is 30 R_sersic away, where the n = 2 profile is ~1e-9
    kw = dict(SRC, n_sersic=n_sersic, R_sersic=0.2)
    n_pix = int(round(12.0 / pixel_scale))
    renderer = Renderer.build(PixelGrid(n_pix, n_pix, pixel_scale, 8), PSF.gaussian(0.25))
    lens = _one(("CONVERGENCE",), [dict(kappa=0.0)])
    img = renderer.render(lens, lens_light=_light(kw)).model[0].astype(np.float64)
    expected = sersic_total_flux(kw["amp"], kw["R_sersic"], n_sersic)
    assert abs(img.sum() / expected - 1) < TOTAL_FLUX_RTOL[n_sersic]


def test_surface_brightness_conserved_along_rays():
    kinds = ("EPL", "SHEAR")
    kws = [dict(theta_E=1.1, gamma=2.2, e1=0.15, e2=-0.1, center_x=0.02, center_y=0.0),
           dict(gamma1=0.03, gamma2=0.02)]
    lens = _one(kinds, kws)
    x, y = subpixel_grid(30, 30, 0.1, 1, 0)
    out = np.empty((1, x.size))
    render_extended_batch(x, y, lens.codes, lens.packed, _light(SRC).codes, _light(SRC).packed,
                          no_light(1).codes, no_light(1).packed, 1.0, out, np.zeros((1, 0)))
    bx = np.empty(x.size)
    by = np.empty(x.size)
    codes, packed = lens.system(0)
    raytrace_batch(x, y, codes, packed, bx, by)
    np.testing.assert_allclose(out[0], naive_render.sersic(bx, by, **SRC), rtol=SB_RTOL)


def test_compact_source_flux_is_magnified_flux():
    kinds = ("EPL", "SHEAR")
    kws = [dict(theta_E=1.0, gamma=2.0, e1=0.1, e2=0.05, center_x=0.0, center_y=0.0),
           dict(gamma1=0.02, gamma2=-0.01)]
    lens = _one(kinds, kws)
    # a double far (~0.3") from the caustic, so mu is near constant over the 0.01" source
    beta = (0.35, -0.2)
    src = dict(amp=1.0, R_sersic=0.01, n_sersic=1.0, e1=0.0, e2=0.0, center_x=beta[0],
               center_y=beta[1])
    images = solve_images(lens, np.array([beta[0]]), np.array([beta[1]]))
    mu = images.values["mu"][0]
    renderer = Renderer.build(PixelGrid(128, 128, 0.02, 8), PSF.gaussian(0.06))
    img = renderer.render(lens, source=_light(src)).model[0].astype(np.float64)
    total = sersic_total_flux(1.0, 0.01, 1.0)
    assert abs(img.sum() / (np.nansum(np.abs(mu)) * total) - 1) < POINT_LIKE_RTOL


def _isolated_images(n, rng):
    lens_kw = dict(theta_E=rng.uniform(1.0, 1.5, n), gamma=np.full(n, 2.0),
                   e1=rng.uniform(-0.2, 0.2, n), e2=rng.uniform(-0.2, 0.2, n),
                   center_x=np.zeros(n), center_y=np.zeros(n))
    shear = dict(gamma1=rng.uniform(-0.05, 0.05, n), gamma2=rng.uniform(-0.05, 0.05, n))
    lens = pack(("EPL", "SHEAR"), [lens_kw, shear])
    images = solve_images(lens, rng.uniform(-0.3, 0.3, n), rng.uniform(-0.3, 0.3, n))
    return lens, images


@pytest.mark.parametrize("kind", ["gaussian", "pixel"])
def test_quasar_centroids_at_catalogue_positions(kind):
    rng = np.random.default_rng(11)
    d = 0.05
    grid = PixelGrid(100, 100, d, 1)
    sigma = 3.0 / 2.3548
    if kind == "gaussian":
        psf = PSF.gaussian(3.0 * d)
    else:
        k = np.empty((21, 21))
        gaussian_stamp(0.0, 0.0, sigma, k)
        psf = PSF.pixel(k)
    renderer = Renderer.build(grid, psf)
    lens, images = _isolated_images(40, rng)
    x, y = images.values["x"], images.values["y"]
    flux = point_image_flux(np.full(40, 100.0), images.values["mu"])
    img = renderer.render(lens, points=(x, y, flux)).model.astype(np.float64)
    half = int(np.ceil(6 * sigma))
    col, row = grid.to_pixel(x, y)
    checked = 0
    for i in range(40):
        for k in np.flatnonzero(np.isfinite(x[i])):
            others = np.hypot(col[i] - col[i, k], row[i] - row[i, k])
            others = others[np.isfinite(others) & (others > 0)]
            cc, rc = int(round(col[i, k])), int(round(row[i, k]))
            inside = half <= cc < 100 - half and half <= rc < 100 - half
            if (others < 3 * half).any() or not inside:
                continue
            win = img[i, rc - half : rc + half + 1, cc - half : cc + half + 1]
            v, u = np.mgrid[rc - half : rc + half + 1, cc - half : cc + half + 1]
            assert abs((win * u).sum() / win.sum() - col[i, k]) < CENTROID_TOL_PIX
            assert abs((win * v).sum() / win.sum() - row[i, k]) < CENTROID_TOL_PIX
            checked += 1
    assert checked >= 30


def test_pixel_kernel_renders_like_analytic_psf():
    fwhm_pix = 3.2
    k = np.empty((31, 31))
    gaussian_stamp(0.0, 0.0, fwhm_pix / 2.3548, k)
    kinds = ("EPL", "SHEAR")
    lens = _one(kinds, [dict(theta_E=1.2, gamma=2.1, e1=0.1, e2=-0.05, center_x=0.0,
                             center_y=0.0), dict(gamma1=0.03, gamma2=0.01)])
    src = _light(dict(SRC, R_sersic=0.15, center_x=0.05, center_y=0.02))
    pts = (np.array([[1.1, -0.9]]), np.array([[0.23, -0.61]]), np.array([[50.0, 30.0]]))
    grid = PixelGrid(64, 64, 0.08, 3)
    a = Renderer.build(grid, PSF.pixel(k)).render(lens, src, points=pts).model[0]
    b = Renderer.build(grid, PSF.gaussian(fwhm_pix * 0.08)).render(lens, src, points=pts).model[0]
    assert np.linalg.norm(a - b) / np.linalg.norm(b) < PIXEL_VS_ANALYTIC_L2


def test_noise_variance_matches_model():
    noise = NoiseModel(sky_brightness=21.0, zero_point=25.0, exposure_time=30.0, n_exposures=4,
                       gain=2.0, read_noise=5.0)
    d = 0.2
    model = np.linspace(0.0, 20.0, 32 * 32).reshape(32, 32)
    var = noise.variance(model, d)
    n_draws = 300
    rng = np.random.default_rng(5)
    z = np.array([(noise.draw(model, d, rng) - model) / np.sqrt(var) for _ in range(n_draws)])
    n_values = z.size
    # chi2 per value has mean 1 and sd sqrt(2/N) (Poisson at >= 20 counts is near Gaussian;
    # the excess kurtosis 1/lambda adds < 5% to that sd); mean has sd 1/sqrt(N)
    assert abs(np.mean(z**2) - 1) < 4 * np.sqrt(2.2 / n_values)
    assert abs(np.mean(z)) < 4 / np.sqrt(n_values)
    # analytic signal to noise of a pixel: model / sqrt(var), with the sky term checked alone
    sky = 10 ** (-0.4 * (21.0 - 25.0)) * d**2
    assert noise.sky_rate(d) == pytest.approx(sky)
    tg = 120.0 * 2.0
    assert var[0, 0] == pytest.approx(sky / tg + 4 * 25.0 / tg**2)


def test_noise_is_reproducible_from_the_stream():
    noise = NoiseModel(22.0, 25.0, 100.0)
    model = np.full((8, 8), 3.0)
    a = noise.draw(model, 0.1, np.random.default_rng(1))
    b = noise.draw(model, 0.1, np.random.default_rng(1))
    c = noise.draw(model, 0.1, np.random.default_rng(2))
    assert a.dtype == np.float32 and np.array_equal(a, b) and not np.array_equal(a, c)
