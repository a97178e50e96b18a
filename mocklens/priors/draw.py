"""Draw the lens parameters of a batch of samples from a :class:`RunConfig`.

Every variable has its own random stream named by its output key (``"lens/theta_E"``,
``"lens/ellipticity/e"``, ``"shear/polar/strength"``, ``"lens/z_source"``...), so the value of
sample ``i`` depends only on (seed, i, attempt) and the variable's own prior: not on the batch
split or order, the rank count, restarts, or the other components of the model.
"""

from __future__ import annotations

import numpy as np

from mocklens.config.model import Z_GAP, Component, RunConfig
from mocklens.errors import ConfigError
from mocklens.models.ellipticity import q_phi_to_e1e2, shear_polar_to_cartesian
from mocklens.priors.distributions import sample
from mocklens.priors.random import root_key, stream_id, uniform, uniform_pair

#: Redraws of z_source allowed per sample before giving up [count].
MAX_Z_REDRAWS = 1000
#: Stream path of the two source-placement uniforms.
PLACEMENT_STREAM = "source/placement"


def _draw(key, path: str, dist, index: np.ndarray, attempt) -> np.ndarray:
    if dist.dist == "fixed":  # no uniform needed: saves a Philox pass per fixed parameter
        return np.full(index.shape, dist.value, dtype=np.float64)
    return sample(dist, uniform(key, index, stream_id(path), attempt))


def _axis_ratio(convention: str, e: np.ndarray) -> np.ndarray:
    """Axis ratio q from the ellipticity magnitude ``e`` in a config convention."""
    if convention == "one_minus_q":
        return 1.0 - e
    if convention == "lenstronomy":
        return (1.0 - e) / (1.0 + e)
    return e


def _component(key, comp: Component, index, attempt) -> dict[str, np.ndarray]:
    g = comp.name
    out: dict[str, np.ndarray] = {}
    if comp.ellipticity is not None:
        ell = comp.ellipticity
        e = _draw(key, f"{g}/ellipticity/e", ell.e, index, attempt)
        phi = _draw(key, f"{g}/ellipticity/angle", ell.angle, index, attempt)
        out[f"{g}/e1"], out[f"{g}/e2"] = q_phi_to_e1e2(_axis_ratio(ell.convention, e), phi)
    if comp.polar is not None:
        s = _draw(key, f"{g}/polar/strength", comp.polar.strength, index, attempt)
        phi = _draw(key, f"{g}/polar/angle", comp.polar.angle, index, attempt)
        out[f"{g}/gamma1"], out[f"{g}/gamma2"] = shear_polar_to_cartesian(s, phi)
    for name, dist in comp.params.items():
        out[f"{g}/{name}"] = _draw(key, f"{g}/{name}", dist, index, attempt)
    # lenstronomy keyword order, whatever order the config listed them in
    return {f"{g}/{p}": out[f"{g}/{p}"] for p in comp.spec.param_names}


def _z_source(key, cfg: RunConfig, z_lens: np.ndarray, index, attempt) -> np.ndarray:
    """z_source, redrawn on sub-streams 0, 1, 2... until above z_lens + Z_GAP."""
    dist = cfg.redshifts.z_source
    stream = stream_id("lens/z_source")
    att = np.broadcast_to(np.asarray(attempt, dtype=np.int64), index.shape)
    z = _draw(key, "lens/z_source", dist, index, att)
    bad = np.flatnonzero(~(z > z_lens + Z_GAP))
    sub = 0
    while bad.size:
        sub += 1
        if sub > MAX_Z_REDRAWS or dist.dist == "fixed":
            raise ConfigError(
                f"redshifts.z_source: no draw above z_lens + {Z_GAP:g} for sample "
                f"{int(index[bad[0]])} (z_lens = {z_lens[bad[0]]:.4g}) after {sub} tries"
            )
        z[bad] = sample(dist, uniform(key, index[bad], stream, att[bad], sub))
        bad = bad[~(z[bad] > z_lens[bad] + Z_GAP)]
    return z


