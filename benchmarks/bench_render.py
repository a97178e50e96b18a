"""Rendering: mocklens vs lenstronomy 1.14.2, in one process, on the same systems, one core.

Usage::

    PYTHONPATH=. python benchmarks/bench_render.py [--n-images 200] [--repeats 5]

1. Ray shooting, EPL + SHEAR at q = 0.7 and q = 0.3 (gamma 2.1): rays per second per core.
   mocklens: ``kernels.render.raytrace.raytrace_grid_batch`` (blocked, vectorised series with
   its length from q and a 1e-14 tolerance); also the scalar ``kernels.lens.raytrace_batch``.
   lenstronomy: ``LensModel(["EPL_NUMBA", "SHEAR"]).ray_shooting``. Same rays: 16,384 (one
   image at supersampling 2) and 262,144.
2. A full image: 64 x 64 pixels of 0.08", supersampling 2, EPL + SHEAR, Sersic source + Sersic
   lens light + quasar images, Gaussian PSF (FWHM 0.2"), noise. Time per image per core.
   mocklens: ``Renderer.render`` on a batch (exact edges: a PSF-radius margin is rendered;
   exact pixel-integrated PSF; polyphase FFT) then ``NoiseModel.draw`` per image with its own
   ``numpy.random.Generator``; lenstronomy: ``ImageModel.image`` with ``EPL_NUMBA`` at its
   defaults (the fast, less exact path) plus ``image_util.add_poisson``/``add_background``.
   Also timed: lenstronomy configured for accuracy (``supersampling_convolution=True``,
   ``point_source_supersampling_factor=11``), which is what matches mocklens to ~1e-3.

numba runs on one thread (``numba.set_num_threads(1)``), after warm-up; fastest of interleaved
repeats (the machine is shared: others' jobs were running).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numba  # noqa: E402
import numpy as np  # noqa: E402

from mocklens.kernels.lens import raytrace_batch  # noqa: E402
from mocklens.kernels.render.raytrace import raytrace_grid_batch  # noqa: E402
from mocklens.models.instrument import PSF, NoiseModel, PixelGrid  # noqa: E402
from mocklens.models.lenses import pack  # noqa: E402
from mocklens.models.light import pack_light, point_image_flux, sersic_total_flux  # noqa: E402
from mocklens.models.render import Renderer  # noqa: E402
from mocklens.models.solver import solve_images  # noqa: E402

N_PIX, PIXEL_SCALE, SUPERSAMPLING, FWHM = 64, 0.08, 2, 0.2
NOISE = NoiseModel(sky_brightness=21.0, zero_point=27.0, exposure_time=90.0, n_exposures=4,
                   gain=2.0, read_noise=5.0)


def best_time(fn, repeats, *args):
    """Fastest of ``repeats`` runs: the machine is shared, so the minimum is the least
    disturbed measurement of each side."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - t)
    return float(np.min(times))


def bench_rays(repeats, n):
    from lenstronomy.LensModel.lens_model import LensModel

    rng = np.random.default_rng(0)
    x = rng.uniform(-3, 3, n)
    y = rng.uniform(-3, 3, n)
    lm = LensModel(["EPL_NUMBA", "SHEAR"])
    rows = []
    for q in (0.7, 0.3):
        e = (1 - q) / (1 + q)
        kw = [dict(theta_E=1.2, gamma=2.1, e1=e * np.cos(0.6), e2=e * np.sin(0.6), center_x=0.01,
                   center_y=-0.02), dict(gamma1=0.03, gamma2=0.01)]
        lens = pack(("EPL", "SHEAR"), [{k: np.array([v]) for k, v in d.items()} for d in kw])
        bx = np.empty((1, n))
        by = np.empty((1, n))
        codes, packed = lens.system(0)
        sx = np.empty(n)
        sy = np.empty(n)
        raytrace_grid_batch(x[:64], y[:64], lens.codes, lens.packed, bx[:, :64], by[:, :64])
        raytrace_batch(x[:64], y[:64], codes, packed, sx[:64], sy[:64])
        lm.ray_shooting(x[:64], y[:64], kw)
        t_block, t_scalar, t_lt = np.inf, np.inf, np.inf
        for _ in range(3 * repeats):  # interleaved: both sides see the same load
            t_block = min(t_block, best_time(raytrace_grid_batch, 1, x, y, lens.codes,
                                             lens.packed, bx, by))
            t_scalar = min(t_scalar, best_time(raytrace_batch, 1, x, y, codes, packed, sx, sy))
            t_lt = min(t_lt, best_time(lm.ray_shooting, 1, x, y, kw))
        lx, ly = lm.ray_shooting(x, y, kw)
        err = max(np.max(np.abs(lx - bx[0])), np.max(np.abs(ly - by[0])))
        rows.append((q, int(packed[0, 7]), n / t_block, n / t_scalar, n / t_lt, err))
    return rows


