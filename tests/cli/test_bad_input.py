"""The bad-input corpus: every command, every kind of bad input, as a user meets it.

Each case runs the real console entry point in a subprocess and asserts the documented exit
code (README "Exit codes"), exactly one ``error:`` line on stderr that names the problem, no
traceback, and that nothing was left behind or changed in the working directory.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import pytest

from mocklens.config import dump_json
from mocklens.errors import EXIT_CODES
from tests.conftest import small_config

CONFIG, EXISTS, DATASET, RESOURCE = (
    EXIT_CODES[name]
    for name in ("ConfigError", "OutputExistsError", "DatasetError", "ResourceError")
)


def snapshot(root: Path) -> dict:
    def digest(p):
        return hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"

    return {str(p.relative_to(root)): digest(p) for p in sorted(root.rglob("*"))}


def mocklens(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "mocklens", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A working directory holding every kind of bad input, and one good run to break."""
    root = tmp_path_factory.mktemp("corpus")
    good = small_config(n=60, shard_size=20)
    (root / "good.json").write_text(dump_json(good, indent=2))
    data = json.loads(dump_json(good))
    typo = json.loads(dump_json(good))
    typo["selection"]["min_abs_muu"] = typo["selection"].pop("min_abs_mu")
    (root / "typo.json").write_text(json.dumps(typo))
    data["redshifts"]["z_lens"] = {"type": "uniform", "min": 0.5, "max": 0.2}
    (root / "range.json").write_text(json.dumps(data))
    (root / "binary.yaml").write_bytes(bytes(range(256)) * 8)
    (root / "notes.txt").write_text("not a run\n")
    subprocess.run(
        [sys.executable, "-m", "mocklens", "generate", "--config", "good.json", "--out", "run"],
        cwd=root, check=True, capture_output=True, timeout=600,
    )
    subprocess.run(
        [sys.executable, "-m", "mocklens", "merge", "run", "--out", "merged.h5"],
        cwd=root, check=True, capture_output=True, timeout=600,
    )
    (root / "config.h5").write_bytes((root / "merged.h5").read_bytes())
    (root / "truncated.h5").write_bytes((root / "merged.h5").read_bytes()[:4000])
    for name, damage in (("missing", "unlink"), ("corrupt", "flip")):
        subprocess.run(["cp", "-a", "run", name], cwd=root, check=True)
        shard = root / name / "shards" / "shard-000001.h5"
        if damage == "unlink":
            shard.unlink()
        else:
            with h5py.File(shard, "r") as handle:
                info = handle["point/mu"].id.get_chunk_info(0)
            with open(shard, "r+b") as raw:
                raw.seek(info.byte_offset + 8)
                raw.write(b"\xff" * 16)
    (root / "x.h5").mkdir()
    return root


@pytest.fixture(scope="module")
def readonly(corpus):
    """A read-only view of the corpus (a real read-only bind mount; needs root)."""
    target = corpus.parent / (corpus.name + "-ro")
    target.mkdir()
    ok = subprocess.run(["mount", "--bind", str(corpus), str(target)], capture_output=True)
    if ok.returncode != 0:
        pytest.skip(f"cannot bind-mount ({ok.stderr.decode().strip()}); needs root")
    try:
        ro = subprocess.run(["mount", "-o", "remount,bind,ro", str(target)], capture_output=True)
        if ro.returncode != 0:
            pytest.skip(f"cannot remount read-only: {ro.stderr.decode().strip()}")
        yield target
    finally:
        subprocess.run(["umount", str(target)], capture_output=True)


