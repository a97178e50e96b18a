"""Point-source image finding: all images of a point source, polished and verified.

Two finders share one verification step:

* :func:`solve_epl_frame`, for one EPL (or SIE/SIS) main deflector with optional external shear
  and convergence. In the EPL's major-axis frame the lens equation is
  ``beta = R A u(phi) - R**(1-t) w(phi)`` with ``u = (cos(phi)/q, sin(phi))``,
  ``A = (1 - kappa_ext) I - Gamma``, ``w = 2 b**t/(1+q) Omega(phi)`` (Tessore & Metcalf 2015).
  Crossing with ``w`` and ``A u`` eliminates ``R`` (the idea of Wempe et al. 2022, used in
  lenstronomy's ``analytical`` solver): with ``D = Au x w``, ``P = beta x w``,
  ``Q = beta x Au`` an image satisfies ``R = P/D > 0`` and ``Q = D**t P**(1-t)``, a 1-D
  equation in ``phi``. We scan ``F = Q|P|^a - sgn(D)|D|^t |P|^(1-t+a)``, ``a = max(0, t-1)``
  (continuous everywhere) on a uniform grid, bracket sign changes, probe every local
  minimum of ``|F|`` for a hidden pair of roots (images close to a critical curve), and find
  the central image of slopes shallower than isothermal (``t < 1``) by Newton's method in
  ``(ln R, phi)`` from the dominant balance ``beta ~ -R**(1-t) w``: that image sits within
  ``~R`` of a zero of ``P`` and is far narrower than any grid.
* ``mocklens.kernels.grid.solve_grid``, for any composite model: adaptive subdivision of a
  Cartesian grid and of a polar grid about every mass centre, triangle mapping, Newton polish.

Every candidate is polished by Newton's method and kept only if its lens-equation residual
``|theta - alpha(theta) - beta|`` is below the tolerance; duplicates are merged.
"""

from __future__ import annotations

import math

import numpy as np

from mocklens.kernels._jit import jit
from mocklens.kernels.epl import epl_from_omega, omega_from_coefficients

#: Most candidate images a finder may return before de-duplication.
MAX_CANDIDATES = 64
#: Two polished candidates closer than this are the same image [arcsec].
DUPLICATE_DISTANCE = 1e-8
#: Bracket width at which the 1-D root search stops before the Newton polish [rad].
BRACKET_TOLERANCE = 1e-10
#: Newton iterations allowed for the final polish.
MAX_NEWTON = 40

# Indices into the frame-parameter vector ``fp`` of the EPL finder.
_A11, _A12, _A22, _B1, _B2, _C0, _Q, _T, _NT, _B = 0, 1, 2, 3, 4, 5, 6, 7, 8, 9
FRAME_WIDTH = 10
#: Rows of the scratch array of :func:`solve_epl_frame`.
WORKSPACE_ROWS = 12


@jit
def _ray_vectors(phi, fp, coeffs):
    """Return ``Au(phi)`` and ``w(phi)`` (m1, m2, w1, w2) on the ray at elliptical angle phi."""
    ce = math.cos(phi)
    se = math.sin(phi)
    u1 = ce / fp[_Q]
    u2 = se
    m1 = fp[_A11] * u1 + fp[_A12] * u2
    m2 = fp[_A12] * u1 + fp[_A22] * u2
    om_r, om_i = omega_from_coefficients(ce, se, coeffs, int(fp[_NT]))
    return m1, m2, fp[_C0] * om_r, fp[_C0] * om_i


@jit
def _frame_eval(phi, fp, coeffs):
    """Return D, P, Q, w1, w2 of the 1-D EPL equation at elliptical angle ``phi``."""
    m1, m2, w1, w2 = _ray_vectors(phi, fp, coeffs)
    b1 = fp[_B1]
    b2 = fp[_B2]
    return m1 * w2 - m2 * w1, b1 * w2 - b2 * w1, b1 * m2 - b2 * m1, w1, w2


