"""Export of the run-configuration JSON Schema and example configurations.

The pydantic model :class:`~mocklens.config.model.RunConfig` is the single source of truth;
``schemas/run-config.schema.json`` and ``schemas/examples/*.json`` are generated from it by
:func:`write_schemas` (``python -m mocklens.config.schema schemas``), and a test fails when
the committed files differ from a fresh export.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from mocklens.config.load import config_from_dict, dump_json
from mocklens.config.model import RunConfig
from mocklens.config.presets import PRESETS

#: File name of the run-configuration schema.
SCHEMA_FILE = "run-config.schema.json"
#: File name of the exported dataset-manifest schema.
CATALOG_FILE = "catalog.schema.json"
_SCHEMA_ID = "https://mocklens.invalid/schemas/run-config.schema.json"


def run_config_schema() -> dict[str, Any]:
    """Return the JSON Schema (draft 2020-12) of :class:`RunConfig`.

    Returns
    -------
    dict
        The schema; bare numbers are accepted wherever a distribution is.
    """
    schema = RunConfig.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": _SCHEMA_ID,
        **schema,
    }


def example_configs() -> dict[str, RunConfig]:
    """Return the example configurations written to ``schemas/examples/``.

    Returns
    -------
    dict of str to RunConfig
        One per preset, plus ``source_plane`` and ``caustic`` placement variants of the
        default recipe (with a small ``n_samples`` so that each example runs quickly).
    """
    out: dict[str, RunConfig] = dict(PRESETS)
    base = json.loads(dump_json(PRESETS["default"]))
    for placement, radius in (("source_plane", 1.0), ("caustic", 1.0)):
        data = json.loads(json.dumps(base))
        data["source"] = {"placement": placement, "radius": radius, "center": [0.0, 0.0]}
        data["n_samples"] = 1000
        data["output"]["shard_size"] = 500
        out[placement] = config_from_dict(data)
    return out


def _text(obj: Any) -> str:
    return json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n"


def schema_files() -> dict[str, str]:
    """Return the generated files as ``{relative path: text}``.

    Returns
    -------
    dict of str to str
        ``run-config.schema.json`` and ``examples/<name>.json``.
    """
    from mocklens.config.catalog_schema import catalog_schema

    files = {SCHEMA_FILE: _text(run_config_schema()), CATALOG_FILE: _text(catalog_schema())}
    for name, cfg in example_configs().items():
        files[f"examples/{name}.json"] = dump_json(cfg, indent=2) + "\n"
    return files


def write_schemas(directory: str | Path) -> list[Path]:
    """Write the schema and the example configurations under ``directory``.

    Parameters
    ----------
    directory : str or pathlib.Path
        Target directory (``schemas/`` of the repository); created if missing. Files that
        this function does not generate (e.g. ``catalog.schema.json``) are left alone.

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    root = Path(directory)
    written = []
    for rel, text in schema_files().items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for p in write_schemas(sys.argv[1] if len(sys.argv) > 1 else "schemas"):
        print(p)
