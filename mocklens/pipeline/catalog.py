"""Assemble a catalogue :class:`~mocklens.io.Table` from arrays, with units on everything.

Column names, units and descriptions come from ``mocklens.models.params`` (the one parameter
spec); this module only decides the layout of groups:

- one group per lens component (config ``name``), datasets named as lenstronomy names the
  keyword, group attribute ``profile`` = lenstronomy profile name;
- ``/lens`` also holds ``z_lens``, ``z_source``, ``D_dt`` [Mpc], ``H0`` [km/s/Mpc];
- ``/source``: ``x``, ``y`` [arcsec], ``area`` [arcsec^2], ``density`` [arcsec^-2];
- ``/point``: ``n_images`` (N,), ``n_found`` (N,), and (N, K) NaN-padded ``x, y, mu, dt,
  fermat, psi, alpha_x, alpha_y, residual`` plus int8 ``parity`` and ``type`` (0 = no image);
- ``/sample``: ``index`` (global sample index) and ``attempts`` (draws until accepted).
"""

from __future__ import annotations

import json

import numpy as np

from mocklens.config.model import RunConfig
from mocklens.constants import FORMAT_NAME, FORMAT_VERSION
from mocklens.io import Table
from mocklens.models.params import (
    IMAGE_COLUMNS,
    IMAGE_INT_COLUMNS,
    PROFILES,
    SOURCE_COLUMNS,
    SYSTEM_COLUMNS,
)

#: Groups that are not lens components.
FIXED_GROUPS = ("source", "point", "sample")


def _attrs(spec) -> dict:
    return {"units": spec.unit, "description": spec.description}


def build_table(
    cfg: RunConfig,
    params: dict[str, np.ndarray],
    system: dict[str, np.ndarray],
    source: dict[str, np.ndarray],
    images: dict[str, np.ndarray],
    sample: dict[str, np.ndarray],
    root_attrs: dict,
) -> Table:
    """Lay out one shard's arrays as a Table.

    Parameters
    ----------
    cfg : RunConfig
        The run configuration (component names and types).
    params : dict of str -> ndarray, shape (N,)
        ``"<group>/<lenstronomy name>"`` lens parameters.
    system : dict of str -> ndarray, shape (N,)
        ``z_lens``, ``z_source``, ``D_dt``, ``H0``.
    source : dict of str -> ndarray, shape (N,)
        ``x``, ``y``, ``area``, ``density``.
    images : dict of str -> ndarray
        (N, K) per-image columns plus (N,) ``n_images`` and ``n_found``.
    sample : dict of str -> ndarray, shape (N,)
        ``index``, ``attempts``.
    root_attrs : dict
        Root attributes (format keys are added here).

    Returns
    -------
    Table
        The shard's table.
    """
    columns: dict[str, np.ndarray] = {}
    column_attrs: dict[str, dict] = {}
    group_attrs: dict[str, dict] = {}
    for comp in cfg.lens.components:
        spec = PROFILES[comp.type]
        attrs = {"profile": comp.type, "lenstronomy_profile": comp.type}
        if comp.type in ("SHEAR", "CONVERGENCE"):
            attrs.update(ra_0=0.0, dec_0=0.0)
        group_attrs[comp.name] = attrs
        for p in spec.params:
            key = f"{comp.name}/{p.name}"
            columns[key] = np.asarray(params[key], dtype=np.float64)
            column_attrs[key] = _attrs(p)
    group_attrs.setdefault("lens", {})
    for p in SYSTEM_COLUMNS:
        columns[f"lens/{p.name}"] = np.asarray(system[p.name], dtype=np.float64)
        column_attrs[f"lens/{p.name}"] = _attrs(p)
    if "Om0" in system:
        columns["lens/Om0"] = np.asarray(system["Om0"], dtype=np.float64)
        column_attrs["lens/Om0"] = {"units": "dimensionless", "description": "matter density"}
    group_attrs["source"] = {"placement": cfg.source.placement}
    for p in SOURCE_COLUMNS:
        columns[f"source/{p.name}"] = np.asarray(source[p.name], dtype=np.float64)
        column_attrs[f"source/{p.name}"] = _attrs(p)
    group_attrs["point"] = {
        "max_images": int(cfg.output.max_images),
        "sorted_by": "arrival time (first image first)",
        "padding": "NaN for floats, 0 for parity and type; mask = column index < n_images",
    }
    columns["point/n_images"] = np.asarray(images["n_images"], dtype=np.int8)
    column_attrs["point/n_images"] = {"units": "count", "description": "images stored"}
    columns["point/n_found"] = np.asarray(images["n_found"], dtype=np.int16)
    column_attrs["point/n_found"] = {
        "units": "count",
        "description": "verified images above the |mu| cut before truncation to max_images",
    }
    for p in IMAGE_COLUMNS:
        columns[f"point/{p.name}"] = np.asarray(images[p.name], dtype=np.float64)
        column_attrs[f"point/{p.name}"] = _attrs(p)
    for name, dtype, description in IMAGE_INT_COLUMNS:
        columns[f"point/{name}"] = np.asarray(images[name], dtype=dtype)
        column_attrs[f"point/{name}"] = {"units": "dimensionless", "description": description}
    group_attrs["sample"] = {}
    columns["sample/index"] = np.asarray(sample["index"], dtype=np.int64)
    column_attrs["sample/index"] = {"units": "count", "description": "global sample index"}
    columns["sample/attempts"] = np.asarray(sample["attempts"], dtype=np.int32)
    column_attrs["sample/attempts"] = {
        "units": "count",
        "description": "draws until the sample passed the selection (1 = first draw)",
    }
    root = dict(root_attrs)
    root.update(format=FORMAT_NAME, format_version=FORMAT_VERSION)
    return Table(columns, column_attrs, group_attrs, root)


class _Zeros(dict):
    """A mapping that holds a zero row of the given trailing shape under every key."""

    def __init__(self, trailing: tuple = (), **shapes):
        super().__init__()
        self.trailing, self.shapes = trailing, shapes

    def __missing__(self, key):
        return np.zeros((1, *self.shapes.get(key, self.trailing)))


def column_layout(cfg: RunConfig) -> dict:
    """Columns a shard of ``cfg`` will hold, ``"group/name" -> (dtype, trailing shape)``.

    Built from :func:`build_table` itself on one zero row, so it cannot drift from the real
    layout, and without computing anything (no numba compilation).
    """
    k = (cfg.output.max_images,)
    table = build_table(
        cfg,
        _Zeros(),
        _Zeros(),
        _Zeros(),
        _Zeros(k, n_images=(), n_found=()),
        _Zeros(),
        {},
    )
    return {key: (col.dtype, col.shape[1:]) for key, col in table.columns.items()}


def cosmology_json(cfg: RunConfig) -> str:
    """Describe the run's cosmology as JSON text (root attribute ``cosmology``)."""
    c = cfg.cosmology
    return json.dumps(
        {
            "name": c.name,
            "H0": c.default_H0() if c.H0 is None else c.H0.model_dump(),
            "Om0": c.default_Om0() if c.Om0 is None else c.Om0.model_dump(),
            "units": {"H0": "km/s/Mpc", "distances": "Mpc"},
        },
        sort_keys=True,
    )