CASES = [
    # (id, arguments, exit code, words the one error line must contain)
    ("config-typo", ["generate", "--config", "typo.json", "--out", "o.h5"], CONFIG, "min_abs_mu"),
    ("impossible-range", ["generate", "--config", "range.json", "--out", "o.h5"], CONFIG, "z_lens"),
    ("binary-config", ["generate", "--config", "binary.yaml", "--out", "o.h5"], CONFIG,
     "not a text"),
    ("h5-as-config", ["generate", "--config", "config.h5", "--out", "o.h5"], CONFIG, "HDF5 file"),
    ("missing-config", ["generate", "--config", "nope.yaml", "--out", "o.h5"], CONFIG, "nope.yaml"),
    ("zero-n", ["generate", "--n", "0", "--out", "o.h5"], CONFIG, "n_samples"),
    ("unknown-preset", ["generate", "--preset", "bothh", "--out", "o.h5"], CONFIG, "bothh"),
    ("half-array", ["generate", "--n", "10", "--task-id", "0", "--out", "o"], CONFIG, "--n-tasks"),
    ("bad-task-id", ["generate", "--config", "good.json", "--task-id", "5", "--n-tasks", "2",
                     "--out", "run"], CONFIG, "--task-id"),
    ("out-exists", ["generate", "--n", "10", "--out", "merged.h5"], EXISTS, "merged.h5"),
    ("out-is-a-file", ["generate", "--n", "10", "--out", "notes.txt"], EXISTS, "not a directory"),
    ("overwrite-a-dir", ["generate", "--n", "10", "--out", "x.h5", "--overwrite"], EXISTS,
     "directory"),
    ("other-config", ["generate", "--preset", "shear", "--n", "60", "--out", "run"], EXISTS,
     "family"),
    ("validate-typo", ["validate", "typo.json"], CONFIG, "min_abs_mu"),
    ("validate-binary", ["validate", "binary.yaml"], CONFIG, "not a text"),
    ("validate-truncated", ["validate", "truncated.h5"], DATASET, "truncated.h5"),
    ("validate-not-hdf5", ["validate", "notes.txt"], DATASET, "notes.txt"),
    ("validate-corrupt-run", ["validate", "corrupt/shards/shard-000001.h5"], DATASET, "corrupt"),
    ("info-truncated", ["info", "truncated.h5"], DATASET, "truncated.h5"),
    ("info-missing", ["info", "nope.h5"], DATASET, "nope.h5"),
    ("info-config", ["info", "good.json"], DATASET, "good.json"),
    ("status-not-a-run", ["status", "notes.txt"], DATASET, "not a mocklens run"),
    ("finalize-missing-shard", ["finalize", "missing"], DATASET, "shard 1 is missing"),
    ("finalize-corrupt-shard", ["finalize", "corrupt"], DATASET, "shard 1 is corrupt"),
    ("finalize-not-a-run", ["finalize", "notes.txt"], DATASET, "not a mocklens run"),
    ("merge-missing-shard", ["merge", "missing", "--out", "m.h5"], DATASET, "missing"),
    ("merge-exists", ["merge", "run", "--out", "merged.h5"], EXISTS, "merged.h5"),
    ("jobs-zero-tasks", ["jobs", "slurm", "--n", "100", "--tasks", "0", "--out", "j"], CONFIG,
     "--tasks"),
    ("jobs-bad-time", ["jobs", "slurm", "--n", "100", "--tasks", "1", "--time", "soon",
                       "--out", "j"], CONFIG, "--time"),
    ("jobs-other-config", ["jobs", "slurm", "--preset", "shear", "--n", "60", "--tasks", "1",
                           "--out", "run"], EXISTS, "another config"),
    ("config-unknown-preset", ["config", "--preset", "nope"], CONFIG, "nope"),
]

READ_ONLY_CASES = [
    ("ro-generate-file", ["generate", "--n", "10", "--out", "{ro}/new.h5"], RESOURCE, "new.h5"),
    ("ro-generate-dir", ["generate", "--n", "10", "--out", "{ro}/newrun"], RESOURCE, "{ro}"),
    ("ro-resume", ["generate", "--config", "{ro}/good.json", "--out", "{ro}/missing"], RESOURCE,
     "{ro}"),
    ("ro-jobs", ["jobs", "slurm", "--n", "100", "--tasks", "1", "--out", "{ro}/jobs"], RESOURCE,
     "{ro}"),
    ("ro-finalize", ["finalize", "{ro}/run"], RESOURCE, "not writable"),
    ("ro-merge", ["merge", "{ro}/run", "--out", "{ro}/m.h5"], RESOURCE, "m.h5"),
]


def check(result, code, words, before, after):
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == code, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    assert words in errors[0], errors[0]
    assert after == before, sorted(set(after.items()) ^ set(before.items()))


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input(corpus, case):
    _, args, code, words = case
    before = snapshot(corpus)
    result = mocklens(*args, cwd=corpus)
    check(result, code, words, before, snapshot(corpus))


@pytest.mark.slow
@pytest.mark.parametrize("case", READ_ONLY_CASES, ids=[c[0] for c in READ_ONLY_CASES])
def test_bad_input_read_only(corpus, readonly, case):
    _, args, code, words = case
    before = snapshot(corpus)
    result = mocklens(*(a.replace("{ro}", readonly.name) for a in args), cwd=corpus.parent)
    check(result, code, words.replace("{ro}", readonly.name), before, snapshot(corpus))