def draw(n, seed):
    rng = np.random.default_rng(seed)
    q = rng.uniform(0.5, 1.0, n)
    a = rng.uniform(0, np.pi, n)
    e = (1 - q) / (1 + q)
    epl = dict(theta_E=rng.uniform(1.0, 1.5, n), gamma=rng.uniform(1.9, 2.2, n),
               e1=e * np.cos(2 * a), e2=e * np.sin(2 * a), center_x=np.zeros(n),
               center_y=np.zeros(n))
    shear = dict(gamma1=rng.uniform(-0.05, 0.05, n), gamma2=rng.uniform(-0.05, 0.05, n))
    bx, by = rng.uniform(-0.2, 0.2, n), rng.uniform(-0.2, 0.2, n)
    src = dict(amp=rng.uniform(5, 20, n), R_sersic=rng.uniform(0.1, 0.3, n),
               n_sersic=rng.uniform(1, 3, n), e1=rng.uniform(-0.2, 0.2, n),
               e2=rng.uniform(-0.2, 0.2, n), center_x=bx, center_y=by)
    ll = dict(amp=rng.uniform(2, 10, n), R_sersic=rng.uniform(0.5, 1.2, n),
              n_sersic=rng.uniform(2, 4, n), e1=rng.uniform(-0.2, 0.2, n),
              e2=rng.uniform(-0.2, 0.2, n), center_x=np.zeros(n), center_y=np.zeros(n))
    lens = pack(("EPL", "SHEAR"), [epl, shear])
    img = solve_images(lens, bx, by)
    flux = point_image_flux(sersic_total_flux(src["amp"], src["R_sersic"], src["n_sersic"]),
                            img.values["mu"])
    return epl, shear, src, ll, lens, img.values["x"], img.values["y"], flux


