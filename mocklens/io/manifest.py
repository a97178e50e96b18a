"""JSON description of an HDF5 file's structure, and its validation against a JSON Schema.

The manifest is what ``catalog.schema.json`` constrains: which groups and datasets exist,
their dtypes and shapes, and their attributes (``units`` on every column ...). It holds no
data values, so it is cheap for any file size.
"""

from __future__ import annotations

import os
import re

import h5py
import jsonschema

from mocklens.io.reader import attrs_dict, open_file


def _dtype_name(dataset: h5py.Dataset) -> str:
    if h5py.check_string_dtype(dataset.dtype) is not None:
        return "string"
    return dataset.dtype.name


def _describe_dataset(dataset: h5py.Dataset) -> dict:
    return {
        "dtype": _dtype_name(dataset),
        "shape": [int(n) for n in dataset.shape],
        "attrs": attrs_dict(dataset),
    }


def _describe_group(group: h5py.Group) -> dict:
    node = {"attrs": attrs_dict(group), "datasets": {}}
    for name, obj in group.items():
        if isinstance(obj, h5py.Dataset):
            node["datasets"][name] = _describe_dataset(obj)
        elif isinstance(obj, h5py.Group):
            # mocklens files nest one level; deeper groups are still described, not hidden.
            node.setdefault("groups", {})[name] = _describe_group(obj)
    return node


def describe(path: str | os.PathLike) -> dict:
    """Describe the structure of an HDF5 file as JSON-serialisable data.

    Parameters
    ----------
    path : str or os.PathLike
        HDF5 file (complete or not; no completeness check is made).

    Returns
    -------
    dict
        ``{"attrs": {...}, "groups": {name: {"attrs": {...}, "datasets": {name: {"dtype":
        "float64", "shape": [N, K], "attrs": {...}}}}}}``. Attribute values are plain
        Python (numpy scalars converted, bytes decoded). Root-level datasets, if any, appear
        under a root ``"datasets"`` key and nested groups under a group's ``"groups"`` key.

    Raises
    ------
    DatasetError
        If the file cannot be opened.
    """
    with open_file(path) as handle:
        root = _describe_group(handle)
    manifest = {"attrs": root["attrs"], "groups": root.get("groups", {})}
    if root["datasets"]:
        manifest["datasets"] = root["datasets"]
    return manifest


def _location(path: list) -> tuple[str, str]:
    """Map a manifest path to an HDF5 path and a trailing field (attribute, dtype ...)."""
    hdf5, field, i = "", "", 0
    while i < len(path):
        key = path[i]
        if key in ("groups", "datasets") and i + 1 < len(path):
            hdf5 += f"/{path[i + 1]}"
            i += 2
        elif key == "attrs" and i + 1 < len(path):
            field = f"attribute '{path[i + 1]}'"
            i += 2
        else:
            field = " ".join(str(p) for p in path[i:])
            break
    return hdf5 or "/", field


_KIND = {"attrs": "attribute", "datasets": "dataset", "groups": "group"}


def _message(error: jsonschema.ValidationError) -> str:
    path = list(error.absolute_path)
    if error.validator == "required":
        # jsonschema reports each missing property as its own error, naming it only here.
        match = re.match(r"^(.+) is a required property$", error.message)
        name = match.group(1) if match else repr(error.validator_value)
        kind = _KIND.get(path[-1], "") if path else ""
        where, _ = _location(path[:-1] if kind else path)
        return f"{where}: missing {kind or 'field'} {name}"
    where, field = _location(path)
    return f"{where}: {field + ': ' if field else ''}{error.message}"


def validate_manifest(manifest: dict, schema: dict) -> list[str]:
    """Validate a manifest against a JSON Schema (Draft 2020-12).

    Parameters
    ----------
    manifest : dict
        Output of :func:`describe`.
    schema : dict
        JSON Schema describing the allowed structure.

    Returns
    -------
    list of str
        One readable line per problem, sorted by location, e.g.
        ``"/point/x: missing attribute 'units'"`` or
        ``"/lens/theta_e: dtype: 'float32' is not one of ['float64']"``; empty when valid.

    Raises
    ------
    jsonschema.SchemaError
        If ``schema`` itself is not a valid schema (a programming error).
    """
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(manifest), key=lambda e: [str(p) for p in e.path])
    return [_message(error) for error in errors]
