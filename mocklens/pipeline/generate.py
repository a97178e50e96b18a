"""The serial core: draw, place, solve and select the systems of one range of samples.

:func:`compute_range` is pure computation (no I/O, no MPI): sample ``i`` depends only on the
config, the root seed and ``i``, so any split of ``[0, n)`` into ranges gives the same rows.
Rejected systems are redrawn with the next ``attempt`` of their own random streams (the lens
too, unless ``selection.redraw == "source"``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from mocklens.config.model import RunConfig
from mocklens.constants import DAYS_PER_MPC_ARCSEC2
from mocklens.errors import ConfigError
from mocklens.models.cosmology import time_delay_distance
from mocklens.models.lenses import pack
from mocklens.models.placement import image_plane_density, place_sources
from mocklens.models.solver import SolverSettings, solve_images
from mocklens.priors.draw import draw_lenses, draw_placement_uniforms

#: Names of the per-image float columns, in ``ImageSet.values`` order plus ``dt``.
_IMAGE_FLOATS = ("x", "y", "mu", "fermat", "psi", "alpha_x", "alpha_y", "residual")


@dataclass
class RangeResult:
    """Arrays of one computed range, ready for :func:`mocklens.pipeline.catalog.build_table`."""

    params: dict
    system: dict
    source: dict
    images: dict
    sample: dict
    attempts_total: int
    timings: dict = field(default_factory=dict)


def solver_settings(cfg: RunConfig) -> SolverSettings:
    """Translate the config's solver and selection sections into finder settings."""
    return SolverSettings(
        n_angles=cfg.solver.n_angles + (cfg.solver.n_angles % 2),
        tolerance=cfg.solver.tolerance,
        min_abs_mu=cfg.selection.min_abs_mu,
    )


def _min_pair_separation(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Smallest distance between any two images per system (inf if fewer than two)."""
    d = np.hypot(x[:, :, None] - x[:, None, :], y[:, :, None] - y[:, None, :])
    k = x.shape[1]
    d[:, np.arange(k), np.arange(k)] = np.inf
    d = np.where(np.isnan(d), np.inf, d)
    return d.min(axis=(1, 2))


def _accept(cfg: RunConfig, n_images: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    sel = cfg.selection
    ok = n_images >= sel.min_images
    if sel.max_images is not None:
        ok &= n_images <= sel.max_images
    if sel.min_separation > 0.0:
        ok &= _min_pair_separation(x, y) >= sel.min_separation
    return ok


def _attempt(cfg: RunConfig, index: np.ndarray, attempt: np.ndarray, timings: dict):
    """Draw, place and solve one attempt for each sample of ``index``."""
    t0 = time.perf_counter()
    lens_attempt = attempt if cfg.selection.redraw == "system" else np.zeros_like(attempt)
    drawn = draw_lenses(cfg, index, lens_attempt)
    comps = cfg.lens.components
    lens = pack(
        tuple(c.type for c in comps),
        [{p: drawn[f"{c.name}/{p}"] for p in c.spec.param_names} for c in comps],
        series_tolerance=cfg.solver.series_tolerance,
    )
    src = cfg.source
    bx, by, area, density = place_sources(
        src.placement,
        src.radius,
        tuple(src.center),
        lens,
        lambda sub: draw_placement_uniforms(cfg, index, attempt, sub),
    )
    t1 = time.perf_counter()
    images = solve_images(lens, bx, by, cfg.output.max_images, solver_settings(cfg))
    t2 = time.perf_counter()
    if density is None:
        density = image_plane_density(
            images.values["x"], images.values["y"], images.values["mu"], src.radius, src.center
        )
    timings["sample"] = timings.get("sample", 0.0) + (t1 - t0)
    timings["solve"] = timings.get("solve", 0.0) + (t2 - t1)
    return drawn, bx, by, area, density, images


def compute_range(cfg: RunConfig, start: int, stop: int) -> RangeResult:
    """Compute samples ``start <= i < stop``.

    Parameters
    ----------
    cfg : RunConfig
        Validated run configuration.
    start, stop : int
        Global sample index range.

    Returns
    -------
    RangeResult
        Parameters, redshifts and distances, source, images (with time delays [days]
        relative to the first arrival) and bookkeeping of every sample in the range.

    Raises
    ------
    ConfigError
        If a sample fails the selection ``selection.max_attempts`` times.
    """
    index = np.arange(start, stop, dtype=np.int64)
    n = index.shape[0]
    k = cfg.output.max_images
    timings: dict = {}
    attempts = np.zeros(n, dtype=np.int64)
    pending = np.arange(n)
    out_params: dict = {}
    out_sys = {name: np.empty(n) for name in ("z_lens", "z_source", "H0")}
    out_src = {name: np.empty(n) for name in ("x", "y", "area", "density")}
    out_img = {name: np.empty((n, k)) for name in _IMAGE_FLOATS}
    out_img["parity"] = np.zeros((n, k), dtype=np.int8)
    out_img["type"] = np.zeros((n, k), dtype=np.int8)
    out_img["n_images"] = np.zeros(n, dtype=np.int64)
    out_img["n_found"] = np.zeros(n, dtype=np.int64)
    total = 0
    while pending.size:
        total += pending.size
        drawn, bx, by, area, density, images = _attempt(
            cfg, index[pending], attempts[pending], timings
        )
        ok = _accept(cfg, images.n_images, images.values["x"], images.values["y"])
        rows = pending[ok]
        for key, val in drawn.items():
            if key.startswith("lens/") and key[5:] in out_sys:
                out_sys[key[5:]][rows] = val[ok]
            elif key == "lens/Om0":
                out_sys.setdefault("Om0", np.empty(n))[rows] = val[ok]
            else:
                out_params.setdefault(key, np.empty(n))[rows] = val[ok]
        out_src["x"][rows] = bx[ok]
        out_src["y"][rows] = by[ok]
        out_src["area"][rows] = area[ok]
        out_src["density"][rows] = density[ok]
        for name in _IMAGE_FLOATS:
            out_img[name][rows] = images.values[name][ok]
        out_img["parity"][rows] = images.parity[ok]
        out_img["type"][rows] = images.image_type[ok]
        out_img["n_images"][rows] = images.n_images[ok]
        out_img["n_found"][rows] = images.n_found[ok]
        attempts[pending] += 1
        pending = pending[~ok]
        if pending.size and attempts[pending[0]] >= cfg.selection.max_attempts:
            raise ConfigError(
                f"selection: sample {int(index[pending[0]])} was rejected "
                f"{cfg.selection.max_attempts} times (min_images={cfg.selection.min_images}, "
                f"max_images={cfg.selection.max_images}, "
                f"min_separation={cfg.selection.min_separation}); loosen the cuts or raise "
                "selection.max_attempts"
            )
    t0 = time.perf_counter()
    name = cfg.cosmology.name if cfg.cosmology.name != "FlatLambdaCDM" else None
    d_dt = time_delay_distance(
        out_sys["z_lens"], out_sys["z_source"], out_sys["H0"], name, out_sys.get("Om0")
    )
    out_sys["D_dt"] = d_dt
    fermat = out_img["fermat"]
    out_img["dt"] = (fermat - fermat[:, :1]) * (d_dt * DAYS_PER_MPC_ARCSEC2)[:, None]
    timings["delays"] = time.perf_counter() - t0
    return RangeResult(
        params=out_params,
        system=out_sys,
        source=out_src,
        images=out_img,
        sample={"index": index, "attempts": attempts},
        attempts_total=total,
        timings=timings,
    )