def bench_images(n, repeats):
    from lenstronomy.Data.imaging_data import ImageData
    from lenstronomy.Data.psf import PSF as LensPSF
    from lenstronomy.ImSim.image_model import ImageModel
    from lenstronomy.LensModel.lens_model import LensModel
    from lenstronomy.LightModel.light_model import LightModel
    from lenstronomy.PointSource.point_source import PointSource
    from lenstronomy.Util import image_util

    epl, shear, src, ll, lens, px, py, flux = draw(n, 1)
    grid = PixelGrid(N_PIX, N_PIX, PIXEL_SCALE, SUPERSAMPLING)
    renderer = Renderer.build(grid, PSF.gaussian(FWHM))
    # zero padding instead of the exact-edge margin (fewer rays; light outside the frame lost)
    renderer0 = Renderer.build(grid, PSF.gaussian(FWHM), margin=0)
    srcp = pack_light(("SERSIC_ELLIPSE",), [src])
    llp = pack_light(("SERSIC_ELLIPSE",), [ll])
    rngs = [np.random.Generator(np.random.Philox(np.random.SeedSequence(7, spawn_key=(i,))))
            for i in range(n)]

    def mocklens_run():
        model = renderer.render(lens, srcp, llp, (px, py, flux)).model
        return [NOISE.draw(model[i], PIXEL_SCALE, rngs[i]) for i in range(n)]

    mocklens_run()
    c = -(N_PIX - 1) / 2 * PIXEL_SCALE
    data = ImageData(image_data=np.zeros((N_PIX, N_PIX)), ra_at_xy_0=c, dec_at_xy_0=c,
                     transform_pix2angle=np.diag([PIXEL_SCALE, PIXEL_SCALE]))

    def model(accurate):
        numerics = dict(supersampling_factor=SUPERSAMPLING)
        if accurate:
            numerics.update(supersampling_convolution=True, point_source_supersampling_factor=11)
        return ImageModel(data, LensPSF(psf_type="GAUSSIAN", fwhm=FWHM, pixel_size=PIXEL_SCALE),
                          lens_model_class=LensModel(["EPL_NUMBA", "SHEAR"]),
                          source_model_class=LightModel(["SERSIC_ELLIPSE"]),
                          lens_light_model_class=LightModel(["SERSIC_ELLIPSE"]),
                          point_source_class=PointSource(["LENSED_POSITION"]),
                          kwargs_numerics=numerics)

    shape = ("theta_E", "gamma", "e1", "e2", "center_x", "center_y")
    kwargs = []
    for i in range(n):
        ok = np.isfinite(px[i])
        kwargs.append((
            [{k: float(epl[k][i]) for k in shape}, {k: float(v[i]) for k, v in shear.items()}],
            [{k: float(v[i]) for k, v in src.items()}], [{k: float(v[i]) for k, v in ll.items()}],
            [dict(ra_image=px[i][ok], dec_image=py[i][ok], point_amp=flux[i][ok])],
        ))
    sky = NOISE.sky_rate(PIXEL_SCALE)
    t_total = NOISE.total_time * NOISE.gain
    sigma_bkg = np.sqrt(sky / t_total + NOISE.n_exposures * NOISE.read_noise**2 / t_total**2)
    models = {acc: model(acc) for acc in (False, True)}
    for im in models.values():
        im.image(*kwargs[0])

    def lt_run(im):
        for kw in kwargs:
            img = im.image(*kw)
            img + image_util.add_poisson(img, t_total) + image_util.add_background(img, sigma_bkg)

    # interleaved, so that both sides see the same load on the shared machine
    times = {"ml": [], "render": [], "render0": [], False: [], True: []}
    for _ in range(repeats):
        times["ml"].append(best_time(mocklens_run, 1) / n)
        times["render"].append(best_time(renderer.render, 1, lens, srcp, llp, (px, py, flux)) / n)
        times["render0"].append(
            best_time(renderer0.render, 1, lens, srcp, llp, (px, py, flux)) / n
        )
        for acc in (False, True):
            times[acc].append(best_time(lt_run, 1, models[acc]) / n)
    out = {k: min(v) for k, v in times.items()}
    t_ml, t_render = out["ml"], out["render"]
    print(f"  (mocklens render only, margin 0: {out['render0'] * 1e3:.3f} ms per image)")
    return t_ml, t_render, out[False], out[True]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-images", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    numba.set_num_threads(1)
    warnings.simplefilter("ignore")
    print(f"machine: {platform.processor() or platform.machine()}, numba {numba.__version__}, "
          f"load average {os.getloadavg()[0]:.2f} (2 cores, shared)")
    # 16384 rays = one 64x64 image at supersampling 2 (lenstronomy's arrays fit in cache);
    # at 262144 rays lenstronomy's numpy temporaries fall out of cache and it slows ~3x
    for n_rays in (16_384, 262_144):
        print(f"\nray shooting, EPL + SHEAR, gamma 2.1, {n_rays} rays, one core [M rays/s]")
        print(f"{'q':>5} {'terms':>5} {'blocked':>9} {'scalar':>8} {'EPL_NUMBA':>10} "
              f"{'ratio':>7} {'max |dbeta| [arcsec]':>21}")
        for q, terms, blk, sca, lt, err in bench_rays(args.repeats, n_rays):
            print(f"{q:5.1f} {terms:5d} {blk / 1e6:9.1f} {sca / 1e6:8.1f} {lt / 1e6:10.2f} "
                  f"{blk / lt:6.1f}x {err:21.1e}")
    t_ml, t_render, t_lt, t_lt_acc = bench_images(args.n_images, args.repeats)
    print(f"\n64x64 image, supersampling 2, EPL + SHEAR, Sersic source + lens light + quasar "
          f"images, Gaussian PSF, noise ({args.n_images} systems) [ms per image, one core]")
    print(f"  mocklens render + noise       {t_ml * 1e3:8.3f}")
    print(f"  mocklens render only          {t_render * 1e3:8.3f}")
    print(f"  lenstronomy EPL_NUMBA default {t_lt * 1e3:8.3f}   ratio {t_lt / t_ml:6.1f}x")
    print(f"  lenstronomy EPL_NUMBA accurate{t_lt_acc * 1e3:8.3f}   ratio {t_lt_acc / t_ml:6.1f}x")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS {rss:.0f} MB")


if __name__ == "__main__":
    main()
