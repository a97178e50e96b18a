"""Smoke tests of the single-node SLURM that CI starts with ``.ci/slurm-up.sh``.

They check the cluster behaviour that mocklens' job templates rely on: array tasks, exit codes
through ``sbatch --wait``, SIGUSR1 delivered to the batch shell as a "stop now" request, and
requeueing a single array task. They do not import mocklens.
"""

from __future__ import annotations

import subprocess
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slurm

# Generous upper bound for a job of a few seconds on an idle 2-CPU node; sbatch --wait alone
# polls at 2 s, 8 s, 32 s, so a short job can take ~10 s to be reported.
JOB_TIMEOUT_S = 120


def write_script(path: Path, body: str) -> Path:
    """Write an executable bash batch script (body is dedented)."""
    path.write_text("#!/bin/bash\n" + textwrap.dedent(body).lstrip())
    path.chmod(0o755)
    return path


def test_array_job_with_sbatch_wait(slurm, tmp_path):
    script = write_script(
        tmp_path / "array.sh",
        """
        set -euo pipefail
        echo "$SLURM_ARRAY_TASK_ID" > "$1/task_${SLURM_ARRAY_TASK_ID}.txt"
        """,
    )
    cmd = [
        "sbatch", "--wait", "--parsable", "--array=0-2",
        "--output", str(tmp_path / "array_%A_%a.out"),
        str(script), str(tmp_path),
    ]  # fmt: skip
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=JOB_TIMEOUT_S, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        if out.strip():
            slurm.scancel(out.strip().split(";")[0], check=False)
        pytest.fail(f"sbatch --wait did not return within {JOB_TIMEOUT_S} s", pytrace=False)
    job_id = proc.stdout.strip().split(";")[0]
    slurm.submitted.append(job_id)
    assert proc.returncode == 0, proc.stderr
    written = sorted(p.read_text().strip() for p in tmp_path.glob("task_*.txt"))
    assert written == ["0", "1", "2"]
    records = slurm.job_records(job_id)
    assert sorted(r["ArrayTaskId"] for r in records) == ["0", "1", "2"]
    assert all(r["JobState"] == "COMPLETED" for r in records)


def test_exit_code_propagates(slurm, tmp_path):
    script = write_script(tmp_path / "fail.sh", "exit 7\n")
    rc, _ = slurm.sbatch(script, timeout=JOB_TIMEOUT_S)
    assert rc == 7


def test_array_exit_code_is_max_over_tasks(slurm, tmp_path):
    script = write_script(
        tmp_path / "fail_one.sh", "exit $(( SLURM_ARRAY_TASK_ID == 1 ? 5 : 0 ))\n"
    )
    rc, _ = slurm.sbatch(
        script, options=["--array=0-2", "-o", str(tmp_path / "%a.out")], timeout=JOB_TIMEOUT_S
    )
    assert rc == 5


def test_usr1_reaches_batch_shell(slurm, tmp_path):
    marker = tmp_path / "stopped.txt"
    ready = tmp_path / "ready.txt"
    # bash runs a trap only between commands, so sleep in the background and `wait`, which a
    # signal interrupts at once.
    script = write_script(
        tmp_path / "usr1.sh",
        """
        marker="$1"; ready="$2"
        on_usr1() { echo "got USR1 in job $SLURM_JOB_ID" > "$marker"; exit 99; }
        trap on_usr1 USR1
        touch "$ready"
        sleep 300 &
        wait $!
        exit 0
        """,
    )
    rc, job_id = slurm.sbatch(script, str(marker), str(ready), wait=False)
    assert rc == 0
    slurm.wait_for_state(job_id, "RUNNING", timeout=JOB_TIMEOUT_S)
    deadline = time.monotonic() + 30
    while not ready.exists():
        if time.monotonic() > deadline:
            pytest.fail("batch script never installed its USR1 trap", pytrace=False)
        time.sleep(0.1)

    slurm.scancel(job_id, signal="USR1", batch=True)

    (record,) = slurm.wait_finished(job_id, timeout=60)
    assert marker.read_text().startswith(f"got USR1 in job {job_id}")
    assert record["ExitCode"] == "99:0"
    assert record["JobState"] == "FAILED"


def test_requeue_single_array_task(slurm, tmp_path):
    """A task requeues only itself via ${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}.

    (``scontrol requeue $SLURM_JOB_ID`` from the last task would requeue the whole array.)
    With ``AuthInfo=cred_expire=5`` (.ci/slurm-up.sh) the requeued task runs again within
    seconds; with SLURM's default of 120 s this test would need about 2 minutes.
    """
    script = write_script(
        tmp_path / "requeue.sh",
        """
        out="$1/task_${SLURM_ARRAY_TASK_ID}.log"
        echo "restart=${SLURM_RESTART_COUNT:-0}" >> "$out"
        if [[ $SLURM_ARRAY_TASK_ID == 1 && ${SLURM_RESTART_COUNT:-0} == 0 ]]; then
            scontrol requeue "${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"
            sleep 60
        fi
        exit 0
        """,
    )
    started = time.monotonic()
    rc, job_id = slurm.sbatch(
        script,
        str(tmp_path),
        options=["--array=0-1", "--requeue", "-o", str(tmp_path / "%a.out")],
        timeout=JOB_TIMEOUT_S,
    )
    assert rc == 0
    assert (tmp_path / "task_0.log").read_text().split() == ["restart=0"]
    assert (tmp_path / "task_1.log").read_text().split() == ["restart=0", "restart=1"]
    records = {r["ArrayTaskId"]: r for r in slurm.job_records(job_id)}
    assert records["0"]["Restarts"] == "0"
    assert records["1"]["Restarts"] == "1"
    # Not a performance bound: catches a cluster left at the default 120 s requeue delay.
    assert time.monotonic() - started < 60, "requeue delay: is AuthInfo=cred_expire=5 set?"
