"""Point-source solver front end: validate, choose the finder, call the batch kernel."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mocklens.errors import KernelInputError
from mocklens.kernels.images import (
    IMAGE_FLOAT_ROWS,
    MODE_EPL,
    MODE_GRID,
    SETTINGS_WIDTH,
    solve_images_batch,
)
from mocklens.models.lenses import PackedLens

#: Main-deflector types the 1-D EPL finder handles.
EPL_LIKE = ("EPL", "SIE", "SIS")


@dataclass(frozen=True)
class SolverSettings:
    """Numerical settings of the image finders.

    Attributes
    ----------
    n_angles : int
        Samples of the elliptical angle in the EPL finder (even, >= 64).
    tolerance : float
        Largest lens-equation residual accepted for an image [arcsec].
    min_abs_mu : float
        Images with smaller |mu| are dropped [dimensionless].
    grid_half_width : float
        Half-width of the Cartesian square searched by the general finder [arcsec]; its
        polar patches about each mass centre reach further when an image can lie further
        out (``mocklens.kernels.grid``).
    grid_cells : int
        Coarse Cartesian cells per side of the general finder.
    grid_depth : int
        Regular subdivision levels of the general finder (critical and stretched cells go
        ``EXTRA_DEPTH`` levels further).
    """

    n_angles: int = 512
    tolerance: float = 1e-10
    min_abs_mu: float = 0.0
    grid_half_width: float = 6.0
    grid_cells: int = 48
    grid_depth: int = 5


@dataclass(frozen=True)
class ImageSet:
    """Images of a batch of systems, sorted by arrival time and padded with NaN.

    Attributes
    ----------
    values : dict of str -> ndarray of float64, shape (n, K)
        ``x, y`` [arcsec], ``mu`` [dimensionless], ``fermat``, ``psi`` [arcsec^2],
        ``alpha_x, alpha_y`` [arcsec], ``residual`` [arcsec].
    parity, image_type : ndarray of int8, shape (n, K)
        Sign of mu and 1/2/3 for minimum/saddle/maximum (0 = padding).
    n_images : ndarray of int64, shape (n,)
        Images stored per system.
    n_found : ndarray of int64, shape (n,)
        Verified images above the |mu| cut before truncation to K.
    """

    values: dict
    parity: np.ndarray
    image_type: np.ndarray
    n_images: np.ndarray
    n_found: np.ndarray


def choose_finder(types: tuple[str, ...]) -> tuple[int, int, int, int]:
    """Pick the finder for a composition.

    Parameters
    ----------
    types : tuple of str
        Component profile names.

    Returns
    -------
    mode, i_main, i_shear, i_conv : int
        ``MODE_EPL`` with component indices when the model is one EPL-like deflector plus
        optional SHEAR and CONVERGENCE, else ``MODE_GRID`` and -1s.
    """
    mains = [i for i, t in enumerate(types) if t in EPL_LIKE]
    shears = [i for i, t in enumerate(types) if t == "SHEAR"]
    convs = [i for i, t in enumerate(types) if t == "CONVERGENCE"]
    if (
        len(mains) == 1
        and len(shears) <= 1
        and len(convs) <= 1
        and (len(mains) + len(shears) + len(convs) == len(types))
    ):
        return MODE_EPL, mains[0], (shears or [-1])[0], (convs or [-1])[0]
    return MODE_GRID, -1, -1, -1


def solve_images(
    lens: PackedLens,
    beta_x: np.ndarray,
    beta_y: np.ndarray,
    max_images: int = 5,
    settings: SolverSettings | None = None,
    force_grid: bool = False,
) -> ImageSet:
    """Find all images of point sources behind a batch of lenses.

    Parameters
    ----------
    lens : PackedLens
        Validated composite lens, n systems.
    beta_x, beta_y : ndarray of float64, shape (n,)
        Source positions [arcsec].
    max_images : int, optional
        K, width of the per-image arrays.
    settings : SolverSettings, optional
        Finder settings.
    force_grid : bool, optional
        Use the general grid finder even for EPL-like models (for cross-checks).

    Returns
    -------
    ImageSet
        Images sorted by Fermat potential (arrival time), NaN-padded to K.
    """
    s = settings or SolverSettings()
    bx = np.ascontiguousarray(beta_x, dtype=np.float64)
    by = np.ascontiguousarray(beta_y, dtype=np.float64)
    n = lens.n_systems
    if bx.shape != (n,) or by.shape != (n,):
        raise KernelInputError(f"source positions must have shape ({n},)")
    if not (np.all(np.isfinite(bx)) and np.all(np.isfinite(by))):
        raise KernelInputError("source positions must be finite")
    if s.n_angles < 64 or s.n_angles % 2:
        raise KernelInputError("solver n_angles must be even and >= 64")
    mode, i_main, i_shear, i_conv = choose_finder(lens.types)
    if force_grid:
        mode = MODE_GRID
    vec = np.zeros(SETTINGS_WIDTH)
    vec[:6] = (s.n_angles, s.tolerance, s.min_abs_mu, s.grid_half_width, s.grid_cells, s.grid_depth)
    out_f = np.empty((len(IMAGE_FLOAT_ROWS), n, max_images))
    out_i = np.zeros((4, n, max_images), dtype=np.int64)
    solve_images_batch(
        lens.codes, lens.packed, bx, by, mode, i_main, i_shear, i_conv, vec, out_f, out_i
    )
    values = {name: out_f[r] for r, name in enumerate(IMAGE_FLOAT_ROWS)}
    return ImageSet(
        values=values,
        parity=out_i[0].astype(np.int8),
        image_type=out_i[1].astype(np.int8),
        n_images=out_i[2, :, 0].copy(),
        n_found=out_i[3, :, 0].copy(),
    )
