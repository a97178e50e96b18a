"""Every lens kernel against its pure-NumPy twin in ``tests/reference/naive.py``.

Also: limits between profiles (EPL t = 1 is the SIE, EPL q = 1 t = 1 is the SIS), the EPL
series length and truncation error, Hessians and deflections against finite differences, the
batch drivers against scalar calls, and (hypothesis) translation and rotation equivariance of
the composite deflection.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mocklens.kernels.epl import convergence_epl, epl_series_terms, lens_epl, omega_epl
from mocklens.kernels.lens import evaluate_batch, lens_composite, raytrace_batch
from mocklens.kernels.shear import lens_convergence, lens_shear
from mocklens.kernels.sie import lens_sie
from mocklens.kernels.sis import lens_point_mass, lens_sis
from mocklens.models.lenses import SERIES_TOLERANCE, pack
from tests.reference import naive

# --- named tolerances ---------------------------------------------------------------------
#: Kernel vs naive twin, relative to the size of the quantity. The EPL series is truncated at
#: SERIES_TOLERANCE = 1e-14 of its leading term and scipy's complex hyp2f1 agrees with mpmath
#: to ~6e-15 here; up to ~330 terms of rounding plus the (b/R)**t powers near the centre
#: (R down to 1e-8 arcsec) cost at most a few hundred ulp.
TWIN_RTOL = 1e-11
#: Closed forms (SIS, point mass, shear, convergence, SIE) differ only by rounding.
CLOSED_FORM_RTOL = 1e-13
#: Kernel vs kernel for the same profile through two formulas (EPL series vs SIE arctan).
LIMIT_RTOL = 1e-12
#: Step of central finite differences [arcsec]: truncation error ~ h**2 |f'''| ~ 1e-12 at
#: r >~ 0.1 arcsec, rounding ~ eps |f|/h ~ 1e-11.
FD_STEP = 1e-5
#: Central-difference vs analytic derivative, relative to the derivative scale; covers the
#: truncation and rounding errors above with margin, while a wrong sign, a missing factor of
#: (1 - t) or a swapped Hessian component would show up at order 1e-2 or more.
FD_RTOL = 1e-7
#: Equivariance: the rotated/translated system goes through different rounding only.
EQUIVARIANCE_RTOL = 1e-11

RNG_SEED = 20240611

KEYS = naive.KEYS


def _kernel(fn, x, y, *args):
    """Evaluate a scalar kernel at each point; return dict like the naive twins."""
    out = np.array([fn(float(xi), float(yi), *args) for xi, yi in zip(x, y, strict=True)]).T
    return {k: out[i] for i, k in enumerate(KEYS)}


def _scale(d):
    """Per-point size of each quantity, used to make tolerances relative."""
    a = np.hypot(d["alpha_x"], d["alpha_y"])
    h = np.abs(d["f_xx"]) + np.abs(d["f_yy"]) + 2 * np.abs(d["f_xy"])
    return {
        "psi": np.abs(d["psi"]) + a,
        "alpha_x": a,
        "alpha_y": a,
        "f_xx": h,
        "f_xy": h,
        "f_yy": h,
    }


def _assert_close(got, ref, rtol, label):
    sc = _scale(ref)
    for k in KEYS:
        err = np.abs(got[k] - ref[k])
        bad = ~(err <= rtol * sc[k] + 1e-300)
        if np.any(bad):
            i = int(np.argmax(np.where(bad, err / np.maximum(sc[k], 1e-300), 0)))
            raise AssertionError(
                f"{label}: {k} differs at point {i}: got {got[k][i]!r} ref {ref[k][i]!r} "
                f"(rel {err[i] / sc[k][i]:.3e} > {rtol})"
            )


def _points(rng, n, center=(0.0, 0.0)):
    """Random points: a broad cloud plus points very near the centre (r 1e-8 .. 1e-2)."""
    r = np.concatenate([rng.uniform(0.05, 4.0, n), 10 ** rng.uniform(-8, -2, n // 4)])
    a = rng.uniform(0, 2 * np.pi, r.size)
    return center[0] + r * np.cos(a), center[1] + r * np.sin(a)


def _epl_cases(rng, n):
    """(b, t, q, phi, cx, cy) with q down to 0.1 and gamma 1.2..2.8, plus edge cases."""
    cases = [
        (1.0, 1.0, 1.0, 0.0, 0.0, 0.0),
        (1.2, 0.2, 0.1, 0.3, 0.05, -0.02),
        (0.8, 1.8, 0.1, -1.1, 0.0, 0.1),
        (1.0, 1.0, 0.1, 2.0, 0.0, 0.0),
    ]
    for _ in range(n):
        q = rng.uniform(0.1, 1.0)
        theta_e = rng.uniform(0.5, 2.0)
        cases.append(
            (
                theta_e * math.sqrt(q),
                rng.uniform(0.2, 1.8),
                q,
                rng.uniform(-np.pi, np.pi),
                *rng.normal(0, 0.1, 2),
            )
        )
    return cases


# --- kernels vs twins ---------------------------------------------------------------------


def test_epl_matches_hyp2f1_twin():
    rng = np.random.default_rng(RNG_SEED)
    for b, t, q, phi, cx, cy in _epl_cases(rng, 40):
        x, y = _points(rng, 60, (cx, cy))
        nt = epl_series_terms(q, t, SERIES_TOLERANCE)
        got = _kernel(lens_epl, x, y, b, t, q, math.cos(phi), math.sin(phi), cx, cy, nt)
        ref = naive.epl(x, y, b, t, q, phi, cx, cy)
        _assert_close(got, ref, TWIN_RTOL, f"EPL b={b} t={t} q={q} phi={phi} c=({cx},{cy})")
        kap = np.array(
            [
                convergence_epl(xi, yi, b, t, q, math.cos(phi), math.sin(phi), cx, cy)
                for xi, yi in zip(x, y, strict=True)
            ]
        )
        np.testing.assert_allclose(kap, ref["kappa"], rtol=CLOSED_FORM_RTOL)


def test_sie_matches_kormann_twin():
    rng = np.random.default_rng(RNG_SEED + 1)
    for _ in range(30):
        q = rng.uniform(0.1, 1.0)
        b = rng.uniform(0.5, 2.0) * math.sqrt(q)
        phi = rng.uniform(-np.pi, np.pi)
        cx, cy = rng.normal(0, 0.1, 2)
        x, y = _points(rng, 60, (cx, cy))
        got = _kernel(lens_sie, x, y, b, q, math.cos(phi), math.sin(phi), cx, cy)
        _assert_close(
            got,
            naive.sie(x, y, b, q, phi, cx, cy),
            CLOSED_FORM_RTOL * 100,
            f"SIE b={b} q={q} phi={phi}",
        )  # arctan vs arctanh forms: ~100 ulp


@pytest.mark.parametrize(
    ("kernel", "twin"),
    [(lens_sis, naive.sis), (lens_point_mass, naive.point_mass)],
    ids=["SIS", "POINT_MASS"],
)
def test_axisymmetric_closed_forms(kernel, twin):
    rng = np.random.default_rng(RNG_SEED + 2)
    for _ in range(10):
        te = rng.uniform(0.3, 2.0)
        cx, cy = rng.normal(0, 0.2, 2)
        x, y = _points(rng, 80, (cx, cy))
        _assert_close(
            _kernel(kernel, x, y, te, cx, cy),
            twin(x, y, te, cx, cy),
            CLOSED_FORM_RTOL,
            f"{kernel.__name__} theta_E={te} c=({cx},{cy})",
        )


def test_shear_and_convergence():
    rng = np.random.default_rng(RNG_SEED + 3)
    x, y = rng.normal(0, 2, (2, 200))
    for _ in range(10):
        g1, g2 = rng.normal(0, 0.1, 2)
        kap = rng.normal(0, 0.2)
        _assert_close(
            _kernel(lens_shear, x, y, g1, g2),
            naive.shear(x, y, g1, g2),
            CLOSED_FORM_RTOL,
            f"SHEAR {g1} {g2}",
        )
        _assert_close(
            _kernel(lens_convergence, x, y, kap),
            naive.convergence(x, y, kap),
            CLOSED_FORM_RTOL,
            f"CONVERGENCE {kap}",
        )


# --- limits between profiles --------------------------------------------------------------


def test_epl_t1_equals_sie():
    rng = np.random.default_rng(RNG_SEED + 4)
    for _ in range(30):
        q = rng.uniform(0.1, 1.0)
        b = rng.uniform(0.5, 2.0) * math.sqrt(q)
        c, s = math.cos(p := rng.uniform(-np.pi, np.pi)), math.sin(p)
        cx, cy = rng.normal(0, 0.1, 2)
        x, y = _points(rng, 50, (cx, cy))
        nt = epl_series_terms(q, 1.0, SERIES_TOLERANCE)
        _assert_close(
            _kernel(lens_epl, x, y, b, 1.0, q, c, s, cx, cy, nt),
            _kernel(lens_sie, x, y, b, q, c, s, cx, cy),
            LIMIT_RTOL,
            f"EPL(t=1) vs SIE q={q}",
        )


def test_epl_round_isothermal_equals_sis():
    rng = np.random.default_rng(RNG_SEED + 5)
    x, y = _points(rng, 100, (0.1, -0.3))
    for te in (0.5, 1.0, 1.7):
        _assert_close(
            _kernel(lens_epl, x, y, te, 1.0, 1.0, 1.0, 0.0, 0.1, -0.3, 1),
            _kernel(lens_sis, x, y, te, 0.1, -0.3),
            LIMIT_RTOL,
            f"EPL vs SIS {te}",
        )


# --- EPL series length and truncation -----------------------------------------------------


def test_series_terms_grow_as_q_falls():
    qs = np.linspace(1.0, 0.1, 91)
    for t in (0.2, 1.0, 1.8):
        n = [epl_series_terms(q, t, SERIES_TOLERANCE) for q in qs]
        assert n[0] == 1, "a round lens needs only the leading term"
        assert all(np.diff(n) >= 0), f"not monotone in q at t={t}: {n}"
    # ln(tol)/ln(f) at f = 1/9 is ~15 for 1e-14 (the CONTEXT's ~11 is for ~1e-11)
    assert 8 <= epl_series_terms(0.8, 1.0, SERIES_TOLERANCE) <= 20
    assert epl_series_terms(0.1, 1.0, SERIES_TOLERANCE) > 100
    assert epl_series_terms(0.1, 1.0, 1e-6) < epl_series_terms(0.1, 1.0, SERIES_TOLERANCE)


@pytest.mark.parametrize("tolerance", [1e-4, 1e-8, 1e-12, SERIES_TOLERANCE])
def test_truncated_series_meets_tolerance(tolerance):
    # the series' leading term is 1, so an absolute error below the tolerance is what is
    # promised, plus rounding: ~1 ulp of |Omega| per summed term (up to ~330 terms here)
    phi = np.linspace(0, 2 * np.pi, 361)
    worst = 0.0
    for q in (0.9, 0.5, 0.25, 0.1, 0.05):
        for t in (0.2, 0.6, 1.0, 1.4, 1.8):
            nt = epl_series_terms(q, t, tolerance)
            got = np.array([omega_epl(math.cos(p), math.sin(p), q, t, nt) for p in phi])
            ref = naive.omega_epl(phi, q, t)
            err = np.max(np.abs(got[:, 0] + 1j * got[:, 1] - ref))
            rounding = nt * np.finfo(float).eps * np.max(np.abs(ref))
            worst = max(worst, err / tolerance)
            assert err <= tolerance + rounding, f"q={q} t={t} n={nt}: error {err:.3e}"
    # the estimate is not absurdly conservative: at loose tolerances the error uses some of it
    if tolerance >= 1e-8:
        assert worst > 1e-3


def test_fixed_short_series_would_fail_at_low_q():
    """The reason for adaptive lengths: 11 terms are fine at q = 0.8, wrong at q = 0.1."""
    phi = np.linspace(0, 2 * np.pi, 181)
    for q, ok in ((0.8, True), (0.1, False)):
        got = np.array([omega_epl(math.cos(p), math.sin(p), q, 1.0, 11) for p in phi])
        err = np.max(np.abs(got[:, 0] + 1j * got[:, 1] - naive.omega_epl(phi, q, 1.0)))
        assert (err < 1e-8) == ok, f"q={q}: error {err:.3e}"


# --- finite differences -------------------------------------------------------------------


def _all_profiles(rng):
    """(label, scalar function of (x, y)) for every profile, with random parameters."""
    q = rng.uniform(0.15, 0.9)
    b = 1.1 * math.sqrt(q)
    phi = rng.uniform(-np.pi, np.pi)
    c, s = math.cos(phi), math.sin(phi)
    out = []
    for t in (0.3, 1.0, 1.7):
        nt = epl_series_terms(q, t, SERIES_TOLERANCE)
        out.append(
            (
                f"EPL t={t} q={q:.3f}",
                lambda x, y, t=t, nt=nt: lens_epl(x, y, b, t, q, c, s, 0.05, -0.1, nt),
            )
        )
    out += [
        (f"SIE q={q:.3f}", lambda x, y: lens_sie(x, y, b, q, c, s, 0.05, -0.1)),
        ("SIS", lambda x, y: lens_sis(x, y, 1.2, 0.05, -0.1)),
        ("POINT_MASS", lambda x, y: lens_point_mass(x, y, 1.2, 0.05, -0.1)),
        ("SHEAR", lambda x, y: lens_shear(x, y, 0.07, -0.04)),
        ("CONVERGENCE", lambda x, y: lens_convergence(x, y, 0.13)),
    ]
    return out


def test_hessian_and_potential_gradient_vs_finite_differences():
    rng = np.random.default_rng(RNG_SEED + 6)
    h = FD_STEP
    for _ in range(4):
        for label, fn in _all_profiles(rng):
            for _ in range(25):
                r = rng.uniform(0.3, 3.0)
                a = rng.uniform(0, 2 * np.pi)
                x, y = 0.05 + r * math.cos(a), -0.1 + r * math.sin(a)
                psi, ax, ay, fxx, fxy, fyy = fn(x, y)
                px, py = fn(x + h, y), fn(x - h, y)
                qx, qy = fn(x, y + h), fn(x, y - h)
                # Hessian = d alpha / d theta
                fd_xx = (px[1] - py[1]) / (2 * h)
                fd_yx = (px[2] - py[2]) / (2 * h)
                fd_xy = (qx[1] - qy[1]) / (2 * h)
                fd_yy = (qx[2] - qy[2]) / (2 * h)
                hs = abs(fxx) + abs(fyy) + 2 * abs(fxy) + 1e-3
                for name, got, fd in (
                    ("f_xx", fxx, fd_xx),
                    ("f_yy", fyy, fd_yy),
                    ("f_xy", fxy, fd_xy),
                    ("f_yx", fxy, fd_yx),
                ):
                    assert abs(got - fd) <= FD_RTOL * hs, (
                        f"{label} at ({x}, {y}): {name} {got!r} vs FD {fd!r}"
                    )
                # deflection = grad psi
                gx = (px[0] - py[0]) / (2 * h)
                gy = (qx[0] - qy[0]) / (2 * h)
                asc = math.hypot(ax, ay) + 1e-3
                assert abs(gx - ax) <= FD_RTOL * asc, f"{label}: dpsi/dx {gx!r} vs {ax!r}"
                assert abs(gy - ay) <= FD_RTOL * asc, f"{label}: dpsi/dy {gy!r} vs {ay!r}"


# --- composite and batch drivers ----------------------------------------------------------


def _random_composite(rng, n_sys=1):
    kinds = ("EPL", "SHEAR", "CONVERGENCE", "SIS", "POINT_MASS", "SIE")
    e = rng.uniform(0, 0.6, (2, n_sys))
    kw = [
        dict(
            theta_E=rng.uniform(0.8, 1.5, n_sys),
            gamma=rng.uniform(1.3, 2.7, n_sys),
            e1=e[0] * np.cos(2 * e[1] * 5),
            e2=e[0] * np.sin(2 * e[1] * 5),
            center_x=rng.normal(0, 0.05, n_sys),
            center_y=rng.normal(0, 0.05, n_sys),
        ),
        dict(gamma1=rng.normal(0, 0.05, n_sys), gamma2=rng.normal(0, 0.05, n_sys)),
        dict(kappa=rng.normal(0, 0.05, n_sys)),
        dict(
            theta_E=rng.uniform(0.05, 0.2, n_sys),
            center_x=rng.normal(1, 0.2, n_sys),
            center_y=rng.normal(0, 0.2, n_sys),
        ),
        dict(
            theta_E=rng.uniform(0.01, 0.05, n_sys),
            center_x=rng.normal(-1, 0.2, n_sys),
            center_y=rng.normal(0.5, 0.2, n_sys),
        ),
        dict(
            theta_E=rng.uniform(0.05, 0.2, n_sys),
            e1=rng.uniform(-0.2, 0.2, n_sys),
            e2=rng.uniform(-0.2, 0.2, n_sys),
            center_x=rng.normal(0, 1, n_sys),
            center_y=rng.normal(0, 1, n_sys),
        ),
    ]
    return kinds, kw


def _one(kw, i):
    return [{k: float(v[i]) for k, v in d.items()} for d in kw]


def test_composite_and_batch_drivers_vs_scalar_and_naive():
    rng = np.random.default_rng(RNG_SEED + 7)
    kinds, kw = _random_composite(rng, 8)
    lens = pack(kinds, kw)
    for i in range(lens.n_systems):
        codes, packed = lens.system(i)
        x, y = rng.normal(0, 1.5, (2, 500))
        out = np.empty((6, x.size))
        evaluate_batch(x, y, codes, packed, out)
        scalar = np.array(
            [lens_composite(xi, yi, codes, packed) for xi, yi in zip(x, y, strict=True)]
        ).T
        # same kernel, same order of summation: bit-identical
        np.testing.assert_array_equal(out, scalar)
        bx = np.empty_like(x)
        by = np.empty_like(y)
        raytrace_batch(x, y, codes, packed, bx, by)
        np.testing.assert_array_equal(bx, x - scalar[1])
        np.testing.assert_array_equal(by, y - scalar[2])
        ref = naive.composite(x, y, kinds, _one(kw, i))
        _assert_close(
            {k: out[j] for j, k in enumerate(KEYS)},
            ref,
            TWIN_RTOL,
            f"composite system {i}: {_one(kw, i)}",
        )
        nbx, nby = naive.raytrace(x, y, kinds, _one(kw, i))
        np.testing.assert_allclose(bx, nbx, rtol=0, atol=TWIN_RTOL * 10)
        np.testing.assert_allclose(by, nby, rtol=0, atol=TWIN_RTOL * 10)


# --- equivariance (hypothesis) ------------------------------------------------------------


def _rot(vx, vy, a, spin):
    c, s = math.cos(spin * a), math.sin(spin * a)
    return c * vx - s * vy, s * vx + c * vy


def _deflection(kw_list, x, y):
    lens = pack(("EPL", "SHEAR"), [{k: np.array([v]) for k, v in d.items()} for d in kw_list])
    codes, packed = lens.system(0)
    r = lens_composite(x, y, codes, packed)
    return r[1], r[2], packed[1]


_finite = dict(allow_nan=False, allow_infinity=False)


@settings(max_examples=150, deadline=None)
@given(
    theta_e=st.floats(0.5, 2.0, **_finite),
    gamma=st.floats(1.2, 2.8, **_finite),
    e=st.floats(0.0, 0.8, **_finite),
    ang=st.floats(-math.pi, math.pi, **_finite),
    g=st.floats(0.0, 0.3, **_finite),
    gang=st.floats(-math.pi, math.pi, **_finite),
    cx=st.floats(-0.3, 0.3, **_finite),
    cy=st.floats(-0.3, 0.3, **_finite),
    r=st.floats(0.05, 3.0, **_finite),
    pang=st.floats(-math.pi, math.pi, **_finite),
    rot=st.floats(-math.pi, math.pi, **_finite),
    dx=st.floats(-1.0, 1.0, **_finite),
    dy=st.floats(-1.0, 1.0, **_finite),
)
def test_composite_deflection_rotation_translation_equivariance(
    theta_e, gamma, e, ang, g, gang, cx, cy, r, pang, rot, dx, dy
):
    """Rotating e1,e2 and shear (spin 2), centre and point (spin 1) rotates alpha (spin 1).

    Translating centre and point by d leaves the EPL deflection unchanged; the external shear
    acts about the origin, so the composite deflection changes by exactly Gamma d.
    """
    e1, e2 = e * math.cos(2 * ang), e * math.sin(2 * ang)
    g1, g2 = g * math.cos(2 * gang), g * math.sin(2 * gang)
    x, y = cx + r * math.cos(pang), cy + r * math.sin(pang)
    base = [
        dict(theta_E=theta_e, gamma=gamma, e1=e1, e2=e2, center_x=cx, center_y=cy),
        dict(gamma1=g1, gamma2=g2),
    ]
    ax, ay, _ = _deflection(base, x, y)
    scale = math.hypot(ax, ay) + theta_e
    # rotation about the origin
    re1, re2 = _rot(e1, e2, rot, 2)
    rg1, rg2 = _rot(g1, g2, rot, 2)
    rcx, rcy = _rot(cx, cy, rot, 1)
    rx, ry = _rot(x, y, rot, 1)
    rotated = [
        dict(theta_E=theta_e, gamma=gamma, e1=re1, e2=re2, center_x=rcx, center_y=rcy),
        dict(gamma1=rg1, gamma2=rg2),
    ]
    bx, by, _ = _deflection(rotated, rx, ry)
    ex, ey = _rot(ax, ay, rot, 1)
    tol = EQUIVARIANCE_RTOL * scale
    assert abs(bx - ex) <= tol and abs(by - ey) <= tol, (
        f"rotation by {rot}: {base} at ({x}, {y}) -> ({bx}, {by}) expected ({ex}, {ey})"
    )
    # translation by d
    moved = [dict(base[0], center_x=cx + dx, center_y=cy + dy), base[1]]
    tx, ty, _ = _deflection(moved, x + dx, y + dy)
    sx, sy = ax + g1 * dx + g2 * dy, ay + g2 * dx - g1 * dy
    assert abs(tx - sx) <= tol and abs(ty - sy) <= tol, (
        f"translation by ({dx}, {dy}): {base} at ({x}, {y}) -> ({tx}, {ty}) expected ({sx}, {sy})"
    )
