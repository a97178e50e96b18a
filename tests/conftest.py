"""Shared fixtures: small configs written to disk, and a runner for the CLI."""

from __future__ import annotations

import json

import pytest

from mocklens.config import config_from_dict, dump_json, get_preset


def small_config(n=300, shard_size=100, seed=7, **overrides):
    """The default recipe with few samples and small shards (dict overrides are merged)."""
    data = json.loads(dump_json(get_preset("default")))
    data.update(n_samples=n, seed=seed)
    data["output"]["shard_size"] = shard_size
    for key, value in overrides.items():
        if isinstance(value, dict):
            data[key].update(value)
        else:
            data[key] = value
    return config_from_dict(data)


@pytest.fixture
def write_config(tmp_path):
    """Write a small config as JSON and return its path."""

    def _write(name="cfg.json", **kwargs):
        path = tmp_path / name
        path.write_text(dump_json(small_config(**kwargs), indent=2))
        return path

    return _write
