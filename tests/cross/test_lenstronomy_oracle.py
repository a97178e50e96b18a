"""mocklens against lenstronomy 1.14.2 on 1,000 random EPL + external shear systems.

Oracle: ``LensEquationSolver(LensModel(["EPL", "SHEAR"], z_lens, z_source, cosmo=Planck18))``
``.image_position_from_source(..., solver="analytical", Nmeas=2000, magnification_limit=None)``
(the Nmeas that finds the faint central images of shallow slopes; CONTEXT.md section 2), its
``magnification`` and its ``arrival_time`` in days.

The oracle's images are filtered by their own lens-equation residual (it can return the lens
centre as an "image" for slopes >= 2) and by |mu| > MIN_ABS_MU; mocklens is run with the same
|mu| cut. Per system: identical counts, positions, magnifications and time delays relative to
the first arrival.

When the two disagree on the image count, a third method adjudicates: the mocklens general grid
finder with a fine grid, verified by the pure-NumPy twin's residual. Only a case where the
third method sides with mocklens (lenstronomy missed a verified image or returned an
unverifiable one, which the residual filter should already remove) is excluded, and it is
reported; any other disagreement fails with the system's parameters.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pytest
from astropy import units as u
from astropy.cosmology import Planck18

from mocklens.constants import DAYS_PER_MPC_ARCSEC2
from mocklens.models.lenses import pack
from mocklens.models.solver import SolverSettings, solve_images
from tests.reference import naive

lenstronomy = pytest.importorskip("lenstronomy")
from lenstronomy.LensModel.lens_model import LensModel  # noqa: E402
from lenstronomy.LensModel.Solver.lens_equation_solver import LensEquationSolver  # noqa: E402

#: Systems compared (the issue asks for at least 1,000).
N_SYSTEMS = 1000
#: Fixed seed: a failure names its system index and parameters, so it can be replayed.
SEED = 1_507_01819
#: lenstronomy's angular sampling in the analytical solver (default 400 misses faint central
#: images of shallow slopes).
NMEAS = 2000
#: Images fainter than this are not compared (both sides apply it) [dimensionless].
MIN_ABS_MU = 1e-3
#: An oracle image must satisfy the lens equation to this accuracy to count [arcsec].
ORACLE_RESIDUAL_MAX = 1e-6
#: Positions [arcsec]: lenstronomy polishes its roots to ~1e-10 arcsec or better; the
#: issue's bound.
POSITION_ATOL = 1e-6
#: Magnifications, relative (the issue's bound); both evaluate the same analytic Hessian at
#: positions agreeing to ~1e-10, so |d ln mu / d theta| ~ 1e3 still leaves a margin.
MU_RTOL = 1e-5
#: Time delays relative to the first arrival: absolute [days] or relative, whichever is
#: larger (the issue's bound).
DT_ATOL_DAYS = 1e-4
DT_RTOL = 1e-5
#: Third method: the general grid finder, finer than its defaults.
ADJUDICATOR = SolverSettings(
    min_abs_mu=MIN_ABS_MU, grid_half_width=8.0, grid_cells=128, grid_depth=7
)
#: The twin's residual a third-method image must meet [arcsec].
ADJUDICATOR_RESIDUAL_MAX = 1e-9


def draw_systems(n, seed):
    """EPL + shear systems: slope 1.6-2.4, q 0.2-1, shear <= 0.3, centres ~N(0, 0.05);
    85% of sources within 0.8 theta_E of the centre, 15% at 0.8-2 theta_E."""
    rng = np.random.default_rng(seed)
    q = rng.uniform(0.2, 1.0, n)
    ang = rng.uniform(0, np.pi, n)
    e = (1 - q) / (1 + q)
    g = rng.uniform(0, 0.3, n)
    gang = rng.uniform(0, np.pi, n)
    lens = dict(
        theta_E=rng.uniform(0.8, 1.6, n),
        gamma=rng.uniform(1.6, 2.4, n),
        e1=e * np.cos(2 * ang),
        e2=e * np.sin(2 * ang),
        center_x=rng.normal(0, 0.05, n),
        center_y=rng.normal(0, 0.05, n),
    )
    shear = dict(gamma1=g * np.cos(2 * gang), gamma2=g * np.sin(2 * gang))
    far = rng.uniform(0, 1, n) < 0.15
    r = np.where(far, rng.uniform(0.8, 2.0, n), 0.8 * np.sqrt(rng.uniform(0, 1, n)))
    r = r * lens["theta_E"]
    a = rng.uniform(0, 2 * np.pi, n)
    beta_x = lens["center_x"] + r * np.cos(a)
    beta_y = lens["center_y"] + r * np.sin(a)
    z_l = rng.uniform(0.2, 0.5, n)
    z_s = rng.uniform(1.0, 3.0, n)
    return [lens, shear], beta_x, beta_y, z_l, z_s


def _system_kwargs(kw, i):
    return [{k: float(v[i]) for k, v in d.items()} for d in kw]


def _describe(kw, bx, by, z_l, z_s, i):
    return (
        f"system {i}: kwargs_lens={_system_kwargs(kw, i)!r}, "
        f"beta=({bx[i]!r}, {by[i]!r}), z_l={z_l[i]!r}, z_s={z_s[i]!r}"
    )


def time_delay_distance_mpc(z_l, z_s):
    """(1 + z_l) D_l D_s / D_ls [Mpc] for Planck18 (vectorised astropy)."""
    d_l = Planck18.angular_diameter_distance(z_l)
    d_s = Planck18.angular_diameter_distance(z_s)
    d_ls = Planck18.angular_diameter_distance(z_l, z_s)
    return ((1 + z_l) * d_l * d_s / d_ls).to_value(u.Mpc)


def lenstronomy_images(kwargs_lens, beta_x, beta_y, z_l, z_s):
    """Oracle images of one system: x, y, mu, arrival time [days] (residual- and mu-filtered)."""
    model = LensModel(["EPL", "SHEAR"], z_lens=z_l, z_source=z_s, cosmo=Planck18)
    solver = LensEquationSolver(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        x, y = solver.image_position_from_source(
            beta_x, beta_y, kwargs_lens, solver="analytical", Nmeas=NMEAS, magnification_limit=None
        )
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.size:
        sx, sy = model.ray_shooting(x, y, kwargs_lens)
        keep = np.hypot(sx - beta_x, sy - beta_y) < ORACLE_RESIDUAL_MAX
        x, y = x[keep], y[keep]
    if x.size:
        mu = np.asarray(model.magnification(x, y, kwargs_lens), dtype=float)
        keep = np.abs(mu) > MIN_ABS_MU
        x, y, mu = x[keep], y[keep], mu[keep]
    else:
        mu = np.empty(0)
    t = (
        np.asarray(
            model.arrival_time(x, y, kwargs_lens, x_source=beta_x, y_source=beta_y), dtype=float
        )
        if x.size
        else np.empty(0)
    )
    return x, y, mu, t


def adjudicate(kw, bx, by, i):
    """Third method: fine general grid finder, each image re-verified with the NumPy twin."""
    one = [{k: np.array([v]) for k, v in d.items()} for d in _system_kwargs(kw, i)]
    res = solve_images(
        pack(("EPL", "SHEAR"), one),
        bx[i : i + 1],
        by[i : i + 1],
        max_images=8,
        settings=ADJUDICATOR,
        force_grid=True,
    )
    k = res.n_images[0]
    x, y = res.values["x"][0, :k], res.values["y"][0, :k]
    sx, sy = naive.raytrace(x, y, ("EPL", "SHEAR"), _system_kwargs(kw, i))
    ok = np.hypot(sx - bx[i], sy - by[i]) < ADJUDICATOR_RESIDUAL_MAX
    return x[ok], y[ok]


def _pts(x, y):
    return np.column_stack((x, y)).tolist()


def _match(x_a, y_a, x_b, y_b):
    """Index into b of the nearest image for each image of a."""
    d = np.hypot(x_a[:, None] - x_b[None, :], y_a[:, None] - y_b[None, :])
    return np.argmin(d, axis=1), np.min(d, axis=1)


def test_epl_shear_against_lenstronomy_analytical():
    kw, bx, by, z_l, z_s = draw_systems(N_SYSTEMS, SEED)
    lens = pack(("EPL", "SHEAR"), kw)
    start = time.perf_counter()
    ml = solve_images(lens, bx, by, max_images=6, settings=SolverSettings(min_abs_mu=MIN_ABS_MU))
    d_dt = time_delay_distance_mpc(z_l, z_s)
    t_mocklens = time.perf_counter() - start

    failures = []
    excluded = []
    counts = np.zeros(7, dtype=int)
    start = time.perf_counter()
    for i in range(N_SYSTEMS):
        desc = _describe(kw, bx, by, z_l, z_s, i)
        lx, ly, lmu, lt = lenstronomy_images(_system_kwargs(kw, i), bx[i], by[i], z_l[i], z_s[i])
        k = ml.n_images[i]
        mx, my = ml.values["x"][i, :k], ml.values["y"][i, :k]
        mmu = ml.values["mu"][i, :k]
        mdt = (
            (ml.values["fermat"][i, :k] - ml.values["fermat"][i, 0])
            * d_dt[i]
            * DAYS_PER_MPC_ARCSEC2
        )
        if ml.n_found[i] != k:
            failures.append(f"{desc}: {ml.n_found[i]} images found, only {k} stored")
            continue
        if lx.size != k:
            ax, ay = adjudicate(kw, bx, by, i)
            note = (
                f"{desc}: mocklens {k} images at {_pts(mx, my)} mu {mmu}; "
                f"lenstronomy {lx.size} at {_pts(lx, ly)} mu {lmu}; "
                f"third method (fine grid + twin residual) {ax.size} at {_pts(ax, ay)}"
            )
            if ax.size == k and (k == 0 or np.all(_match(mx, my, ax, ay)[1] < POSITION_ATOL)):
                excluded.append("lenstronomy wrong: " + note)
            else:
                failures.append("count mismatch: " + note)
            continue
        counts[k] += 1
        if k == 0:
            continue
        j, dist = _match(mx, my, lx, ly)
        if np.any(dist > POSITION_ATOL) or np.unique(j).size != k:
            failures.append(
                f"{desc}: positions differ by {dist} arcsec "
                f"(mocklens {_pts(mx, my)}, lenstronomy {_pts(lx, ly)})"
            )
            continue
        if np.any(np.abs(mmu - lmu[j]) > MU_RTOL * np.abs(lmu[j])):
            failures.append(f"{desc}: mu mocklens {mmu} lenstronomy {lmu[j]}")
            continue
        ldt = lt[j] - lt[j[0]]
        if np.any(np.abs(mdt - ldt) > np.maximum(DT_ATOL_DAYS, DT_RTOL * np.abs(ldt))):
            failures.append(f"{desc}: delays [days] mocklens {mdt} lenstronomy {ldt}")
    t_oracle = time.perf_counter() - start

    summary = (
        f"{N_SYSTEMS} systems, image-count histogram {counts.tolist()}, "
        f"{len(excluded)} excluded (lenstronomy wrong), {len(failures)} failures; "
        f"mocklens {t_mocklens:.2f} s, lenstronomy {t_oracle:.1f} s"
    )
    print(summary)
    for note in excluded:
        print("EXCLUDED", note)
    assert not failures, summary + "\n" + "\n".join(failures[:20])
    # the comparison is not vacuous: doubles and quads and (shallow slopes) odd counts occur
    assert counts[2] > 100 and counts[4] > 100 and counts[3] + counts[5] > 10, counts
