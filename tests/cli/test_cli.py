"""End-to-end CLI runs on real HDF5 files (CliRunner and real subprocesses)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from mocklens.cli.main import cli
from mocklens.io import read_table

ROOT = Path(__file__).resolve().parents[2]


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def datasets(path):
    return read_table(path).columns


def assert_same_datasets(a, b):
    ca, cb = datasets(a), datasets(b)
    assert ca.keys() == cb.keys()
    for key in ca:
        assert ca[key].dtype == cb[key].dtype, key
        assert ca[key].tobytes() == cb[key].tobytes(), key


def test_generate_info_validate(tmp_path, write_config):
    cfg = write_config(n=250, shard_size=100)
    out = tmp_path / "lenses.h5"
    r = run("generate", "--config", cfg, "--out", out)
    assert r.exit_code == 0, r.output
    assert out.exists() and not (tmp_path / "lenses.h5.parts").exists()
    cols = datasets(out)
    assert cols["lens/theta_E"].shape == (250,)
    assert cols["point/x"].shape == (250, 5)
    np.testing.assert_array_equal(cols["sample/index"], np.arange(250))
    r = run("info", out)
    assert r.exit_code == 0 and "250 lenses" in r.output and "doubles" in r.output
    r = run("validate", out)
    assert r.exit_code == 0 and "valid dataset" in r.output


def test_default_config_runs_without_a_file(tmp_path):
    r = run("generate", "--n", 50, "--seed", 3, "--out", tmp_path / "d.h5")
    assert r.exit_code == 0, r.output
    assert datasets(tmp_path / "d.h5")["point/n_images"].shape == (50,)


def test_same_seed_byte_identical_and_shard_size_independent(tmp_path, write_config):
    a, b, c = tmp_path / "a.h5", tmp_path / "b.h5", tmp_path / "c.h5"
    assert (
        run(
            "generate", "--config", write_config("1.json", n=300, shard_size=100), "--out", a
        ).exit_code
        == 0
    )
    assert (
        run(
            "generate", "--config", write_config("2.json", n=300, shard_size=100), "--out", b
        ).exit_code
        == 0
    )
    assert (
        run(
            "generate", "--config", write_config("3.json", n=300, shard_size=37), "--out", c
        ).exit_code
        == 0
    )
    assert_same_datasets(a, b)
    assert_same_datasets(a, c)


def test_existing_output_is_not_overwritten(tmp_path, write_config):
    cfg = write_config(n=20, shard_size=10)
    out = tmp_path / "o.h5"
    assert run("generate", "--config", cfg, "--out", out).exit_code == 0
    before = out.stat().st_mtime_ns
    r = run("generate", "--config", cfg, "--out", out)
    assert r.exit_code == 3 and "--overwrite" in r.output
    assert out.stat().st_mtime_ns == before
    assert run("generate", "--config", cfg, "--out", out, "--overwrite").exit_code == 0


def test_unknown_key_did_you_mean(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "n_samples: 10\nseed: 1\nlens:\n  components:\n    - type: SIS\n      params:\n"
        "        theta_e: 1.0\n        center_x: 0.0\n        center_y: 0.0\n"
        "redshifts:\n  z_lens: 0.5\n  z_source: 2.0\ncosmology:\n  name: Planck18\n"
    )
    for args in (("validate", bad), ("generate", "--config", bad, "--out", tmp_path / "x.h5")):
        r = run(*args)
        assert r.exit_code == 2
        assert "did you mean 'theta_E'" in r.output
        assert "Traceback" not in r.output
    assert not (tmp_path / "x.h5").exists()


@pytest.mark.parametrize(
    "snippet, message",
    [
        ({"redshifts": {"z_lens": {"dist": "uniform", "min": 0.5, "max": 0.2}}}, "min"),
        ({"selection": {"min_abs_mu": -1}}, "min_abs_mu"),
    ],
)
def test_impossible_ranges_refused_before_work(tmp_path, snippet, message):
    from mocklens.config import dump_json, get_preset

    data = json.loads(dump_json(get_preset("default")))
    for key, val in snippet.items():
        data[key].update(val)
    path = tmp_path / "c.json"
    path.write_text(json.dumps(data))
    r = run("generate", "--config", path, "--n", 10, "--out", tmp_path / "o.h5")
    assert r.exit_code == 2 and message in r.output
    assert not (tmp_path / "o.h5").exists() and not (tmp_path / "o.h5.parts").exists()


def test_negative_einstein_radius_and_bad_q_refused(tmp_path):
    from mocklens.config import dump_json, get_preset

    data = json.loads(dump_json(get_preset("default")))
    data["lens"]["components"][0]["params"]["theta_E"] = {"dist": "uniform", "min": -1, "max": 1}
    p = tmp_path / "neg.json"
    p.write_text(json.dumps(data))
    r = run("validate", p)
    assert r.exit_code == 2 and "theta_E" in r.output
    data = json.loads(dump_json(get_preset("default")))
    ell = data["lens"]["components"][0]["ellipticity"]
    ell.update(convention="q", e={"dist": "uniform", "min": 0.5, "max": 1.5})
    p.write_text(json.dumps(data))
    r = run("validate", p)
    assert r.exit_code == 2


def test_config_preset_round_trip(tmp_path):
    for preset in ("default", "shear", "ellipticity", "both"):
        r = run("config", "--preset", preset)
        assert r.exit_code == 0
        path = tmp_path / f"{preset}.yaml"
        path.write_text(r.output)
        assert "#" in r.output  # commented
        assert run("validate", path).exit_code == 0
    assert run("config", "--preset", "nope").exit_code == 2


@pytest.mark.parametrize(
    "example", sorted((ROOT / "schemas" / "examples").glob("*.json")), ids=lambda p: p.stem
)
def test_every_schema_example_validates_and_runs(tmp_path, example):
    assert run("validate", example).exit_code == 0
    r = run("generate", "--config", example, "--n", 30, "--out", tmp_path / "e.h5")
    assert r.exit_code == 0, r.output
    assert run("validate", tmp_path / "e.h5").exit_code == 0


def test_validate_detects_corrupt_dataset(tmp_path, write_config):
    out = tmp_path / "v.h5"
    assert (
        run("generate", "--config", write_config(n=50, shard_size=50), "--out", out).exit_code == 0
    )
    data = bytearray(out.read_bytes())
    out.write_bytes(bytes(data[: len(data) // 2]))
    r = run("validate", out)
    assert r.exit_code == 4 and "error:" in r.output


def _cli_proc(args, **kw):
    env = dict(os.environ, PYTHONPATH=str(ROOT), NUMBA_NUM_THREADS="1")
    return subprocess.Popen(
        [sys.executable, "-m", "mocklens", *map(str, args)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **kw,
    )


def test_kill_mid_run_leaves_no_file_and_resume_is_identical(tmp_path, write_config):
    cfg = write_config(n=60_000, shard_size=2_000)
    out = tmp_path / "k.h5"
    proc = _cli_proc(["generate", "--config", cfg, "--out", out])
    parts = tmp_path / "k.h5.parts"
    deadline = time.time() + 240
    while time.time() < deadline and len(list(parts.glob("shard-*.h5"))) < 3:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    done_before = len(list(parts.glob("shard-*.h5")))
    assert 3 <= done_before < 30, "kill came too late to test anything"
    assert not out.exists()
    resumed = _cli_proc(["generate", "--config", cfg, "--out", out])
    log, _ = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, log
    assert "already complete, skipped" in log
    ref = tmp_path / "ref.h5"
    assert run("generate", "--config", cfg, "--out", ref).exit_code == 0
    assert_same_datasets(out, ref)


def test_stop_signal_finishes_shard_and_exits_99(tmp_path, write_config):
    cfg = write_config(n=60_000, shard_size=2_000)
    out = tmp_path / "s.h5"
    proc = _cli_proc(["generate", "--config", cfg, "--out", out])
    parts = tmp_path / "s.h5.parts"
    deadline = time.time() + 240
    while time.time() < deadline and len(list(parts.glob("shard-*.h5"))) < 2:
        time.sleep(0.05)
    proc.send_signal(signal.SIGUSR1)
    log, _ = proc.communicate(timeout=120)
    assert proc.returncode == 99, log
    assert "rerun the same command" in log
    assert not list(parts.glob(".*tmp*"))
    assert not out.exists()
