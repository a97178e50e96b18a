"""The rendered SLURM scripts (``mocklens jobs slurm``) on the real single-node SLURM.

An array of 3 tasks plus the dependent finalize job must produce the same bytes as a serial
run; a SIGUSR1 sent to one task's batch shell (``scancel --signal=USR1 --batch``, what
``--signal=B:USR1@margin`` does before the time limit) must stop that task between shards,
leave no partial shard, requeue only that task, and the run must still end byte-identical.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from mocklens.cli.main import cli
from mocklens.config import config_from_dict, dump_json, get_preset
from mocklens.io import read_table

pytestmark = pytest.mark.slurm

ROOT = Path(__file__).resolve().parents[2]
# Compiling every kernel into a fresh numba cache takes ~40 s on this machine.
WARM_TIMEOUT_S = 600
# Jobs here run for seconds; the bounds only catch hangs (2 CPUs, tasks partly sequential).
JOB_TIMEOUT_S = 180
# How long we wait for task 0's first shard before signalling it.
FIRST_SHARD_WAIT_S = 120


def run_cli(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def write_cfg(path, n, shard_size, seed):
    data = json.loads(dump_json(get_preset("default")))
    data.update(n_samples=n, seed=seed)
    data["output"]["shard_size"] = shard_size
    path.write_text(dump_json(config_from_dict(data)))
    return path


def assert_same(reference: Path, path: Path):
    ref, got = read_table(reference).columns, read_table(path).columns
    assert ref.keys() == got.keys()
    for key in ref:
        assert ref[key].dtype == got[key].dtype, key
        assert ref[key].tobytes() == got[key].tobytes(), f"{path}: {key} differs"


@pytest.fixture(scope="module")
def numba_cache(tmp_path_factory):
    """A numba cache directory, warmed once and shared by every job of this module.

    The scripts default to a shared cache in each run directory, which the warm-up job would
    compile afresh (~40 s) in every test; ``--numba-cache-dir`` points them here instead, so
    the warm-up job only loads (test_slurm_warm_cache.py tests the cold path).
    """
    cache = tmp_path_factory.mktemp("numba-cache")
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache), NUMBA_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    code = (
        "from mocklens.config import get_preset\n"
        "from mocklens.pipeline.generate import compute_range\n"
        "compute_range(get_preset('default'), 0, 2)\n"
    )
    subprocess.run(
        [sys.executable, "-c", code], env=env, check=True, timeout=WARM_TIMEOUT_S,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    return cache


def render(tmp_path, cfg, run_dir, numba_cache, **opts):
    args = ["jobs", "slurm", "--config", cfg, "--out", run_dir, "--numba-cache-dir", numba_cache]
    for key, val in opts.items():
        args += [f"--{key.replace('_', '-')}", val]
    r = run_cli(*args)
    assert r.exit_code == 0, r.output
    scripts = run_dir / "jobs"
    for name in ("generate.sbatch", "finalize.sbatch", "submit.sh"):
        text = (scripts / name).read_text()
        assert "{{" not in text and "}}" not in text, name
    return scripts


def submit(slurm, scripts) -> tuple[str, str]:
    proc = subprocess.run(
        ["bash", str(scripts / "submit.sh")], capture_output=True, text=True, timeout=60,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    match = re.search(r"array: job (\d+) .*finalize: job (\d+)", proc.stdout)
    assert match, proc.stdout
    array, final = match.groups()
    slurm.submitted += [array, final]
    return array, final


def test_array_of_three_then_finalize(slurm, tmp_path, numba_cache):
    cfg = write_cfg(tmp_path / "cfg.json", n=3000, shard_size=250, seed=11)
    assert run_cli("generate", "--config", cfg, "--out", tmp_path / "serial.h5").exit_code == 0
    run_dir = tmp_path / "run"
    scripts = render(
        tmp_path, cfg, run_dir, numba_cache, tasks=3, ranks_per_task=1, time="10:00",
        stop_margin=60,
    )  # fmt: skip
    text = (scripts / "generate.sbatch").read_text()
    for line in ("--array=0-2", "--ntasks=1", "--signal=B:USR1@60", "--requeue"):
        assert line in text
    assert "srun" not in text.split("trap forward_stop")[1].split("&\n")[0]
    assert sys.executable in text

    array, final = submit(slurm, scripts)
    records = slurm.wait_finished(array, timeout=JOB_TIMEOUT_S)
    assert sorted(r["ArrayTaskId"] for r in records) == ["0", "1", "2"]
    assert all(r["JobState"] == "COMPLETED" for r in records), records
    (fin,) = slurm.wait_finished(final, timeout=JOB_TIMEOUT_S)
    assert fin["JobState"] == "COMPLETED", fin
    assert "valid dataset" in next((run_dir / "logs").glob("finalize-*.out")).read_text()
    assert_same(tmp_path / "serial.h5", run_dir / "dataset.h5")
    assert run_cli("status", run_dir).exit_code == 0


def test_usr1_stops_task_which_requeues_itself(slurm, tmp_path, numba_cache):
    """Two MPI ranks per task via ``srun --mpi=pmi2``; task 0 is stopped after its first shard."""
    n_tasks = 3
    cfg = write_cfg(tmp_path / "cfg.json", n=24_000, shard_size=1_000, seed=5)
    run_dir = tmp_path / "run"
    scripts = render(
        tmp_path, cfg, run_dir, numba_cache, tasks=n_tasks, ranks_per_task=2, time="10:00",
        stop_margin=60,
    )  # fmt: skip
    assert "srun --mpi=pmi2" in (scripts / "generate.sbatch").read_text()
    array, final = submit(slurm, scripts)

    first = run_dir / "shards" / "shard-000000.h5"
    deadline = time.monotonic() + FIRST_SHARD_WAIT_S
    while not first.exists():
        assert time.monotonic() < deadline, "task 0 wrote no shard"
        time.sleep(0.05)
    # scancel may answer "Job can not be altered now, try again later" although the signal
    # was delivered, and then retry ~20 s later, hitting the requeued task a second time
    # (seen here with slurm 22.05). Stop the client once the first delivery is logged.
    scancel = subprocess.Popen(
        ["scancel", "--signal=USR1", "--batch", f"{array}_0"], stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    log0 = None
    deadline = time.monotonic() + JOB_TIMEOUT_S
    try:
        while True:
            logs = list((run_dir / "logs").glob("generate-*_0.out"))
            log0 = logs[0] if logs else None
            if log0 is not None and "stopped cleanly" in log0.read_text():
                break
            assert time.monotonic() < deadline, "task 0 did not stop"
            time.sleep(0.1)
    finally:
        scancel.kill()
        scancel.wait()
    # Right after the stop: task 0's shards are either complete or absent, never partial.
    own = {s for s in range(24) if s % n_tasks == 0}
    leftovers = [
        p.name
        for p in (run_dir / "shards").glob(".*.tmp-*")
        if int(p.name.split("-")[1].split(".")[0]) in own
    ]
    assert not leftovers, leftovers

    records = slurm.wait_finished(array, timeout=JOB_TIMEOUT_S)
    by_task = {r["ArrayTaskId"]: r for r in records}
    assert all(r["JobState"] == "COMPLETED" for r in records), records
    assert by_task["0"]["Restarts"] == "1"
    assert by_task["1"]["Restarts"] == "0" and by_task["2"]["Restarts"] == "0"
    (fin,) = slurm.wait_finished(final, timeout=JOB_TIMEOUT_S)
    assert fin["JobState"] == "COMPLETED", fin

    text = log0.read_text()
    assert "restart 1" in text and "already complete, skipped" in text, text
    assert not list((run_dir / "shards").glob(".*.tmp-*"))
    assert run_cli("generate", "--config", cfg, "--out", tmp_path / "serial.h5").exit_code == 0
    assert_same(tmp_path / "serial.h5", run_dir / "dataset.h5")


def test_srun_without_mpi_plugin_is_refused(slurm, tmp_path):
    """``srun`` without ``--mpi=pmi2`` makes each task a world of 1: caught at start-up."""
    cfg = write_cfg(tmp_path / "cfg.json", n=100, shard_size=50, seed=1)
    script = tmp_path / "bad.sh"
    script.write_text(
        "#!/bin/bash\n"
        f"export PYTHONPATH={ROOT}${{PYTHONPATH:+:$PYTHONPATH}}\n"
        f"srun --mpi=none {sys.executable} -m mocklens generate --config {cfg} "
        f"--out {tmp_path / 'out'}\n"
    )
    rc, _ = slurm.sbatch(
        script, options=["--ntasks=2", "-o", str(tmp_path / "bad.out")], timeout=JOB_TIMEOUT_S
    )
    assert rc == 5
    assert "SLURM_NTASKS=2" in (tmp_path / "bad.out").read_text()
    assert not (tmp_path / "out").exists()