def draw_lenses(cfg: RunConfig, index, attempt) -> dict[str, np.ndarray]:
    """Draw every lens parameter and redshift of a batch of samples.

    Parameters
    ----------
    cfg : RunConfig
        The validated run configuration.
    index : ndarray of int64, shape (n,)
        Global sample indices.
    attempt : int or ndarray of int64, shape (n,)
        Rejection attempt per sample (with ``selection.redraw == "source"`` the caller passes
        0 here so the lens is kept while the source is redrawn).

    Returns
    -------
    dict of str to ndarray of float64, shape (n,)
        ``"<group>/<lenstronomy name>"`` for every component parameter in ``kwargs_lens``
        order (e.g. ``"lens/theta_E"`` [arcsec], ``"lens/e1"``, ``"shear/gamma1"``
        [dimensionless]), then ``"lens/z_lens"``, ``"lens/z_source"`` [dimensionless],
        ``"lens/H0"`` [km/s/Mpc] (drawn if configured, else the cosmology's value) and,
        only when ``cosmology.Om0`` is configured, ``"lens/Om0"`` [dimensionless].

    Raises
    ------
    ConfigError
        If z_source cannot be drawn above z_lens within ``MAX_Z_REDRAWS`` sub-draws.
    """
    index = np.asarray(index, dtype=np.int64)
    key = root_key(cfg.seed)
    out: dict[str, np.ndarray] = {}
    for comp in cfg.lens.components:
        out.update(_component(key, comp, index, attempt))
    z_lens = _draw(key, "lens/z_lens", cfg.redshifts.z_lens, index, attempt)
    out["lens/z_lens"] = z_lens
    out["lens/z_source"] = _z_source(key, cfg, z_lens, index, attempt)
    cos = cfg.cosmology
    if cos.H0 is None:
        out["lens/H0"] = np.full(index.shape, cos.default_H0(), dtype=np.float64)
    else:
        out["lens/H0"] = _draw(key, "lens/H0", cos.H0, index, attempt)
    if cos.Om0 is not None:
        out["lens/Om0"] = _draw(key, "lens/Om0", cos.Om0, index, attempt)
    return out


def draw_placement_uniforms(cfg: RunConfig, index, attempt, sub: int = 0):
    """Return the two uniforms that place the source, from their own stream.

    Parameters
    ----------
    cfg : RunConfig
        The run configuration (its seed).
    index : ndarray of int64, shape (n,)
        Global sample indices.
    attempt : int or ndarray of int64, shape (n,)
        Rejection attempt per sample.
    sub : int, optional
        Sub-stream, for placements that reject inside one attempt (0 first).

    Returns
    -------
    u1, u2 : ndarray of float64, shape (n,)
        Independent uniforms strictly inside (0, 1) [dimensionless].
    """
    index = np.asarray(index, dtype=np.int64)
    return uniform_pair(root_key(cfg.seed), index, stream_id(PLACEMENT_STREAM), attempt, sub)


def stream_paths(cfg: RunConfig) -> list[str]:
    """Return every stream path ``draw_lenses`` may use for ``cfg`` (for collision checks).

    Parameters
    ----------
    cfg : RunConfig
        The run configuration.

    Returns
    -------
    list of str
        Stream paths; their :func:`stream_id` values are distinct for the presets.
    """
    paths = []
    for c in cfg.lens.components:
        paths += [f"{c.name}/{p}" for p in c.params]
        if c.ellipticity is not None:
            paths += [f"{c.name}/ellipticity/e", f"{c.name}/ellipticity/angle"]
        if c.polar is not None:
            paths += [f"{c.name}/polar/strength", f"{c.name}/polar/angle"]
    return paths + ["lens/z_lens", "lens/z_source", "lens/H0", "lens/Om0", PLACEMENT_STREAM]
