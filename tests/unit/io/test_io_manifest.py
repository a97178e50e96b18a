import json

import h5py
import pytest

from mocklens.io.manifest import describe, validate_manifest
from mocklens.io.writer import write_table

COLUMN = {
    "type": "object",
    "required": ["dtype", "shape", "attrs"],
    "properties": {
        "dtype": {"enum": ["float64", "int8", "int64"]},
        "attrs": {
            "type": "object",
            "required": ["units", "description"],
            "properties": {"units": {"enum": ["arcsec", "dimensionless"]}},
        },
    },
}
GROUP = {"type": "object", "properties": {"datasets": {"additionalProperties": COLUMN}}}
SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["attrs", "groups"],
    "properties": {
        "attrs": {
            "type": "object",
            "required": ["format", "format_version", "complete", "config"],
            "properties": {"format": {"const": "mocklens"}, "complete": {"const": 1}},
        },
        "groups": {
            "type": "object",
            "required": ["lens", "point"],
            "additionalProperties": GROUP,
            "properties": {
                "point": {
                    "allOf": [
                        GROUP,
                        {"properties": {"datasets": {"required": ["x", "parity"]}}},
                    ]
                }
            },
        },
    },
}


@pytest.fixture
def written(tmp_path, table):
    return write_table(tmp_path / "cat.h5", table)


def test_describe_is_json_and_complete(written):
    manifest = json.loads(json.dumps(describe(written)))
    assert manifest["attrs"]["complete"] == 1
    assert manifest["attrs"]["flag"] is True
    x = manifest["groups"]["point"]["datasets"]["x"]
    assert x == {
        "dtype": "float64",
        "shape": [50, 4],
        "attrs": {"units": "arcsec", "description": "test column point/x"},
    }
    assert manifest["groups"]["shear"] == {
        "attrs": {"profile": "SHEAR", "ra_0": 0.0, "dec_0": 0.0},
        "datasets": {},
    }


def test_written_file_validates(written):
    assert validate_manifest(describe(written), SCHEMA) == []


def test_broken_file_gives_readable_lines(written):
    with h5py.File(written, "r+") as f:
        del f["point/x"].attrs["units"]
        f["lens/theta_e"].attrs["units"] = "furlong"
        del f["point/parity"]
        f.create_dataset("lens/q", data=[1.0], dtype="float32")
        del f.attrs["config"]
    problems = validate_manifest(describe(written), SCHEMA)
    assert "/: missing attribute 'config'" in problems
    assert "/point/x: missing attribute 'units'" in problems
    assert "/point: missing dataset 'parity'" in problems
    assert any(
        p.startswith("/lens/theta_e: attribute 'units': 'furlong' is not one of") for p in problems
    )
    assert any(p.startswith("/lens/q: dtype: 'float32' is not one of") for p in problems)
    assert problems.count("/lens/q: missing attribute 'units'") == 1
    assert "/lens/q: missing attribute 'description'" in problems
    assert all("\n" not in p for p in problems)
