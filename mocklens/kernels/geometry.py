"""Frame changes: shift to a profile centre and rotate into its major-axis frame."""

from __future__ import annotations

from mocklens.kernels._jit import jit


@jit
def to_profile_frame(x, y, center_x, center_y, cos_phi, sin_phi):
    """Shift to a profile centre and rotate by ``-phi`` into its major-axis frame.

    Parameters
    ----------
    x, y : float
        Position in the sky frame [arcsec].
    center_x, center_y : float
        Profile centre [arcsec].
    cos_phi, sin_phi : float
        Cosine and sine of the profile position angle ``phi`` [dimensionless].

    Returns
    -------
    xp, yp : float
        Position in the profile frame, +x along the major axis [arcsec].
    """
    dx = x - center_x
    dy = y - center_y
    return cos_phi * dx + sin_phi * dy, -sin_phi * dx + cos_phi * dy


@jit
def vector_to_sky(vx, vy, cos_phi, sin_phi):
    """Rotate a vector (spin 1) from a profile frame back to the sky frame.

    Parameters
    ----------
    vx, vy : float
        Vector components in the profile frame (e.g. a deflection [arcsec]).
    cos_phi, sin_phi : float
        Cosine and sine of the profile position angle [dimensionless].

    Returns
    -------
    sx, sy : float
        Components in the sky frame, same unit as the input.
    """
    return cos_phi * vx - sin_phi * vy, sin_phi * vx + cos_phi * vy


@jit
def hessian_to_sky(fxx, fxy, fyy, cos_phi, sin_phi):
    """Rotate a symmetric 2x2 tensor from a profile frame back to the sky frame.

    Parameters
    ----------
    fxx, fxy, fyy : float
        Hessian components in the profile frame [dimensionless].
    cos_phi, sin_phi : float
        Cosine and sine of the profile position angle [dimensionless].

    Returns
    -------
    sxx, sxy, syy : float
        Components in the sky frame [dimensionless].

    Notes
    -----
    ``S = R H R^T`` with ``R`` the rotation by ``+phi``.
    """
    c2 = cos_phi * cos_phi
    s2 = sin_phi * sin_phi
    cs = cos_phi * sin_phi
    sxx = c2 * fxx - 2.0 * cs * fxy + s2 * fyy
    syy = s2 * fxx + 2.0 * cs * fxy + c2 * fyy
    sxy = cs * (fxx - fyy) + (c2 - s2) * fxy
    return sxx, sxy, syy
