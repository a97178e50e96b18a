"""``mocklens generate`` under real ``mpiexec`` (MPICH from PyPI): same bytes for any rank count.

Every run is compared dataset by dataset (bytes and dtype) against one serial in-process
run of the same config; attributes (provenance: hosts, timings) are allowed to differ.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from mocklens.cli.main import cli
from mocklens.config import config_from_dict, dump_json, get_preset
from mocklens.io import read_table

pytestmark = pytest.mark.mpi

# Bounds that only catch hangs: a 3,000-lens run takes ~10 s on 2 cores.
RUN_TIMEOUT_S = 240
# After a failure on one rank the whole job must end within this long (it aborts in ~1 s).
ABORT_WITHIN_S = 60
# A failure while computing comes after numba has loaded or (after kernel edits) recompiled
# its cache, ~40 s on 2 busy cores; the bound still catches a job left waiting forever.
ABORT_AFTER_COMPILE_S = 240
# Kill test: shards that must exist before SIGKILL, and how long we wait for them.
KILL_AFTER_SHARDS = 3
KILL_WAIT_S = 180

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def columns(path):
    return read_table(path).columns


def assert_same(reference, path):
    ref, got = reference, columns(path)
    assert ref.keys() == got.keys()
    for key in ref:
        assert ref[key].dtype == got[key].dtype, key
        assert ref[key].tobytes() == got[key].tobytes(), f"{path}: {key} differs"


def config_json(n, shard_size, seed):
    """The default recipe with ``n`` samples in shards of ``shard_size`` (canonical JSON)."""
    data = json.loads(dump_json(get_preset("default")))
    data.update(n_samples=n, seed=seed)
    data["output"]["shard_size"] = shard_size
    return dump_json(config_from_dict(data))


def generate_args(cfg, out, *extra):
    return ["-m", "mocklens", "generate", "--config", str(cfg), "--out", str(out), *extra]


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """3,000 lenses in shards of 250, and their serial (CliRunner) reference columns."""
    base = tmp_path_factory.mktemp("mpi-small")
    cfg = base / "cfg.json"
    cfg.write_text(config_json(n=3000, shard_size=250, seed=11))
    r = run_cli("generate", "--config", cfg, "--out", base / "serial.h5")
    assert r.exit_code == 0, r.output
    return cfg, columns(base / "serial.h5")


@pytest.mark.parametrize("n", [1, 2, 3])
def test_rank_count_does_not_change_bytes(mpirun, small, tmp_path, n):
    cfg, reference = small
    for out in (tmp_path / "run", tmp_path / "one.h5"):
        proc = mpirun(n, generate_args(cfg, out), timeout=RUN_TIMEOUT_S)
        assert proc.returncode == 0, proc.stderr
        assert "wrote" in proc.stdout
        final = out / "dataset.h5" if out.suffix != ".h5" else out
        assert_same(reference, final)
    assert not (tmp_path / "one.h5.parts").exists()
    if n > 1:
        assert f"on {n} ranks" in proc.stdout


def test_array_tasks_any_order_then_finalize(small, tmp_path):
    cfg, reference = small
    order = [2, 0, 1]
    random.Random(5).shuffle(order)
    run_dir = tmp_path / "arr"
    for task in order:
        r = run_cli(
            "generate", "--config", cfg, "--out", run_dir, "--task-id", task, "--n-tasks", 3
        )
        assert r.exit_code == 0, r.output
        assert f"task {task} of 3" in r.output
        assert not (run_dir / "dataset.h5").exists()
    assert run_cli("status", run_dir).exit_code == 0
    r = run_cli("finalize", run_dir)
    assert r.exit_code == 0, r.output
    assert_same(reference, run_dir / "dataset.h5")


def test_array_task_with_mpi_ranks(mpirun, small, tmp_path):
    """Array mode with 2 ranks inside each task (the srun --mpi=pmi2 case)."""
    cfg, reference = small
    run_dir = tmp_path / "arr-mpi"
    for task in (1, 0):
        proc = mpirun(2, generate_args(cfg, run_dir, "--task-id", str(task), "--n-tasks", "2"))
        assert proc.returncode == 0, proc.stderr
        assert f"task {task} of 2" in proc.stdout
    assert run_cli("finalize", run_dir).exit_code == 0
    assert_same(reference, run_dir / "dataset.h5")


def _launch_env(**extra):
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLURM_", "PMI_", "PMIX_", "OMPI_", "HYDRA_", "MPIEXEC_"))
    }
    env.update(OMP_NUM_THREADS="1", NUMBA_NUM_THREADS="1", **extra)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def _kill_leftover_ranks(run_dir, timeout=30.0):
    """SIGKILL every process whose command line names ``run_dir``, and wait until none is left.

    Hydra's proxies may start the ranks outside mpiexec's process group, so killing the group
    can leave orphaned ranks writing; a real node failure takes them all down at once.
    """
    pattern = str(run_dir)
    deadline = time.monotonic() + timeout
    while subprocess.run(["pgrep", "-f", pattern], capture_output=True).returncode == 0:
        subprocess.run(["pkill", "-KILL", "-f", pattern], capture_output=True)
        assert time.monotonic() < deadline, f"ranks of {run_dir} survived SIGKILL"
        time.sleep(0.1)


def test_sigkill_then_rerun_gives_same_bytes(mpiexec, mpirun, tmp_path, write_config):
    cfg = write_config("big.json", n=24_000, shard_size=1_000, seed=3)
    ref = mpirun(2, generate_args(cfg, tmp_path / "ref"), timeout=RUN_TIMEOUT_S)
    assert ref.returncode == 0, ref.stderr

    run_dir = tmp_path / "killed"
    cmd = [mpiexec, "-n", "2", sys.executable, "-m", "mpi4py", *generate_args(cfg, run_dir)]
    log = open(tmp_path / "killed.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        cmd, stdout=log, stderr=subprocess.STDOUT, env=_launch_env(), start_new_session=True
    )
    shards = run_dir / "shards"
    deadline = time.monotonic() + KILL_WAIT_S
    try:
        while len(list(shards.glob("shard-*.h5"))) < KILL_AFTER_SHARDS:
            assert proc.poll() is None, "run ended before it could be killed"
            assert time.monotonic() < deadline, "no shards appeared"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        log.close()
        _kill_leftover_ranks(run_dir)
    n_before = len(list(shards.glob("shard-*.h5")))
    assert 0 < n_before < 24, "kill came too late to test a resume"
    assert not (run_dir / "dataset.h5").exists()

    status = run_cli("status", run_dir, "--quick")
    assert status.exit_code == 1 and "missing" in status.output

    rerun = mpirun(2, generate_args(cfg, run_dir), timeout=RUN_TIMEOUT_S)
    assert rerun.returncode == 0, rerun.stderr
    assert "already complete, skipped" in rerun.stdout
    skipped = int(rerun.stdout.split("resuming: ")[1].split(" of ")[0])
    assert skipped >= n_before
    assert not list(shards.glob(".*.tmp-*")), "a temporary shard survived the rerun"
    assert_same(columns(tmp_path / "ref" / "dataset.h5"), run_dir / "dataset.h5")


def test_startup_error_on_rank0_ends_every_rank(mpirun, tmp_path, write_config):
    """A foreign shard is seen by rank 0's check; every rank exits 3 with the same message."""
    cfg = write_config("a.json", n=600, shard_size=200, seed=1)
    other = write_config("b.json", n=600, shard_size=200, seed=2)
    run_dir = tmp_path / "run"
    assert run_cli("generate", "--config", other, "--out", run_dir).exit_code == 0
    started = time.monotonic()
    proc = mpirun(2, generate_args(cfg, run_dir), timeout=ABORT_WITHIN_S)
    assert time.monotonic() - started < ABORT_WITHIN_S
    assert proc.returncode == 3, proc.stderr
    assert "holds shards of another config" in proc.stderr


