"""The committed JSON Schema and examples must equal a fresh export, and every example loads."""

from pathlib import Path

import jsonschema
import pytest

from mocklens.config import load_config
from mocklens.config.schema import SCHEMA_FILE, run_config_schema, schema_files, write_schemas

SCHEMAS = Path(__file__).resolve().parents[3] / "schemas"
REGEN = "regenerate with: python -m mocklens.config.schema schemas"
EXAMPLES = sorted((SCHEMAS / "examples").glob("*.json"))


@pytest.mark.parametrize("rel", sorted(schema_files()))
def test_committed_schema_files_are_fresh(rel):
    path = SCHEMAS / rel
    assert path.exists(), f"{rel} missing: {REGEN}"
    assert path.read_text() == schema_files()[rel], f"{rel} is stale: {REGEN}"


def test_every_committed_example_is_generated():
    generated = {p for p in schema_files() if p.startswith("examples/")}
    assert {f"examples/{p.name}" for p in EXAMPLES} == generated


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_loads_and_validates_against_schema(path):
    cfg = load_config(path)
    assert cfg.n_samples >= 1
    jsonschema.validate(__import__("json").loads(path.read_text()), run_config_schema())


def test_schema_accepts_bare_numbers_and_rejects_unknown_keys():
    schema = run_config_schema()
    doc = __import__("json").loads((SCHEMAS / "examples" / "both.json").read_text())
    doc["lens"]["components"][0]["params"]["gamma"] = 2.0
    jsonschema.validate(doc, schema)
    doc["bogus"] = 1
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, schema)


def test_write_schemas(tmp_path):
    written = write_schemas(tmp_path)
    assert (tmp_path / SCHEMA_FILE) in written
    assert (tmp_path / "examples" / "caustic.json").exists()