@jit
def _f_value(d, p, q_, t):
    """Return the continuous 1-D function whose sign changes bracket images (module notes)."""
    if t == 1.0:
        return q_ - d
    sd = 1.0 if d > 0.0 else (-1.0 if d < 0.0 else 0.0)
    if t < 1.0:
        return q_ - sd * abs(d) ** t * abs(p) ** (1.0 - t)
    return q_ * abs(p) ** (t - 1.0) - sd * abs(d) ** t


@jit
def _g_at(phi, fp, coeffs, which):
    """Evaluate ``F`` (which = 0) or ``P`` (which = 1) at ``phi``."""
    d, p, q_, _, _ = _frame_eval(phi, fp, coeffs)
    if which == 1:
        return p
    return _f_value(d, p, q_, fp[_T])


@jit
def _bracket_root(lo, hi, flo, fhi, fp, coeffs, which):
    """Illinois regula falsi with a bisection safeguard on a sign-changing bracket.

    Returns the root estimate [rad]; the bracket always contains a sign change.
    """
    side = 0
    slow = 0
    width = hi - lo
    prev = math.nan
    for _ in range(200):
        if hi - lo < BRACKET_TOLERANCE:
            break
        if slow >= 3:
            # regula falsi stalls on cusp-like |P|**(1-t) shapes: bisect after three steps
            # that did not halve the bracket (keeps the superlinear rate on smooth F)
            mid = 0.5 * (lo + hi)
            slow = 0
        else:
            mid = (lo * fhi - hi * flo) / (fhi - flo)
            if not (lo < mid < hi):
                mid = 0.5 * (lo + hi)
        # converged estimate: Illinois moves one end superlinearly while the other may stay
        if abs(mid - prev) < BRACKET_TOLERANCE:
            return mid
        prev = mid
        fm = _g_at(mid, fp, coeffs, which)
        if fm == 0.0:
            return mid
        if (fm > 0.0) == (fhi > 0.0):
            hi = mid
            fhi = fm
            if side == 1:
                flo *= 0.5
            side = 1
        else:
            lo = mid
            flo = fm
            if side == -1:
                fhi *= 0.5
            side = -1
        new_width = hi - lo
        slow = slow + 1 if new_width > 0.5 * width else 0
        width = new_width
    return 0.5 * (lo + hi)


@jit
def _newton_log_polar(log_r, phi, fp, coeffs):
    """Polish an image in the EPL frame by Newton's method in ``(ln R, phi)``.

    Working in ``ln R`` makes the step exact for the power-law part, so tiny central images
    (R down to 1e-30 arcsec) converge as well as ordinary ones.

    Returns
    -------
    x, y : float
        Polished image position in the EPL frame [arcsec].
    residual : float
        Frame lens-equation residual [arcsec].
    """
    q = fp[_Q]
    t = fp[_T]
    nt = int(fp[_NT])
    a11 = fp[_A11]
    a12 = fp[_A12]
    a22 = fp[_A22]
    best_res = math.inf
    best_s = log_r
    best_phi = phi
    for _ in range(MAX_NEWTON):
        big_r = math.exp(log_r)
        ce = math.cos(phi)
        se = math.sin(phi)
        x = big_r * ce / q
        y = big_r * se
        om_r, om_i = omega_from_coefficients(ce, se, coeffs, nt)
        _, ax, ay, fxx, fxy, fyy = epl_from_omega(x, y, big_r, om_r, om_i, fp[_B], t, q)
        g1 = a11 * x + a12 * y - ax - fp[_B1]
        g2 = a12 * x + a22 * y - ay - fp[_B2]
        res = math.hypot(g1, g2)
        if res < best_res:
            best_res = res
            best_s = log_r
            best_phi = phi
        elif res > 4.0 * best_res:
            # diverging or stalled at rounding level: keep the best iterate
            break
        # rounding floor of the lens equation at this position
        floor = 4e-16 * (abs(fp[_B1]) + abs(fp[_B2]) + abs(x) + abs(y) + abs(ax) + abs(ay))
        if res <= floor:
            break
        j11 = a11 - fxx
        j12 = a12 - fxy
        j22 = a22 - fyy
        # d theta / d ln R = theta ; d theta / d phi = R (-sin/q, cos)
        tx = -big_r * se / q
        ty = big_r * ce
        k11 = j11 * x + j12 * y
        k21 = j12 * x + j22 * y
        k12 = j11 * tx + j12 * ty
        k22 = j12 * tx + j22 * ty
        det = k11 * k22 - k12 * k21
        if det == 0.0 or not math.isfinite(det):
            break
        ds = -(k22 * g1 - k12 * g2) / det
        dphi = -(-k21 * g1 + k11 * g2) / det
        # damp huge steps: the start is already close, a big step means a bad basin
        if abs(ds) > 1.0:
            dphi /= abs(ds)
            ds = math.copysign(1.0, ds)
        if abs(dphi) > 0.3:
            ds *= 0.3 / abs(dphi)
            dphi = math.copysign(0.3, dphi)
        log_r += ds
        phi += dphi
        if abs(ds) < 1e-15 and abs(dphi) < 1e-15:
            break
    log_r = best_s
    phi = best_phi
    big_r = math.exp(log_r)
    ce = math.cos(phi)
    se = math.sin(phi)
    x = big_r * ce / q
    y = big_r * se
    om_r, om_i = omega_from_coefficients(ce, se, coeffs, nt)
    _, ax, ay, _, _, _ = epl_from_omega(x, y, big_r, om_r, om_i, fp[_B], t, q)
    res = math.hypot(a11 * x + a12 * y - ax - fp[_B1], a12 * x + a22 * y - ay - fp[_B2])
    return x, y, res


