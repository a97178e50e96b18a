"""Resume never trusts a file by its name, never deletes what it did not write, and a run's
identity (config, seed, range) is fixed once it has output; a run may only grow.

Each case reproduces a defect found by fault injection (issue 6): flipped bytes skipped as
complete, foreign files deleted silently, config.json replaced under a running array.
"""

from __future__ import annotations

import hashlib
import json

import h5py
import numpy as np
from click.testing import CliRunner

from mocklens.cli.main import cli
from tests.reference.datasets import assert_identical_data


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree(directory):
    """Every file below ``directory`` with its digest (what a refused run must not change)."""
    # mocklens's own empty flock files stay by design (removing one races with the next
    # process that locks it); everything else must be untouched.
    files = sorted(
        p for p in directory.rglob("*") if p.is_file() and not p.name.endswith(".lock")
    )
    return {str(p.relative_to(directory)): sha(p) for p in files}


def flip_chunk_bytes(path, dataset="point/x", n_bytes=16):
    """Flip bytes inside the first stored chunk of ``dataset`` (data, not metadata)."""
    with h5py.File(path, "r") as handle:
        info = handle[dataset].id.get_chunk_info(0)
    with open(path, "r+b") as raw:
        raw.seek(info.byte_offset + info.size // 2)
        chunk = bytearray(raw.read(n_bytes))
        raw.seek(info.byte_offset + info.size // 2)
        raw.write(bytes(b ^ 0xFF for b in chunk))


def make_run(tmp_path, write_config, name="run", n=300, shard_size=100, seed=7):
    cfg = write_config(name=f"{name}.json", n=n, shard_size=shard_size, seed=seed)
    out = tmp_path / name
    r = run("generate", "--config", cfg, "--out", out)
    assert r.exit_code == 0, r.output
    return cfg, out


def test_resume_moves_a_shard_with_flipped_bytes_aside_and_redoes_it(tmp_path, write_config):
    cfg, out = make_run(tmp_path, write_config)
    _, clean = make_run(tmp_path, write_config, name="clean")
    shard = out / "shards" / "shard-000001.h5"
    original = shard.read_bytes()
    flip_chunk_bytes(shard)
    assert run("status", out).exit_code == 1
    r = run("generate", "--config", cfg, "--out", out)
    assert r.exit_code == 0, r.output
    assert "shard-000001.h5 failed verification" in r.output
    assert "resuming: 2 of 3" in r.output
    moved = list((out / "shards" / "corrupt").iterdir())
    assert len(moved) == 1 and moved[0].name.startswith("shard-000001.h5.")
    assert moved[0].read_bytes() != original  # the damaged file itself, kept, not deleted
    assert_identical_data(out / "dataset.h5", clean / "dataset.h5")
    assert run("status", out).exit_code == 0


def test_finalize_and_merge_refuse_a_corrupt_shard(tmp_path, write_config):
    _, out = make_run(tmp_path, write_config)
    flip_chunk_bytes(out / "shards" / "shard-000002.h5", dataset="lens/theta_E")
    before = tree(out)
    r = CliRunner().invoke(cli, ["finalize", str(out)])
    assert r.exit_code == 4
    assert "shard 2 is corrupt" in r.output and "/lens/theta_E" in r.output
    r = CliRunner().invoke(cli, ["merge", str(out), "--out", str(tmp_path / "m.h5")])
    assert r.exit_code == 4 and not (tmp_path / "m.h5").exists()
    assert tree(out) == before


def test_foreign_files_are_refused_before_anything_is_touched(tmp_path, write_config):
    cfg, out = make_run(tmp_path, write_config)
    shards = out / "shards"
    # an unrelated HDF5 file under a shard's name, and a truncated shard of this run
    (shards / "shard-000001.h5").unlink()
    with h5py.File(shards / "shard-000001.h5", "w") as handle:
        handle["data"] = np.arange(10)
    truncated = shards / "shard-000002.h5"
    truncated.write_bytes(truncated.read_bytes()[:5000])
    before = tree(out)
    r = CliRunner().invoke(cli, ["generate", "--config", str(cfg), "--out", str(out)])
    assert r.exit_code == 3
    line = r.output.strip()
    assert "\n" not in line and "Traceback" not in line
    assert "shard-000001.h5 is not a shard of this run" in line
    assert "did not write" in line and "nothing was changed" in line
    assert tree(out) == before  # the truncated shard was not deleted either


def test_newer_format_and_non_hdf5_shards_are_foreign(tmp_path, write_config):
    cfg, out = make_run(tmp_path, write_config)
    shard = out / "shards" / "shard-000000.h5"
    with h5py.File(shard, "r+") as handle:
        handle.attrs["format_version"] = 99
    before = tree(out)
    r = CliRunner().invoke(cli, ["generate", "--config", str(cfg), "--out", str(out)])
    assert r.exit_code == 3 and "format version 99" in r.output
    assert tree(out) == before
    shard.write_text("not a shard\n")
    r = CliRunner().invoke(cli, ["generate", "--config", str(cfg), "--out", str(out)])
    assert r.exit_code == 3 and "not an HDF5 file" in r.output
    assert shard.read_text() == "not a shard\n"


def test_truncated_shard_of_this_run_is_moved_aside_not_deleted(tmp_path, write_config):
    cfg, out = make_run(tmp_path, write_config)
    shard = out / "shards" / "shard-000002.h5"
    damaged = shard.read_bytes()[:5000]
    shard.write_bytes(damaged)
    r = run("generate", "--config", cfg, "--out", out)
    assert r.exit_code == 0, r.output
    moved = list((out / "shards" / "corrupt").iterdir())
    assert [m.read_bytes() for m in moved] == [damaged]
    assert "failed verification" in r.output


def test_a_different_seed_is_refused_with_the_difference_named(tmp_path, write_config):
    _, out = make_run(tmp_path, write_config)
    other = write_config(name="other.json", n=300, shard_size=100, seed=8)
    before = tree(out)
    for extra in ([], ["--task-id", "0", "--n-tasks", "2"]):
        r = CliRunner().invoke(cli, ["generate", "--config", str(other), "--out", str(out), *extra])
        assert r.exit_code == 3, r.output
        assert "seed: 7 -> 8" in r.output and "config.json" in r.output
        assert tree(out) == before


def test_jobs_slurm_does_not_replace_the_config_of_a_run_with_shards(tmp_path, write_config):
    _, out = make_run(tmp_path, write_config)
    config_before = (out / "config.json").read_text()
    r = CliRunner().invoke(
        cli, ["jobs", "slurm", "--preset", "shear", "--n", "300", "--tasks", "1", "--out", str(out)]
    )
    assert r.exit_code == 3
    assert "holds shards of another config" in r.output and "family" in r.output
    assert (out / "config.json").read_text() == config_before
    assert not (out / "jobs").exists()


def test_a_run_grows_computing_only_the_new_shards(tmp_path, write_config):
    cfg, out = make_run(tmp_path, write_config, n=250, shard_size=100)
    kept = {name: sha(out / "shards" / name) for name in ("shard-000000.h5", "shard-000001.h5")}
    bigger = write_config(name="bigger.json", n=500, shard_size=100, seed=7)
    r = run("generate", "--config", bigger, "--out", out)
    assert r.exit_code == 0, r.output
    assert "growing the run from 250 to 500 lenses" in r.output
    assert "resuming: 2 of 5" in r.output
    assert "shard-000002.h5 holds samples 200-249 of a smaller run" in r.output
    assert {name: sha(out / "shards" / name) for name in kept} == kept
    assert json.loads((out / "config.json").read_text())["n_samples"] == 500
    _, fresh = make_run(tmp_path, write_config, name="fresh", n=500, shard_size=100)
    assert_identical_data(out / "dataset.h5", fresh / "dataset.h5")
    # a run never shrinks: that would silently orphan shards
    r = CliRunner().invoke(cli, ["generate", "--config", str(cfg), "--out", str(out)])
    assert r.exit_code == 3 and "would shrink it" in r.output


def test_out_of_the_wrong_kind_is_refused(tmp_path):
    plain = tmp_path / "notes"
    plain.write_text("mine\n")
    r = CliRunner().invoke(cli, ["generate", "--n", "10", "--out", str(plain)])
    assert r.exit_code == 3 and "is not a directory" in r.output
    assert plain.read_text() == "mine\n"
    folder = tmp_path / "x.h5"
    folder.mkdir()
    (folder / "keep.txt").write_text("mine\n")
    r = CliRunner().invoke(cli, ["generate", "--n", "10", "--out", str(folder), "--overwrite"])
    assert r.exit_code == 3 and "existing directory" in r.output
    assert (folder / "keep.txt").read_text() == "mine\n"


def test_a_stop_during_verification_changes_nothing(tmp_path, write_config):
    """The survey reads every shard in full; a stop request between shards ends it at once
    (exit 99) before anything is moved, deleted or written."""
    import pytest

    from mocklens.config import load_config
    from mocklens.errors import StopRequested
    from mocklens.pipeline import signals
    from mocklens.pipeline.run import make_plan, prepare_output

    cfg_path, out = make_run(tmp_path, write_config)
    flip_chunk_bytes(out / "shards" / "shard-000001.h5")
    before = tree(out)
    plan = make_plan(load_config(cfg_path), out)
    with signals.stop_signals():
        signals.request_stop()
        with pytest.raises(StopRequested, match="while verifying shards; nothing was changed"):
            prepare_output(plan, overwrite=False)
    assert tree(out) == before
