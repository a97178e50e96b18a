"""Fixtures shared by the io tests: small but realistic catalogue tables."""

import json

import numpy as np
import pytest

from mocklens.io.table import Table

#: Maximum number of point images per system in the test tables.
MAX_IMAGES = 4


def make_table(start: int, stop: int, seed: int = 0) -> Table:
    """A catalogue of samples [start, stop): 1-D float, NaN-padded 2-D float, int8, int64."""
    rng = np.random.default_rng(seed + start)
    n = stop - start
    n_images = rng.integers(1, MAX_IMAGES + 1, size=n).astype(np.int8)
    present = np.arange(MAX_IMAGES) < n_images[:, None]
    x = np.where(present, rng.normal(size=(n, MAX_IMAGES)), np.nan)
    parity = np.where(present, rng.choice([-1, 1], size=(n, MAX_IMAGES)), 0).astype(np.int8)
    columns = {
        "lens/theta_e": rng.uniform(0.5, 2.0, size=n),
        "point/x": x,
        "point/parity": parity,
        "point/n_images": n_images,
        "sample/index": np.arange(start, stop, dtype=np.int64),
    }
    units = {"lens/theta_e": "arcsec", "point/x": "arcsec"}
    column_attrs = {
        key: {"units": units.get(key, "dimensionless"), "description": f"test column {key}"}
        for key in columns
    }
    return Table(
        columns=columns,
        column_attrs=column_attrs,
        group_attrs={
            "lens": {"profile": "EPL"},
            "shear": {"profile": "SHEAR", "ra_0": 0.0, "dec_0": 0.0},
            "point": {},
            "sample": {},
        },
        root_attrs={
            "mocklens_version": "0.0.test",
            "config": json.dumps({"n_samples": stop, "seed": 7}),
            "root_seed": 7,
            "n_samples": stop,
            "sample_start": start,
            "sample_stop": stop,
            "flag": True,
            "zero_point": 25.5,
        },
    )


@pytest.fixture
def table() -> Table:
    return make_table(0, 50)


@pytest.fixture
def table_factory():
    """The `make_table` function, for tests that need several shards."""
    return make_table