#: |D| below this fraction of |Au||w| means Au and w are parallel along the ray (round lens
#: without shear), where R = P/D is undefined and the radial equation is solved instead.
PARALLEL_FRACTION = 1e-9
#: Samples of ln R in the radial fallback, spanning 1e-10 b .. 1e4 b.
N_RADIAL = 97


@jit
def _append(x, y, res, cand, n_cand):
    """Append a finite candidate unless it repeats one already found; return the count."""
    if not (math.isfinite(x) and math.isfinite(y)) or n_cand >= cand.shape[0]:
        return n_cand
    for j in range(n_cand):
        if math.hypot(cand[j, 0] - x, cand[j, 1] - y) < DUPLICATE_DISTANCE:
            return n_cand
    cand[n_cand, 0] = x
    cand[n_cand, 1] = y
    cand[n_cand, 2] = res
    return n_cand + 1


@jit
def _radial_roots(phi, fp, coeffs, cand, n_cand):
    """Images on the ray at ``phi`` from the lens equation projected on ``Au``.

    Used where ``Au`` and ``w`` are parallel: ``h(R) = R |Au|**2 - R**(1-t) (w.Au) - beta.Au``
    is scanned in ``ln R`` and each bracketed root polished by Newton.
    """
    t = fp[_T]
    m1, m2, w1, w2 = _ray_vectors(phi, fp, coeffs)
    mm = m1 * m1 + m2 * m2
    wm = w1 * m1 + w2 * m2
    bm = fp[_B1] * m1 + fp[_B2] * m2
    lo = math.log(fp[_B] * 1e-10)
    step = math.log(1e14) / (N_RADIAL - 1)
    prev_s = lo
    prev_h = math.exp(lo) * mm - math.exp((1.0 - t) * lo) * wm - bm
    for j in range(1, N_RADIAL):
        s = lo + j * step
        h = math.exp(s) * mm - math.exp((1.0 - t) * s) * wm - bm
        if prev_h == 0.0 or prev_h * h < 0.0:
            # secant guess in ln R, then Newton in (ln R, phi)
            s0 = prev_s if prev_h == 0.0 else prev_s - prev_h * (s - prev_s) / (h - prev_h)
            x, y, res = _newton_log_polar(s0, phi, fp, coeffs)
            n_cand = _append(x, y, res, cand, n_cand)
        prev_s = s
        prev_h = h
    return n_cand


