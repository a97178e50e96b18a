"""JSON Schema of a dataset's manifest (``catalog.schema.json``), derived from the parameter spec.

A manifest (``mocklens.io.describe``) lists a file's root attributes, groups, datasets,
dtypes, shapes and attributes. The schema requires the format markers and provenance at the
root; ``/lens`` with the system columns, ``/source``, ``/point`` and ``/sample`` with their
columns; a ``units`` attribute on every dataset of every group; and a ``profile`` attribute
naming a known lenstronomy profile on every lens-component group.
"""

from __future__ import annotations

from typing import Any

from mocklens.constants import FORMAT_NAME, FORMAT_VERSION
from mocklens.models.params import (
    IMAGE_COLUMNS,
    IMAGE_INT_COLUMNS,
    PROFILES,
    SOURCE_COLUMNS,
    SYSTEM_COLUMNS,
)

_FLOAT = {"const": "float64"}
_INT = {"enum": ["int8", "int16", "int32", "int64"]}


def _dataset(dtype: dict, ndim: int, unit: str | None) -> dict:
    attrs: dict[str, Any] = {"type": "object", "required": ["units"]}
    if unit is not None:
        attrs["properties"] = {"units": {"const": unit}}
    return {
        "type": "object",
        "required": ["dtype", "shape", "attrs"],
        "properties": {
            "dtype": dtype,
            "shape": {"type": "array", "minItems": ndim, "maxItems": ndim},
            "attrs": attrs,
        },
    }


def _group(datasets: dict[str, dict], extra_attrs: dict | None = None) -> dict:
    group: dict[str, Any] = {
        "type": "object",
        "required": ["datasets"],
        "properties": {
            "datasets": {
                "type": "object",
                "required": sorted(datasets),
                "properties": datasets,
                "additionalProperties": {"$ref": "#/$defs/any_dataset"},
            }
        },
    }
    if extra_attrs:
        group["properties"]["attrs"] = extra_attrs
    return group


def catalog_schema() -> dict[str, Any]:
    """Return the JSON Schema (Draft 2020-12) of a mocklens dataset manifest.

    Returns
    -------
    dict
        The schema.
    """
    lens = {p.name: _dataset(_FLOAT, 1, p.unit) for p in SYSTEM_COLUMNS}
    source = {p.name: _dataset(_FLOAT, 1, p.unit) for p in SOURCE_COLUMNS}
    point = {p.name: _dataset(_FLOAT, 2, p.unit) for p in IMAGE_COLUMNS}
    point.update({name: _dataset(_INT, 2, None) for name, _, _ in IMAGE_INT_COLUMNS})
    point["n_images"] = _dataset(_INT, 1, "count")
    point["n_found"] = _dataset(_INT, 1, "count")
    sample = {"index": _dataset(_INT, 1, "count"), "attempts": _dataset(_INT, 1, "count")}
    component = {
        "type": "object",
        "required": ["attrs", "datasets"],
        "properties": {
            "attrs": {
                "type": "object",
                "required": ["profile"],
                "properties": {"profile": {"enum": sorted(PROFILES)}},
            },
            "datasets": {"type": "object", "additionalProperties": {"$ref": "#/$defs/any_dataset"}},
        },
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://mocklens.invalid/schemas/catalog.schema.json",
        "title": "mocklens dataset manifest",
        "description": "Structure of a mocklens HDF5 dataset as listed by mocklens.io.describe. "
        "Units: arcsec, rad, days, Mpc, km/s/Mpc.",
        "type": "object",
        "required": ["attrs", "groups"],
        "properties": {
            "attrs": {
                "type": "object",
                "required": [
                    "format",
                    "format_version",
                    "mocklens_version",
                    "config",
                    "config_sha256",
                    "root_seed",
                    "n_samples",
                    "cosmology",
                    "provenance",
                ],
                "properties": {
                    "format": {"const": FORMAT_NAME},
                    "format_version": {"type": "integer", "maximum": FORMAT_VERSION},
                    "root_seed": {"type": "integer", "minimum": 0},
                    "n_samples": {"type": "integer", "minimum": 1},
                },
            },
            "groups": {
                "type": "object",
                "required": ["lens", "source", "point", "sample"],
                "properties": {
                    "lens": {"allOf": [component, _group(lens)]},
                    "source": _group(source),
                    "point": _group(point),
                    "sample": _group(sample),
                },
                "additionalProperties": component,
            },
        },
        "$defs": {
            "any_dataset": {
                "type": "object",
                "required": ["dtype", "shape", "attrs"],
                "properties": {"attrs": {"type": "object", "required": ["units"]}},
            }
        },
    }
