"""Point-source solve: mocklens vs lenstronomy, side by side in one process on the same systems.

Usage::

    PYTHONPATH=. python benchmarks/bench_solver.py [--n-mocklens 20000] [--n-lenstronomy 300]

Both sides do the full solve: image positions, signed magnifications and arrival times.
mocklens: ``solve_images`` (positions, mu, Fermat potential in one kernel call), one thread
(``numba.set_num_threads(1)``), after warm-up, median of ``--repeats`` runs, per system.
lenstronomy 1.14.2: ``image_position_from_source(solver="analytical", Nmeas=2000,
magnification_limit=None)`` plus ``magnification`` plus ``arrival_time`` (added to its side for
fairness, since mocklens returns mu and the Fermat potential from the same call), median over
systems of the per-system time. The ``LensModel``/cosmology set-up is outside both timings.

A second table times the general grid finder (``force_grid=True``, one thread) per system on
the default recipe and on the same lenses with a POINT_MASS subhalo (theta_E 0.05-0.3 arcsec,
0.5-2 arcsec from the centre), the composition that needs its polar patches; ``--n-grid``
systems (0 skips it).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numba  # noqa: E402
import numpy as np  # noqa: E402
from scipy.stats import truncnorm  # noqa: E402

from mocklens.kernels._jit import jit  # noqa: E402
from mocklens.kernels.epl import MAX_SERIES_TERMS, epl_coefficients  # noqa: E402
from mocklens.kernels.images import _epl_frame_params  # noqa: E402
from mocklens.kernels.lens import raytrace_batch  # noqa: E402
from mocklens.kernels.solve import (  # noqa: E402
    FRAME_WIDTH,
    MAX_CANDIDATES,
    WORKSPACE_ROWS,
    fill_angle_table,
    solve_epl_frame,
)
from mocklens.models.lenses import PackedLens, pack  # noqa: E402
from mocklens.models.solver import SolverSettings, solve_images  # noqa: E402

TYPES = ("EPL", "SHEAR")


def draw(family, n, seed):
    """Lens kwargs and sources for the 'default' research recipe or the 'broad' family."""
    rng = np.random.default_rng(seed)
    if family == "default":
        # e = 1 - q ~ N(0.3, 0.16) truncated to [0, 0.9); slope 2; theta_E U(1, 1.5)
        e_om = truncnorm.rvs(
            (0 - 0.3) / 0.16, (0.9 - 0.3) / 0.16, loc=0.3, scale=0.16, size=n, random_state=rng
        )
        q = 1.0 - e_om
        gamma = np.full(n, 2.0)
    else:
        q = rng.uniform(0.2, 1.0, n)
        gamma = rng.uniform(1.6, 2.4, n)
    phi = rng.uniform(0, np.pi, n)
    e = (1 - q) / (1 + q)
    g = 0.05 * 10 ** rng.normal(0, 0.2, n)
    gphi = rng.uniform(0, np.pi, n)
    kw = [
        dict(
            theta_E=rng.uniform(1.0, 1.5, n),
            gamma=gamma,
            e1=e * np.cos(2 * phi),
            e2=e * np.sin(2 * phi),
            center_x=np.zeros(n),
            center_y=np.zeros(n),
        ),
        dict(gamma1=g * np.cos(2 * gphi), gamma2=g * np.sin(2 * gphi)),
    ]
    # the research recipe: an image position at radius sqrt(U(0, 16)) mapped back to the source
    r = np.sqrt(rng.uniform(0, 16, n))
    a = rng.uniform(0, 2 * np.pi, n)
    x, y = r * np.cos(a), r * np.sin(a)
    lens = pack(TYPES, kw)
    bx = np.empty(n)
    by = np.empty(n)
    for i in range(n):
        codes, packed = lens.system(i)
        raytrace_batch(x[i : i + 1], y[i : i + 1], codes, packed, bx[i : i + 1], by[i : i + 1])
    return kw, lens, bx, by


@jit
def _frame_only(codes, packed, beta_x, beta_y, n_angles):
    """The 1-D EPL finder alone (no verification, properties or sorting), serial.

    Mirrors the EPL branch of ``mocklens.kernels.images._solve_one``; update it with that.
    """
    cand = np.empty((MAX_CANDIDATES, 3))
    fp = np.empty(FRAME_WIDTH)
    ws = np.empty((WORKSPACE_ROWS, max(n_angles, 2)))
    fill_angle_table(ws, n_angles)
    coeffs = np.empty(MAX_SERIES_TERMS)
    total = 0
    for s in range(beta_x.shape[0]):
        _epl_frame_params(codes, packed[s], 0, 1, -1, beta_x[s], beta_y[s], fp)
        epl_coefficients(fp[6], fp[7], int(fp[8]), coeffs)
        total += solve_epl_frame(fp, coeffs, n_angles, ws, cand)
    return total


def _median_time(fn, repeats):
    fn()  # warm-up (compilation, caches)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def bench_mocklens(lens, bx, by, repeats, n_angles):
    s = SolverSettings(n_angles=n_angles, min_abs_mu=1e-4)
    full = _median_time(lambda: solve_images(lens, bx, by, settings=s), repeats)
    frame = _median_time(lambda: _frame_only(lens.codes, lens.packed, bx, by, n_angles), repeats)
    return full / bx.size, frame / bx.size


def bench_lenstronomy(kw, bx, by, n):
    from lenstronomy.LensModel.lens_model import LensModel
    from lenstronomy.LensModel.Solver.lens_equation_solver import LensEquationSolver

    model = LensModel(list(TYPES), z_lens=0.35, z_source=2.0)
    solver = LensEquationSolver(model)
    solve_t, total_t, counts = [], [], []
    for i in range(n):
        kwl = [{k: float(v[i]) for k, v in d.items()} for d in kw]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            x, y = solver.image_position_from_source(
                bx[i], by[i], kwl, solver="analytical", Nmeas=2000, magnification_limit=None
            )
            t1 = time.perf_counter()
            model.magnification(x, y, kwl)
            model.arrival_time(x, y, kwl, x_source=bx[i], y_source=by[i])
            t2 = time.perf_counter()
        solve_t.append(t1 - t0)
        total_t.append(t2 - t0)
        counts.append(len(x))
    return float(np.median(solve_t)), float(np.median(total_t)), np.bincount(counts)


def draw_subhalo(kw, bx, by, seed):
    """The default lenses with a POINT_MASS subhalo added (same sources)."""
    rng = np.random.default_rng(seed + 1)
    n = bx.size
    r = rng.uniform(0.5, 2.0, n)
    a = rng.uniform(0, 2 * np.pi, n)
    sub = dict(theta_E=rng.uniform(0.05, 0.3, n), center_x=r * np.cos(a), center_y=r * np.sin(a))
    return pack(("EPL", "POINT_MASS", "SHEAR"), [kw[0], sub, kw[1]])


def bench_grid(lens, bx, by, repeats):
    s = SolverSettings(min_abs_mu=1e-4)
    t = _median_time(lambda: solve_images(lens, bx, by, settings=s, force_grid=True), repeats)
    counts = np.bincount(solve_images(lens, bx, by, settings=s, force_grid=True).n_images)
    return t / bx.size, counts


def machine():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        model = next(
            (ln.split(":", 1)[1].strip() for ln in out.splitlines() if ln.startswith("Model name")),
            platform.processor(),
        )
    except OSError:
        model = platform.processor()
    import lenstronomy
    import scipy

    return (
        f"{model}, {os.cpu_count()} cores; Python {platform.python_version()}, "
        f"numpy {np.__version__}, numba {numba.__version__}, scipy {scipy.__version__}, "
        f"lenstronomy {lenstronomy.__version__}"
    )


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-mocklens", type=int, default=20_000)
    p.add_argument("--n-lenstronomy", type=int, default=300)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--seed", type=int, default=2024)
    p.add_argument("--n-grid", type=int, default=1000)
    args = p.parse_args(argv)
    numba.set_num_threads(1)
    print(machine())
    print(
        "| family | mocklens full solve, 512 angles [us/system/core] | EPL 1-D finder alone "
        "[us] | rest (verify, mu, Fermat, sort) [us] | mocklens 256 angles [us] "
        "| lenstronomy solve [ms] | lenstronomy + mu + arrival time [ms] | ratio (512) "
        "| ratio (256) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for family in ("default", "broad"):
        kw, lens, bx, by = draw(family, args.n_mocklens, args.seed)
        full512, frame512 = bench_mocklens(lens, bx, by, args.repeats, 512)
        full256, _ = bench_mocklens(lens, bx, by, args.repeats, 256)
        n_lt = min(args.n_lenstronomy, args.n_mocklens)
        lt_solve, lt_total, counts = bench_lenstronomy(kw, bx, by, n_lt)
        sub = PackedLens(lens.types, lens.codes, np.ascontiguousarray(lens.packed[:n_lt]))
        imgs = solve_images(sub, bx[:n_lt], by[:n_lt], settings=SolverSettings(min_abs_mu=1e-4))
        print(
            f"| {family} | {full512 * 1e6:.1f} | {frame512 * 1e6:.1f} | "
            f"{(full512 - frame512) * 1e6:.1f} | {full256 * 1e6:.1f} | {lt_solve * 1e3:.2f} | "
            f"{lt_total * 1e3:.2f} | {lt_total / full512:.0f}x | {lt_total / full256:.0f}x |"
        )
        print(
            f"  image counts on the lenstronomy subset: lenstronomy (raw, unfiltered) "
            f"{counts.tolist()}, mocklens (|mu| >= 1e-4) {np.bincount(imgs.n_images).tolist()}"
        )
    if args.n_grid > 0:
        kw, lens, bx, by = draw("default", args.n_grid, args.seed)
        print("| general grid finder (force_grid) | us/system/core | image counts |")
        print("|---|---|---|")
        for name, model in (
            ("default recipe (EPL + SHEAR)", lens),
            ("EPL + POINT_MASS subhalo + SHEAR", draw_subhalo(kw, bx, by, args.seed)),
        ):
            t, counts = bench_grid(model, bx, by, max(1, args.repeats // 2))
            print(f"| {name} | {t * 1e6:.0f} | {counts.tolist()} |")


if __name__ == "__main__":
    main()