@jit
def _add_frame_root(phi, fp, coeffs, cand, n_cand):
    """Turn a root in ``phi`` into polished frame candidates; return the new count."""
    m1, m2, w1, w2 = _ray_vectors(phi, fp, coeffs)
    d = m1 * w2 - m2 * w1
    p = fp[_B1] * w2 - fp[_B2] * w1
    if abs(d) <= PARALLEL_FRACTION * math.hypot(m1, m2) * math.hypot(w1, w2):
        return _radial_roots(phi, fp, coeffs, cand, n_cand)
    big_r = p / d
    if not (big_r > 0.0) or not math.isfinite(big_r):
        return n_cand
    x, y, res = _newton_log_polar(math.log(big_r), phi, fp, coeffs)
    return _append(x, y, res, cand, n_cand)


@jit
def _probe_minimum(lo, hi, sign, fp, coeffs, cand, n_cand):
    """Probe a local minimum of ``sign*F`` on [lo, hi] for two roots between grid points.

    Golden-section search; such pairs are images straddling a critical curve. Both are added
    if ``sign*F`` dips below zero.
    """
    gr = 0.6180339887498949
    a = lo
    b = hi
    c = b - gr * (b - a)
    d = a + gr * (b - a)
    fc = sign * _g_at(c, fp, coeffs, 0)
    fd = sign * _g_at(d, fp, coeffs, 0)
    for _ in range(60):
        if fc < 0.0 or fd < 0.0:
            break
        if b - a < 1e-13:
            return n_cand
        if fc < fd:
            b = d
            d = c
            fd = fc
            c = b - gr * (b - a)
            fc = sign * _g_at(c, fp, coeffs, 0)
        else:
            a = c
            c = d
            fc = fd
            d = a + gr * (b - a)
            fd = sign * _g_at(d, fp, coeffs, 0)
    if fc < 0.0:
        xm = c
        fm = fc
    elif fd < 0.0:
        xm = d
        fm = fd
    else:
        return n_cand
    flo = sign * _g_at(lo, fp, coeffs, 0)
    fhi = sign * _g_at(hi, fp, coeffs, 0)
    r1 = _bracket_root(lo, xm, flo, fm, fp, coeffs, 0)
    r2 = _bracket_root(xm, hi, fm, fhi, fp, coeffs, 0)
    n_cand = _add_frame_root(r1, fp, coeffs, cand, n_cand)
    return _add_frame_root(r2, fp, coeffs, cand, n_cand)


@jit
def _scan(ph, ff, n, cyclic, fp, coeffs, cand, n_cand, always_probe):
    """Bracket sign changes of F between consecutive samples and probe local minima of |F|.

    ``ph`` (n,) must increase; with ``cyclic`` the last sample connects to ``ph[0] + 2 pi``.
    Minima are probed when a parabola through three samples predicts a deep dip, or always
    with ``always_probe`` (used near the central-image direction, where pairs crowd).
    """
    n_int = n if cyclic else n - 1
    for k in range(n_int):
        k1 = (k + 1) % n
        lo = ph[k]
        hi = ph[k1] if k1 > k else ph[k1] + 2.0 * math.pi
        f0 = ff[k]
        f1 = ff[k1]
        if f0 == 0.0:
            n_cand = _add_frame_root(lo, fp, coeffs, cand, n_cand)
        elif f0 * f1 < 0.0:
            root = _bracket_root(lo, hi, f0, f1, fp, coeffs, 0)
            n_cand = _add_frame_root(root, fp, coeffs, cand, n_cand)
        elif cyclic or k + 2 < n:
            # local minimum of |F| at sample k1 that might dip through zero between samples
            k2 = (k + 2) % n
            f2 = ff[k2]
            if f1 * f0 > 0.0 and f1 * f2 > 0.0 and abs(f1) < abs(f0) and abs(f1) <= abs(f2):
                # parabola through the three samples predicts the depth of the minimum
                curv = f0 - 2.0 * f1 + f2
                depth = f1 - (f2 - f0) ** 2 / (8.0 * curv) if curv != 0.0 else f1
                if always_probe or depth * f1 < 0.25 * f1 * f1:
                    end = ph[k2]
                    while end <= lo:
                        end += 2.0 * math.pi
                    sign = 1.0 if f1 > 0.0 else -1.0
                    n_cand = _probe_minimum(lo, end, sign, fp, coeffs, cand, n_cand)
    return n_cand


