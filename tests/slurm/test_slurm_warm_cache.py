"""numba compiled once per run: the warm-up job, then array tasks that only load (real SLURM).

``submit.sh`` runs ``warm.sbatch`` first; it compiles every kernel into the run's shared cache
(``RUN_DIR/.numba-cache``). Every task of the array (``--dependency=afterok`` on the warm-up)
copies that cache to node-local disk and must load its kernels without compiling anything.
A task on a node whose CPU differs from the warm-up's (simulated with ``NUMBA_CPU_NAME``, part
of numba's cache key) compiles into its private copy and never writes the shared cache.
numba's own cache log (``NUMBA_DEBUG_CACHE=1``, inherited by the jobs through sbatch's default
``--export=ALL``) says which kernels were loaded and which were compiled and saved where.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from mocklens.cli.main import cli
from mocklens.config import config_from_dict, dump_json, get_preset

pytestmark = pytest.mark.slurm

ROOT = Path(__file__).resolve().parents[2]
# A cold compile of every kernel takes 40-60 s on this machine's shared cores; two tasks
# compiling at once on 2 CPUs take about twice as long. The bounds only catch hangs.
COMPILE_TIMEOUT_S = 600
# Jobs that only load kernels run for seconds.
JOB_TIMEOUT_S = 300
SETUP_MARK = "set-up line ran in job"


def write_cfg(path: Path) -> Path:
    data = json.loads(dump_json(get_preset("default")))
    data.update(n_samples=1000, seed=3)
    data["output"]["shard_size"] = 500
    path.write_text(dump_json(config_from_dict(data)))
    return path


def render(base: Path, tasks: int, *extra: str) -> Path:
    run_dir = base / "run"
    r = CliRunner().invoke(
        cli,
        ["jobs", "slurm", "--config", str(write_cfg(base / "cfg.json")), "--out",
         str(run_dir), "--tasks", str(tasks), "--time", "20:00", "--stop-margin", "60",
         "--setup", f'echo "{SETUP_MARK} $SLURM_JOB_ID"', *extra],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    return run_dir


def job_env(**extra: str) -> dict:
    env = dict(os.environ, NUMBA_DEBUG_CACHE="1", **extra)
    env.pop("NUMBA_CACHE_DIR", None)  # the scripts set their own
    return env


def snapshot(cache: Path) -> dict:
    files = [p for p in cache.rglob("*") if p.is_file()]
    return {str(p.relative_to(cache)): p.stat().st_mtime_ns for p in files}


def task_logs(run_dir: Path) -> list[Path]:
    return sorted((run_dir / "logs").glob("generate-*.out"))


@pytest.fixture(scope="module")
def submitted(slurm, tmp_path_factory):
    """A 2-task run submitted with its submit.sh; returns once the warm-up job has finished.

    The one cold compile of this module (the second test reuses the cache it wrote).
    """
    run_dir = render(tmp_path_factory.mktemp("warm"), tasks=2)
    proc = subprocess.run(
        ["bash", str(run_dir / "jobs" / "submit.sh")], capture_output=True, text=True,
        timeout=60, env=job_env(), stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    ids = re.search(r"warm-up: job (\d+); generate array: job (\d+) .*finalize: job (\d+)",
                    proc.stdout)  # fmt: skip
    assert ids, proc.stdout
    warm, array, final = ids.groups()
    slurm.submitted += [warm, array, final]
    (rec,) = slurm.wait_finished(warm, timeout=COMPILE_TIMEOUT_S)
    assert rec["JobState"] == "COMPLETED", rec
    shared = run_dir / ".numba-cache"
    return {
        "run_dir": run_dir,
        "shared": shared,
        "warm": warm,
        "array": array,
        "warm_log": (run_dir / "logs" / f"warm-{warm}.out").read_text(),
        "after_warm": snapshot(shared),
    }


def test_warm_job_compiles_once_and_every_task_only_loads(slurm, submitted):
    run_dir, shared, after_warm = submitted["run_dir"], submitted["shared"], submitted["after_warm"]
    warm_log = submitted["warm_log"]
    assert f"{SETUP_MARK} {submitted['warm']}" in warm_log
    written = re.search(r"numba kernels compiled \((\d+) cache files written\)", warm_log)
    assert written and int(written.group(1)) > 0, warm_log
    assert f"[cache] data saved to '{shared}" in warm_log
    assert any(name.endswith(".nbi") for name in after_warm)

    records = slurm.wait_finished(submitted["array"], timeout=JOB_TIMEOUT_S)
    assert all(r["JobState"] == "COMPLETED" for r in records), records
    # (finalize and the dataset are test_slurm_jobs.py's subject; here only the cache is.)
    logs = task_logs(run_dir)
    assert len(logs) == 2
    for log in logs:
        text = log.read_text()
        assert SETUP_MARK in text
        copied = re.search(r"numba cache: copied (\d+) files .* to (\S+) in ", text)
        assert copied and int(copied.group(1)) == len(after_warm), text
        local = copied.group(2)
        assert "[cache] data loaded from" in text, text
        assert "[cache] data saved to" not in text and "[cache] index saved to" not in text, text
        loaded = re.findall(r"\[cache\] data loaded from '([^']+)'", text)
        assert all(path.startswith(local) for path in loaded), loaded
    assert snapshot(shared) == after_warm  # no task wrote the shared cache
    tmp = Path(os.environ.get("TMPDIR", "/tmp"))
    for r in records:  # the task's private copies are gone
        assert not list(tmp.glob(f"mocklens-numba-{r['JobId']}-*"))


def test_task_on_another_cpu_compiles_into_its_private_copy(slurm, submitted, tmp_path):
    """A cache miss (another CPU name in numba's key) must not write the shared cache."""
    shared = tmp_path / "shared-cache"
    shutil.copytree(submitted["shared"], shared)
    run_dir = render(tmp_path, 1, "--numba-cache-dir", str(shared))
    before = snapshot(shared)
    # The template's #SBATCH --output applies; the environment is the submitter's.
    proc = subprocess.run(
        ["sbatch", "--parsable", str(run_dir / "jobs" / "generate.sbatch")], capture_output=True,
        text=True, timeout=60, env=job_env(NUMBA_CPU_NAME="generic"), stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    array = proc.stdout.strip().split(";")[0]
    slurm.submitted.append(array)
    records = slurm.wait_finished(array, timeout=COMPILE_TIMEOUT_S)
    assert all(r["JobState"] == "COMPLETED" for r in records), records
    (log,) = task_logs(run_dir)
    text = log.read_text()
    local = re.search(r"numba cache: copied \d+ files .* to (\S+) in ", text).group(1)
    saved = re.findall(r"\[cache\] data saved to '([^']+)'", text)
    assert saved, text  # it did compile (the CPU differs)
    assert all(path.startswith(local) for path in saved), saved
    assert snapshot(shared) == before
