"""Fixtures for tests that need a real single-node SLURM (started by ``.ci/slurm-up.sh``).

The session fixture ``slurm`` checks that the cluster answers and the node is usable. If it
is not, the test fails when the ``CI`` environment variable is set, because these tests must
never skip silently in CI. Outside CI it skips and says how to start the cluster.

Every call to a SLURM command has a timeout, so a wedged daemon fails the test instead of
hanging it. Jobs submitted through the helper and still queued at the end of the session are
cancelled.

This file must not import mocklens: it has to work while the package is broken.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import pytest

SLURM_UP = "bash .ci/slurm-up.sh"

# Node states in which the node can run jobs (sinfo %T, lower case).
USABLE_NODE_STATES = frozenset({"idle", "mixed", "allocated", "completing"})

# Base job states after which a job never runs again unless requeued by hand. COMPLETING is not
# here: output files may still be flushing while the node cleans up.
FINISHED_JOB_STATES = frozenset(
    {
        "COMPLETED",
        "FAILED",
        "CANCELLED",
        "TIMEOUT",
        "NODE_FAIL",
        "PREEMPTED",
        "BOOT_FAIL",
        "DEADLINE",
        "OUT_OF_MEMORY",
    }
)

# A SLURM client call that takes longer than this means slurmctld is wedged.
CLIENT_TIMEOUT_S = 30
# How often job state is polled. slurmctld answers in ms; 0.25 s keeps tests quick without
# hammering it.
POLL_INTERVAL_S = 0.25

_KV = re.compile(r"(\S+?)=(.*?)(?=\s\S+?=|$)")


def in_ci() -> bool:
    """Return True when the CI environment variable is set to a true-ish value."""
    return os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}


def parse_scontrol_record(line: str) -> dict[str, str]:
    """Parse one ``scontrol -o show ...`` line (``Key=value`` pairs) into a dict."""
    return {m.group(1): m.group(2) for m in _KV.finditer(line.strip())}


def _exit_code(record: dict[str, str]) -> int:
    """Return the exit code ``sbatch --wait`` would report for one job record.

    scontrol prints ``ExitCode=<status>:<signal>``. sbatch --wait reports the status of a job
    that exited, and 1 for a job killed by a signal. For arrays it takes the maximum over tasks.
    """
    status, _, signal = record.get("ExitCode", "0:0").partition(":")
    if signal and int(signal) != 0:
        return 1
    return int(status)


class SlurmError(RuntimeError):
    """A SLURM client command failed or timed out."""


class Slurm:
    """Small wrapper around the SLURM command-line clients, with timeouts everywhere.

    Parameters
    ----------
    node : str
        Name of the single compute node.
    output_dir : Path
        Default directory for job stdout/stderr when the caller gives no ``--output``.
    """

    def __init__(self, node: str, output_dir: Path):
        self.node = node
        self.output_dir = output_dir
        self.submitted: list[str] = []

    # -- low level -------------------------------------------------------------------------
    def run(
        self, args: Sequence[str], timeout: float = CLIENT_TIMEOUT_S, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run a SLURM client command and return the CompletedProcess.

        Raises SlurmError on timeout, or on a non-zero exit when ``check`` is true.
        """
        try:
            proc = subprocess.run(
                list(args),
                capture_output=True,
                text=True,
                timeout=timeout,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as exc:
            raise SlurmError(f"{' '.join(args)} timed out after {timeout} s") from exc
        if check and proc.returncode != 0:
            raise SlurmError(
                f"{' '.join(args)} exited {proc.returncode}\n"
                f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
            )
        return proc

    # -- queries ---------------------------------------------------------------------------
    def node_state(self) -> str:
        """Return the node state as sinfo prints it (e.g. ``idle``, ``down*``)."""
        out = self.run(["sinfo", "-h", "-N", "-n", self.node, "-o", "%T"], timeout=10).stdout
        return out.strip().splitlines()[0] if out.strip() else ""

    def job_records(self, job_id: str | int) -> list[dict[str, str]]:
        """Return the ``scontrol show job`` records of a job (one per array task).

        An empty list means slurmctld no longer knows the job (purged after MinJobAge).
        """
        proc = self.run(["scontrol", "-o", "show", "job", str(job_id)], check=False)
        if proc.returncode != 0:
            if "Invalid job id" in proc.stderr:
                return []
            raise SlurmError(f"scontrol show job {job_id} failed: {proc.stderr.strip()}")
        return [parse_scontrol_record(line) for line in proc.stdout.splitlines() if line.strip()]

    def job_states(self, job_id: str | int) -> list[str]:
        """Return the JobState of each record of a job (one per array task)."""
        return [r.get("JobState", "") for r in self.job_records(job_id)]

    def squeue(self, *args: str) -> list[dict[str, str]]:
        """Return the queue as a list of dicts with job_id, state, name, reason.

        Extra arguments are passed to squeue (e.g. ``"-j", "12"``). Array tasks are listed
        one per line (``job_id`` like ``12_0``).
        """
        out = self.run(["squeue", "-h", "-r", "-o", "%i|%T|%j|%r", *args]).stdout
        rows = []
        for line in out.splitlines():
            if not line.strip():
                continue
            job_id, state, name, reason = line.split("|", 3)
            rows.append({"job_id": job_id, "state": state, "name": name, "reason": reason})
        return rows

    # -- actions ---------------------------------------------------------------------------
    def sbatch(
        self,
        script_path: str | os.PathLike[str],
        *args: str,
        options: Sequence[str] = (),
        wait: bool = True,
        timeout: float = 120,
    ) -> tuple[int, str]:
        """Submit a batch script; optionally wait for it to finish.

        Parameters
        ----------
        script_path : path
            The batch script.
        *args : str
            Arguments passed to the script (after the script path, as with sbatch).
        options : sequence of str
            sbatch options, e.g. ``["--array=0-2", "-o", str(tmp_path / "%a.out")]``. Without
            ``-o/--output`` the job output goes to ``output_dir/slurm-%j.out``.
        wait : bool
            Wait until every task has finished.
        timeout : float
            Seconds to wait for the job [s]. On expiry the job is cancelled and the test fails.

        Returns
        -------
        returncode : int
            With ``wait``: the job's exit code as ``sbatch --wait`` reports it (the maximum over
            array tasks; 1 for a task killed by a signal). Without ``wait``: 0 (the submission
            succeeded; a failed submission raises SlurmError).
        job_id : str
            The job id (the array job id for arrays).

        Notes
        -----
        This polls ``scontrol show job`` every 0.25 s rather than running ``sbatch --wait``,
        whose polling interval grows 2 s, 8 s, 32 s (capped by MinJobAge / 2, see sbatch.c
        ``_job_wait``). That would turn a 3 s job into a 10 s test. The exit code is computed
        the same way. ``test_slurm_cluster.py`` tests ``sbatch --wait`` itself.
        """
        opts = list(options)
        if not any(o in ("-o", "--output") or o.startswith("--output=") for o in opts):
            opts += ["--output", str(self.output_dir / "slurm-%j.out")]
        proc = self.run(["sbatch", "--parsable", *opts, str(script_path), *args])
        job_id = proc.stdout.strip().split(";")[0]
        self.submitted.append(job_id)
        if not wait:
            return 0, job_id
        records = self.wait_finished(job_id, timeout=timeout)
        return max(_exit_code(r) for r in records), job_id

    def wait_finished(self, job_id: str | int, timeout: float = 120) -> list[dict[str, str]]:
        """Wait until every record of a job is in a finished state and return the records."""
        deadline = time.monotonic() + timeout
        records: list[dict[str, str]] = []
        while time.monotonic() < deadline:
            records = self.job_records(job_id)
            if not records:
                pytest.fail(
                    f"job {job_id} vanished from slurmctld before it finished "
                    "(MinJobAge too short?)",
                    pytrace=False,
                )
            if all(r.get("JobState") in FINISHED_JOB_STATES for r in records):
                return records
            time.sleep(POLL_INTERVAL_S)
        self.scancel(job_id, check=False)
        pytest.fail(
            f"job {job_id} not finished after {timeout} s; cancelled it. Last records:\n"
            + "\n".join(str(r) for r in records),
            pytrace=False,
        )

    def wait_for_state(
        self, job_id: str | int, states: str | Iterable[str], timeout: float = 60
    ) -> str:
        """Wait until every record of a job has a JobState in ``states``; return that state.

        For a single job that is its state; for an array, the state of the first task.
        Fails the test (and cancels the job) on timeout, or if the job finishes in another
        state first.
        """
        wanted = {states} if isinstance(states, str) else set(states)
        deadline = time.monotonic() + timeout
        current: list[str] = []
        while time.monotonic() < deadline:
            current = self.job_states(job_id)
            if current and all(s in wanted for s in current):
                return current[0]
            if current and all(s in FINISHED_JOB_STATES for s in current):
                pytest.fail(
                    f"job {job_id} finished in {current} while waiting for {sorted(wanted)}",
                    pytrace=False,
                )
            time.sleep(POLL_INTERVAL_S)
        self.scancel(job_id, check=False)
        pytest.fail(
            f"job {job_id} not in {sorted(wanted)} after {timeout} s (last: {current}); "
            "cancelled it",
            pytrace=False,
        )

    def scancel(
        self,
        job: str | int,
        signal: str | None = None,
        batch: bool = False,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        """Cancel a job, or send it a signal.

        ``signal="USR1", batch=True`` sends SIGUSR1 to the batch shell only (the stop-handler
        path); without ``batch`` the signal goes to every step.
        """
        args = ["scancel"]
        if signal is not None:
            args.append(f"--signal={signal}")
        if batch:
            args.append("--batch")
        args.append(str(job))
        return self.run(args, check=check)

    def cancel_leftovers(self) -> None:
        """Cancel every job submitted through this helper that is still queued or running."""
        for job_id in self.submitted:
            try:
                states = self.job_states(job_id)
            except SlurmError:
                continue
            if any(s not in FINISHED_JOB_STATES for s in states):
                self.scancel(job_id, check=False)


def _cluster_problem(node: str) -> str | None:
    """Return why the cluster is unusable, or None if it is up."""
    for tool in ("sinfo", "sbatch", "scontrol", "squeue", "scancel"):
        if shutil.which(tool) is None:
            return f"{tool} is not on PATH (SLURM client tools not installed)"
    helper = Slurm(node, Path("."))
    try:
        proc = helper.run(["sinfo", "-h", "-N", "-n", node, "-o", "%T"], timeout=20, check=False)
    except SlurmError as exc:
        return str(exc)
    if proc.returncode != 0:
        detail = " ".join(proc.stderr.split()) or f"exit {proc.returncode}"
        return f"sinfo does not answer ({detail})"
    state = proc.stdout.strip().splitlines()[0] if proc.stdout.strip() else ""
    if not state:
        return f"sinfo knows no node named {node!r}"
    if state.lower() not in USABLE_NODE_STATES:
        return f"node {node} is {state!r}, not idle"
    return None


@pytest.fixture(scope="session")
def slurm(tmp_path_factory: pytest.TempPathFactory):
    """A running single-node SLURM, as a :class:`Slurm` helper.

    Fails in CI (env CI set) when SLURM is not up; skips elsewhere.
    """
    node = os.uname().nodename.split(".")[0]
    problem = _cluster_problem(node)
    if problem is not None:
        message = f"SLURM is not usable: {problem}. Start it with `{SLURM_UP}` (as root)."
        if in_ci():
            pytest.fail(f"{message} CI is set, so this is an error, not a skip.", pytrace=False)
        pytest.skip(message)
    helper = Slurm(node, tmp_path_factory.mktemp("slurm-out"))
    yield helper
    helper.cancel_leftovers()