#: Samples per side of the geometric scan around the central-image direction.
N_GEOMETRIC = 40
#: Closest offset from that direction sampled by the geometric scan [rad].
GEOMETRIC_MIN_OFFSET = 1e-10


@jit
def fill_angle_table(ws, n_angles):
    """Write the uniform angle grid and its cos, sin, cos 2phi, sin 2phi into ``ws``.

    The table is the same for every system, so batch drivers fill it once per work item
    instead of paying ~2 n_angles trigonometric calls per system.

    Parameters
    ----------
    ws : ndarray of float64, shape (WORKSPACE_ROWS, >= n_angles)
        Workspace of :func:`solve_epl_frame`; rows 0, 4, 5, 10, 11 are written.
    n_angles : int
        Even number of angles on [0, 2 pi).
    """
    half = n_angles // 2
    step = 2.0 * math.pi / n_angles
    for k in range(half):
        ws[0, k] = k * step
        ws[0, k + half] = (k + half) * step
        c = math.cos(k * step)
        s = math.sin(k * step)
        ws[4, k] = c
        ws[5, k] = s
        ws[10, k] = c * c - s * s
        ws[11, k] = 2.0 * c * s


@jit
def solve_epl_frame(fp, coeffs, n_angles, ws, cand):
    """Find every image of a point source behind an EPL + shear + convergence lens.

    Parameters
    ----------
    fp : ndarray of float64, shape (FRAME_WIDTH,)
        Frame parameters: ``A`` entries a11, a12, a22 [dimensionless], source b1, b2 in the
        EPL frame [arcsec], ``c0 = 2 b**t/(1+q)`` [arcsec**t], q, t, series terms, b [arcsec].
    coeffs : ndarray of float64, shape (>= n_terms,)
        EPL series coefficients (``mocklens.kernels.epl.epl_coefficients``).
    n_angles : int
        Even number of samples of the elliptical angle on [0, 2 pi).
    ws : ndarray of float64, shape (WORKSPACE_ROWS, >= n_angles)
        Scratch space; rows 0, 4, 5, 10, 11 must hold the angle table written by
        :func:`fill_angle_table` (shared by all systems), the other rows are overwritten.
    cand : ndarray of float64, shape (MAX_CANDIDATES, 3)
        Written in place: frame x, y [arcsec] and residual [arcsec] of each candidate.

    Returns
    -------
    int
        Number of candidates written (duplicates not yet removed).

    Notes
    -----
    Central images (for ``t < 1`` the maximum and, for sources near the radial caustic, its
    saddle partner; for ``t > 1`` a faint saddle when the source is far out) lie within ``~R``
    of the direction ``phi0`` where ``w`` is anti-parallel to the source, where
    ``F ~ Q0 - c |phi - phi0|**|1-t|`` has a cusp that a uniform grid cannot
    resolve. A scan geometric in ``|phi - phi0|`` (smooth in ``ln|phi - phi0|``) on both sides
    resolves them, and a Newton start from the dominant balance catches images even closer.
    The uniform grid is evaluated term by term over all angles at once (vectorisable loops);
    ``phi + pi`` needs no evaluation since it flips ``u``, ``Au`` and ``w``.
    """
    t = fp[_T]
    q = fp[_Q]
    nt = int(fp[_NT])
    half = n_angles // 2
    step = 2.0 * math.pi / n_angles
    ph = ws[0]
    pp = ws[1]
    ff = ws[2]
    wb = ws[3]
    ce = ws[4]
    se = ws[5]
    acc_r = ws[6]
    acc_i = ws[7]
    pw_r = ws[8]
    pw_i = ws[9]
    z_r = ws[10]
    z_i = ws[11]
    for k in range(half):
        pw_r[k] = 1.0
        pw_i[k] = 0.0
        acc_r[k] = coeffs[0]
        acc_i[k] = 0.0
    for n in range(1, nt):
        c_n = coeffs[n]
        for k in range(half):
            tr = pw_r[k] * z_r[k] - pw_i[k] * z_i[k]
            pw_i[k] = pw_r[k] * z_i[k] + pw_i[k] * z_r[k]
            pw_r[k] = tr
            acc_r[k] += c_n * tr
            acc_i[k] += c_n * pw_i[k]
    a11 = fp[_A11]
    a12 = fp[_A12]
    a22 = fp[_A22]
    b1 = fp[_B1]
    b2 = fp[_B2]
    c0 = fp[_C0]
    for k in range(half):
        w1 = c0 * (ce[k] * acc_r[k] - se[k] * acc_i[k])
        w2 = c0 * (ce[k] * acc_i[k] + se[k] * acc_r[k])
        u1 = ce[k] / q
        u2 = se[k]
        m1 = a11 * u1 + a12 * u2
        m2 = a12 * u1 + a22 * u2
        d = m1 * w2 - m2 * w1
        p = b1 * w2 - b2 * w1
        q_ = b1 * m2 - b2 * m1
        # phi + pi flips u, Au and w: D is unchanged, P and Q change sign, so the power term
        # |D|**t |P|**(1-t) = |P| (|D|/|P|)**t is shared by both halves. For t > 1 the grid
        # stores F / |P|**(t-1), which has the sign of F: brackets are refined on F itself.
        pp[k] = p
        pp[k + half] = -p
        if t == 1.0:
            ff[k] = q_ - d
            ff[k + half] = -q_ - d
        else:
            ap = abs(p)
            if ap > 0.0:
                x = ap * (abs(d) / ap) ** t
            else:
                x = 0.0 if t < 1.0 else (math.inf if d != 0.0 else 0.0)
            sd = 1.0 if d > 0.0 else (-1.0 if d < 0.0 else 0.0)
            if math.isinf(x):
                ff[k] = -sd * 1e300
                ff[k + half] = -sd * 1e300
            else:
                ff[k] = q_ - sd * x
                ff[k + half] = -q_ - sd * x
        wb[k] = w1 * b1 + w2 * b2
        wb[k + half] = -wb[k]
    n_cand = _scan(ph, ff, n_angles, True, fp, coeffs, cand, 0, False)
    if t != 1.0:
        bnorm = math.hypot(fp[_B1], fp[_B2])
        gph = np.empty(2 * N_GEOMETRIC + 1)
        gff = np.empty(2 * N_GEOMETRIC + 1)
        if bnorm > 0.0:
            for k in range(n_angles):
                k1 = (k + 1) % n_angles
                if not (pp[k] * pp[k1] < 0.0 and wb[k] < 0.0):
                    continue
                phi0 = _bracket_root(ph[k], ph[k] + step, pp[k], pp[k1], fp, coeffs, 1)
                # geometric scan on both sides of phi0: samples phi0 -/+ offsets in one
                # ascending array, centre at index N_GEOMETRIC; each side is scanned alone
                ratio = math.exp(math.log(2.0 * step / GEOMETRIC_MIN_OFFSET) / (N_GEOMETRIC - 1))
                c = N_GEOMETRIC
                gph[c] = phi0
                gff[c] = _g_at(phi0, fp, coeffs, 0)
                off = GEOMETRIC_MIN_OFFSET
                for j in range(1, N_GEOMETRIC + 1):
                    gph[c + j] = phi0 + off
                    gff[c + j] = _g_at(phi0 + off, fp, coeffs, 0)
                    gph[c - j] = phi0 - off
                    gff[c - j] = _g_at(phi0 - off, fp, coeffs, 0)
                    off *= ratio
                n_cand = _scan(gph[c:], gff[c:], c + 1, False, fp, coeffs, cand, n_cand, True)
                n_cand = _scan(
                    gph[: c + 1], gff[: c + 1], c + 1, False, fp, coeffs, cand, n_cand, True
                )
                # dominant balance beta ~ -R**(1-t) w for images closer than any sample
                _, _, _, w1, w2 = _frame_eval(phi0, fp, coeffs)
                wn = math.hypot(w1, w2)
                if wn > 0.0:
                    log_r = math.log(bnorm / wn) / (1.0 - t)
                    if -600.0 < log_r < 50.0:
                        x, y, res = _newton_log_polar(log_r, phi0, fp, coeffs)
                        n_cand = _append(x, y, res, cand, n_cand)
    return n_cand