def test_unexpected_failure_on_rank0_aborts_others(mpiexec, tmp_path, write_config):
    """A bug (not a user error) in rank 0's set-up while the other ranks wait for its
    broadcast: the console-script path (no ``-m mpi4py``) must abort them all instead of
    hanging. (A directory squatting on a shard's name used to be this fault; it is now a
    one-line user error, so the bug is injected.)"""
    cfg = write_config("c.json", n=600, shard_size=200, seed=1)
    run_dir = tmp_path / "run"
    code = (
        "import mocklens.pipeline.parallel as parallel\n"
        "def broken(*args, **kwargs):\n"
        "    raise RuntimeError('injected bug in set-up')\n"
        "parallel.prepare_output = broken\n"
        "from mocklens.cli.main import main\n"
        "main()\n"
    )
    cmd = [mpiexec, "-n", "3", sys.executable, "-c", code, *generate_args(cfg, run_dir)[2:]]
    started = time.monotonic()
    proc = subprocess.run(
        ["timeout", "-k", "10", str(ABORT_WITHIN_S), *cmd],
        capture_output=True, text=True, env=_launch_env(), stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert time.monotonic() - started < ABORT_WITHIN_S
    assert proc.returncode not in (0, 124, 137), proc.stderr
    assert "rank 0 of 3 failed" in proc.stderr


def test_failure_on_one_rank_while_computing_aborts(mpiexec, tmp_path, write_config):
    """Rank 1 fails in its second shard (a fault injected into that rank only); rank 0 and
    rank 2 are computing or waiting and must be ended promptly with the error's exit code."""
    cfg = write_config("d.json", n=6000, shard_size=200, seed=1)
    code = (
        "import sys\n"
        "from mpi4py import MPI\n"
        "import mocklens.pipeline.run as run\n"
        "from mocklens.errors import ResourceError\n"
        "real = run.compute_shard\n"
        "def faulty(plan, shard):\n"
        "    if MPI.COMM_WORLD.Get_rank() == 1 and shard.id >= 4:\n"
        "        raise ResourceError('injected: disk full on rank 1')\n"
        "    return real(plan, shard)\n"
        "run.compute_shard = faulty\n"
        "from mocklens.cli.main import main\n"
        "main()\n"
    )
    cmd = [mpiexec, "-n", "3", sys.executable, "-c", code, *generate_args(cfg, tmp_path / "r")[2:]]
    started = time.monotonic()
    proc = subprocess.run(
        ["timeout", "-k", "10", str(ABORT_AFTER_COMPILE_S), *cmd],
        capture_output=True, text=True, env=_launch_env(), stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert time.monotonic() - started < ABORT_AFTER_COMPILE_S
    assert proc.returncode == 5, proc.stderr
    assert "error: rank 1: injected: disk full on rank 1" in proc.stderr


def test_world_size_must_match_slurm_ntasks(mpirun, tmp_path, write_config):
    """srun without the right --mpi plugin: SLURM says 3 tasks, MPI sees 2 -> exit 5."""
    cfg = write_config("e.json", n=100, shard_size=50)
    code = (
        "import os, sys\n"
        "os.environ.update(SLURM_NTASKS='3', SLURM_STEP_ID='0')\n"
        f"sys.argv = ['mocklens', 'generate', '--config', {str(cfg)!r}, '--out', "
        f"{str(tmp_path / 'o')!r}]\n"
        "from mocklens.cli.main import main\n"
        "main()\n"
    )
    proc = mpirun(2, ["-c", code], timeout=ABORT_WITHIN_S)
    assert proc.returncode == 5
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert lines and "SLURM_NTASKS=3" in lines[0] and "srun --mpi=pmi2" in lines[0]
    assert not (tmp_path / "o").exists()
