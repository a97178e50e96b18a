"""The README's promises, tested as stated: exit codes and "identical data"."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from mocklens.cli.main import cli
from mocklens.errors import EXIT_CODE_MEANINGS
from tests.reference.datasets import assert_identical_data

ROOT = Path(__file__).resolve().parents[2]


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_readme_and_help_list_every_exit_code():
    readme = (ROOT / "README.md").read_text()
    table = readme.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    documented = {int(m) for m in re.findall(r"^\| `(\d+)` \|", table, flags=re.M)}
    assert documented == set(EXIT_CODE_MEANINGS)
    help_text = run("--help").output
    for code, meaning in EXIT_CODE_MEANINGS.items():
        assert re.search(rf"^\s+{code}\s+{re.escape(meaning[:30])}", help_text, flags=re.M), code


def test_same_seed_and_config_give_identical_data(tmp_path, write_config):
    """Two runs, a directory run and a single-file run: same data, only provenance differs."""
    cfg = write_config(n=250, shard_size=100)
    for out in ("a.h5", "b.h5", "run"):
        assert run("generate", "--config", cfg, "--out", tmp_path / out).exit_code == 0
    assert_identical_data(tmp_path / "a.h5", tmp_path / "b.h5")
    assert run("merge", tmp_path / "run", "--out", tmp_path / "c.h5").exit_code == 0
    # the merged copy records who merged it; everything else is the same
    assert_identical_data(tmp_path / "a.h5", tmp_path / "c.h5")
