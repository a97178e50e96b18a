"""Source placement: where the point source of each system goes, and with what density.

Three modes (config ``source.placement``), each returning the source position, the area of
the sampled region and the probability density of the drawn position per unit source-plane
area, so a population can be re-weighted to uniform-in-area by ``1 / (density * area)``:

``image_plane`` (the research recipe)
    An image position is drawn uniformly in a disk of ``radius`` about ``center``
    (radius ``sqrt(U(0, radius**2))``, random angle) and mapped back to the source plane. The
    density is ``sum_i |mu_i| / (pi radius**2)`` over the source's images inside the disk
    (images dropped by the |mu| cut contribute less than that cut each and are left out).
``source_plane``
    Uniform in a disk of ``radius`` about ``center``; density ``1 / area``.
``caustic``
    Uniform inside the tangential caustic (guaranteed multiple imaging), by rejection from the
    caustic's bounding box; ``area`` is the caustic's polygon area, density ``1 / area``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from mocklens.errors import ConfigError
from mocklens.kernels.caustics import points_in_polygons, tangential_caustic_batch
from mocklens.kernels.lens import raytrace_systems
from mocklens.models.lenses import PackedLens
from mocklens.models.solver import MODE_EPL, choose_finder

#: Vertices of the caustic polygon (even-odd area error ~ 1/n^2).
CAUSTIC_POINTS = 1024
#: Rejection rounds allowed inside the caustic's bounding box.
MAX_CAUSTIC_ROUNDS = 200

PLACEMENTS = ("image_plane", "source_plane", "caustic")


def _disk(u1, u2, radius, center):
    r = radius * np.sqrt(u1)
    a = 2.0 * math.pi * u2
    return center[0] + r * np.cos(a), center[1] + r * np.sin(a)


def caustic_polygons(lens: PackedLens, n_points: int = CAUSTIC_POINTS):
    """Tangential caustics of a batch of EPL-like lenses.

    Parameters
    ----------
    lens : PackedLens
        EPL/SIE/SIS main deflector with optional SHEAR and CONVERGENCE.
    n_points : int, optional
        Polygon vertices.

    Returns
    -------
    poly_x, poly_y : ndarray of float64, shape (n_sys, n_points)
        Caustic vertices [arcsec].
    area : ndarray of float64, shape (n_sys,)
        Enclosed area by the shoelace formula [arcsec^2].
    """
    mode, i_main, i_shear, i_conv = choose_finder(lens.types)
    if mode != MODE_EPL:
        raise ConfigError(
            "source.placement: 'caustic' needs one EPL, SIE or SIS deflector with optional "
            "SHEAR and CONVERGENCE"
        )
    n = lens.n_systems
    px = np.empty((n, n_points))
    py = np.empty((n, n_points))
    tangential_caustic_batch(lens.codes, lens.packed, i_main, i_shear, i_conv, px, py)
    area = 0.5 * np.abs(np.sum(px * np.roll(py, -1, axis=1) - np.roll(px, -1, axis=1) * py, axis=1))
    return px, py, area


def place_sources(
    placement: str,
    radius: float,
    center: tuple[float, float],
    lens: PackedLens,
    uniforms: Callable[[int], tuple[np.ndarray, np.ndarray]],
):
    """Place one point source per system.

    Parameters
    ----------
    placement : {"image_plane", "source_plane", "caustic"}
        Placement mode.
    radius : float
        Radius of the sampled disk [arcsec].
    center : tuple of float
        Centre of the sampled disk [arcsec].
    lens : PackedLens
        The batch's lenses.
    uniforms : callable
        ``uniforms(sub)`` returns two uniform arrays of shape (n_sys,) from sub-stream
        ``sub`` of each sample's placement stream (sub 0 first; rejection uses 1, 2, ...).

    Returns
    -------
    beta_x, beta_y : ndarray of float64, shape (n_sys,)
        Source positions [arcsec].
    area : ndarray of float64, shape (n_sys,)
        Area of the sampled region [arcsec^2].
    density : ndarray of float64, shape (n_sys,) or None
        Density per source-plane area [arcsec^-2]; None for ``image_plane`` (it needs the
        images: see :func:`image_plane_density`).
    """
    n = lens.n_systems
    if placement == "image_plane":
        u1, u2 = uniforms(0)
        x, y = _disk(u1, u2, radius, center)
        bx = np.empty(n)
        by = np.empty(n)
        raytrace_systems(x, y, lens.codes, lens.packed, bx, by)
        return bx, by, np.full(n, math.pi * radius**2), None
    if placement == "source_plane":
        u1, u2 = uniforms(0)
        bx, by = _disk(u1, u2, radius, center)
        area = np.full(n, math.pi * radius**2)
        return bx, by, area, 1.0 / area
    if placement == "caustic":
        px, py, area = caustic_polygons(lens)
        if np.any(~np.isfinite(px)) or np.any(~(area > 0.0)):
            bad = int(np.flatnonzero(~np.all(np.isfinite(px), axis=1) | ~(area > 0.0))[0])
            raise ConfigError(
                f"source.placement: no closed tangential caustic for system {bad} of the batch"
            )
        x0, x1 = px.min(axis=1), px.max(axis=1)
        y0, y1 = py.min(axis=1), py.max(axis=1)
        bx = np.empty(n)
        by = np.empty(n)
        todo = np.arange(n)
        for sub in range(MAX_CAUSTIC_ROUNDS):
            u1, u2 = uniforms(sub)
            cx = x0[todo] + u1[todo] * (x1[todo] - x0[todo])
            cy = y0[todo] + u2[todo] * (y1[todo] - y0[todo])
            inside = np.empty(todo.shape[0], dtype=np.bool_)
            points_in_polygons(
                cx, cy, np.ascontiguousarray(px[todo]), np.ascontiguousarray(py[todo]), inside
            )
            bx[todo[inside]] = cx[inside]
            by[todo[inside]] = cy[inside]
            todo = todo[~inside]
            if todo.size == 0:
                return bx, by, area, 1.0 / area
        raise ConfigError("source.placement: caustic rejection sampling did not converge")
    raise ConfigError(f"source.placement: unknown mode {placement!r}")


def image_plane_density(
    x: np.ndarray, y: np.ndarray, mu: np.ndarray, radius: float, center: tuple[float, float]
) -> np.ndarray:
    """Source-plane density of the ``image_plane`` placement.

    Parameters
    ----------
    x, y, mu : ndarray of float64, shape (n, K)
        Images (NaN-padded) [arcsec], [arcsec], [dimensionless].
    radius : float
        Radius of the image-plane disk [arcsec].
    center : tuple of float
        Its centre [arcsec].

    Returns
    -------
    ndarray of float64, shape (n,)
        ``sum |mu_i| / (pi radius**2)`` over images inside the disk [arcsec^-2].

    Notes
    -----
    A uniform image-plane density ``1/A`` maps to the source plane as
    ``p(beta) = sum_i |det(d theta / d beta)|_i / A = sum_i |mu_i| / A``.
    """
    inside = np.hypot(x - center[0], y - center[1]) <= radius
    return np.where(inside, np.abs(mu), 0.0).sum(axis=1) / (math.pi * radius**2)
