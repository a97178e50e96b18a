"""Every profile the config offers, alone and with shear and convergence, against lenstronomy.

For each mass profile (EPL, SIE, SIS, POINT_MASS) alone, with SHEAR, with CONVERGENCE and with
both, and for SHEAR and CONVERGENCE without a deflector, random systems are solved by each
finder that applies (the 1-D EPL finder for EPL-like deflectors, the general grid finder for
all) and compared system by system with lenstronomy 1.14.2 (:mod:`tests.cross.oracle`: image
positions, magnifications and Fermat-potential differences, every lenstronomy image found,
every extra image confirmed by a brute-force search).

Before the SIE fix of issue 6 every SIE case of the EPL finder failed (no image at all).
"""

from __future__ import annotations

import numpy as np
import pytest

from mocklens.models.lenses import pack
from mocklens.models.solver import MODE_EPL, SolverSettings, choose_finder, solve_images
from tests.cross import oracle
from tests.reference import naive

#: Systems per composition and finder: a few hundred lenstronomy solves in all.
N_SYSTEMS = 24
#: Images fainter than this are not compared (both sides apply it) [dimensionless].
MIN_ABS_MU = 1e-3
MAX_IMAGES = 8
MASSES = ("EPL", "SIE", "SIS", "POINT_MASS")


def compositions():
    out = []
    for mass in MASSES:
        for extra in ((), ("SHEAR",), ("CONVERGENCE",), ("SHEAR", "CONVERGENCE")):
            out.append((mass, *extra))
    out += [("SHEAR",), ("CONVERGENCE",), ("SHEAR", "CONVERGENCE")]
    return out


def draw(kinds, n, seed):
    """Random parameters for each component and image-plane-placed sources."""
    rng = np.random.default_rng(seed)
    params = []
    for kind in kinds:
        if kind in ("EPL", "SIE"):
            q = rng.uniform(0.3, 1.0, n)
            ang = rng.uniform(0, np.pi, n)
            e = (1 - q) / (1 + q)
            p = dict(theta_E=rng.uniform(0.5, 2.0, n))
            p.update(e1=e * np.cos(2 * ang), e2=e * np.sin(2 * ang))
            if kind == "EPL":
                p["gamma"] = rng.uniform(1.6, 2.4, n)
        elif kind in ("SIS", "POINT_MASS"):
            p = dict(theta_E=rng.uniform(0.5, 2.0, n))
        elif kind == "SHEAR":
            g = rng.uniform(0, 0.2, n)
            a = rng.uniform(0, np.pi, n)
            p = dict(gamma1=g * np.cos(2 * a), gamma2=g * np.sin(2 * a))
        else:
            p = dict(kappa=rng.uniform(-0.1, 0.3, n))
        if kind in MASSES:
            p.update(center_x=rng.normal(0, 0.1, n), center_y=rng.normal(0, 0.1, n))
        params.append(p)
    theta_e = params[0]["theta_E"] if kinds[0] in MASSES else np.ones(n)
    r = 1.5 * theta_e * np.sqrt(rng.uniform(0, 1, n))
    a = rng.uniform(0, 2 * np.pi, n)
    cx = params[0].get("center_x", np.zeros(n))
    cy = params[0].get("center_y", np.zeros(n))
    x, y = cx + r * np.cos(a), cy + r * np.sin(a)
    bx, by = np.empty(n), np.empty(n)
    for i in range(n):
        kw = [{k: float(v[i]) for k, v in p.items()} for p in params]
        sx, sy = naive.raytrace(x[i : i + 1], y[i : i + 1], kinds, kw)
        bx[i], by[i] = sx[0], sy[0]
    return params, bx, by


def cases():
    out = []
    for k, kinds in enumerate(compositions()):
        finders = ["grid"]
        if choose_finder(kinds)[0] == MODE_EPL:
            finders.insert(0, "epl")
        for finder in finders:
            out.append(pytest.param(kinds, finder, 1000 + k, id=f"{'+'.join(kinds)}-{finder}"))
    return out


@pytest.mark.parametrize(("kinds", "finder", "seed"), cases())
def test_profile_against_lenstronomy(kinds, finder, seed):
    params, bx, by = draw(kinds, N_SYSTEMS, seed)
    res = solve_images(
        pack(kinds, params), bx, by, max_images=MAX_IMAGES,
        settings=SolverSettings(min_abs_mu=MIN_ABS_MU), force_grid=finder == "grid",
    )
    models = oracle.model(kinds)
    failures, missed_by_lenstronomy, counts = [], 0, np.zeros(MAX_IMAGES + 1, dtype=int)
    for i in range(N_SYSTEMS):
        kw = [{k: float(v[i]) for k, v in p.items()} for p in params]
        k = res.n_images[i]
        counts[k] += 1
        if res.n_found[i] != k:
            failures.append(f"system {i}: {res.n_found[i]} images found, only {k} stored")
            continue
        v = res.values
        desc = f"system {i}: {kinds} {kw!r} beta=({bx[i]!r}, {by[i]!r})"
        fails, missed = oracle.compare(
            models, kinds, kw, bx[i], by[i], v["x"][i, :k], v["y"][i, :k], v["mu"][i, :k],
            v["fermat"][i, :k], MIN_ABS_MU, desc,
        )
        failures += fails
        missed_by_lenstronomy += missed
    summary = (
        f"{'+'.join(kinds)} ({finder} finder): {N_SYSTEMS} systems, image counts "
        f"{counts.tolist()}, {missed_by_lenstronomy} images only mocklens and the brute-force "
        f"search found, {len(failures)} failures"
    )
    print(summary)
    assert not failures, summary + "\n" + "\n".join(failures[:10])
    assert counts[0] == 0, "every source was placed by mapping an image back"
    if kinds[0] in MASSES:
        assert counts[2:].sum() > N_SYSTEMS // 3, counts
