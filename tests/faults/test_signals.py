"""Ctrl-C at random moments: real SIGINT to a real ``mocklens`` process, many times.

Each trial starts the real command line (``python -m mocklens ...``, or ``timeout ...
mpiexec -n 2 python -m mpi4py -m mocklens ...``), waits until the command has installed its
stop handlers (read from ``/proc/<pid>/status``: SIGUSR1 becomes caught), sleeps a seeded
random time drawn uniformly over a clean run's duration from that moment (so signals land in
imports, the numba warm-up, the shard loop, the final merge and the exit), sends SIGINT and
checks:

- the process ends with exit 99 (stopped) or, when the signal came after the final file was
  written, exit 0 with a complete output (the command had nothing left to stop);
- stderr holds no ``Traceback`` and no ``Exception ignored``; a stopped run prints exactly
  one line that says to rerun the same command, and leaves no temporary file behind;
- rerunning the same command exits 0 and gives data identical to a clean run (datasets and
  attributes, not the ``provenance`` timings).

The first ~0.1 s of a process (interpreter start-up and ``import click``, before any
mocklens code runs) is not covered: Python's own SIGINT handler is active then. Trial counts
can be raised with ``MOCKLENS_SIGNAL_TRIALS``.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.reference.datasets import assert_identical_data
from tests.reference.launch import local_launch_env, require_mpiexec

pytestmark = pytest.mark.slow

#: Trials per mode: each is one interrupted run and a rerun, ~5-10 s on 2 cores, so the
#: generate modes default to 12 (CI budget); merge is cheap and gets 20. The issue's ~20 per
#: mode: ``MOCKLENS_SIGNAL_TRIALS=20``.
TRIALS_ENV = os.environ.get("MOCKLENS_SIGNAL_TRIALS")
# CI runs 6 + 6 + 6 + 10 trials to stay inside its 30-minute budget on 2 cores; every
# change to signals, launch or the writer was tried with 20 (see the README's Development).
GENERATE_TRIALS = int(TRIALS_ENV or 6)
MERGE_TRIALS = int(TRIALS_ENV or 10)
#: Samples and shard size of the trial run: 20 shards, ~1.5 s of compute on one core, so
#: the shard loop is a real share of each run next to ~2 s of imports and ~2 s of warm-up.
N_SAMPLES, SHARD_SIZE = 20_000, 1_000
#: Any single command must end within this long; only catches hangs [s].
COMMAND_TIMEOUT_S = 300
#: How long a process may take to install its handlers (imports under load) [s].
READY_TIMEOUT_S = 120
#: Poll interval while waiting for the handlers [s].
POLL_S = 0.005
#: Exit code of a stopped command (the SLURM templates requeue on it).
EXIT_STOPPED = 99
SIGUSR1_BIT = 1 << (signal.SIGUSR1 - 1)


def caught_signals(pid: int) -> int:
    """Bit mask of the signals process ``pid`` has handlers for (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("SigCgt:"):
                    return int(line.split()[1], 16)
    except OSError:
        pass
    return 0


def descendants(pid: int) -> list[int]:
    """Pids of every live descendant of ``pid``."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


class Launch:
    """How to start one command and which processes must be ready before the signal."""

    def __init__(self, cmd, env=None, mpi=False):
        self.cmd, self.env, self.mpi = [str(c) for c in cmd], env, mpi

    def start(self) -> subprocess.Popen:
        return subprocess.Popen(
            self.cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            stdin=subprocess.DEVNULL, env=self.env, start_new_session=True,
        )  # fmt: skip

    def _ranks(self, proc) -> list[int]:
        return [p for p in descendants(proc.pid) if "-m mocklens" in cmdline(p)]

    def target(self, proc) -> int:
        """The pid a user's Ctrl-C reaches: the command, or mpiexec (which forwards it)."""
        if not self.mpi:
            return proc.pid
        for pid in descendants(proc.pid):
            if "mpiexec" in cmdline(pid).split(" ", 1)[0]:
                return pid
        return proc.pid

    def wait_ready(self, proc) -> float:
        """Wait until the stop handlers are installed; return the time."""
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                out, err = proc.communicate()
                pytest.fail(f"{self.cmd} ended without installing stop handlers\n{out}\n{err}")
            pids = self._ranks(proc) if self.mpi else [proc.pid]
            if pids and len(pids) >= (2 if self.mpi else 1):
                if all(caught_signals(p) & SIGUSR1_BIT for p in pids):
                    return time.monotonic()
            time.sleep(POLL_S)
        pytest.fail(f"{self.cmd} did not install its signal handlers in {READY_TIMEOUT_S} s")


def run_clean(launch: Launch) -> tuple[subprocess.CompletedProcess, float]:
    """Run to completion; return the result and its duration after the handlers [s]."""
    proc = launch.start()
    ready = launch.wait_ready(proc)
    out, err = proc.communicate(timeout=COMMAND_TIMEOUT_S)
    duration = time.monotonic() - ready
    assert proc.returncode == 0, f"{launch.cmd}\n{out}\n{err}"
    return subprocess.CompletedProcess(launch.cmd, 0, out, err), duration


def temporaries(*roots: Path) -> list[Path]:
    found = []
    for root in roots:
        if root.is_dir():
            found += [p for p in root.rglob(".*.tmp-*")]
        elif root.parent.is_dir():
            found += list(root.parent.glob(f".{root.name}.tmp-*"))
    return found


def interrupt_trials(
    launch: Launch, final: Path, reference: Path, duration: float, reset, seed, trials, fresh
):
    """Run interrupted runs, each followed by a clean rerun; return what each one hit.

    ``fresh`` is the path that must not exist after a stop during start-up (nothing written);
    such a trial is not rerun, its state being that of the clean run's start.
    """
    rng = random.Random(seed)
    outcomes = []
    for trial in range(trials):
        reset()
        delay = rng.uniform(0.0, duration)
        proc = launch.start()
        ready = launch.wait_ready(proc)
        time.sleep(max(0.0, ready + delay - time.monotonic()))
        signalled_at = time.time()
        with contextlib.suppress(ProcessLookupError):
            os.kill(launch.target(proc), signal.SIGINT)
        out, err = proc.communicate(timeout=COMMAND_TIMEOUT_S)
        where = f"trial {trial} (SIGINT {delay:.2f} s after start-up)\n{out}\n{err}"
        assert "Traceback" not in err and "Exception ignored" not in err, where
        assert proc.returncode in (0, EXIT_STOPPED), where
        leftovers = temporaries(final, final.parent / (final.name + ".parts"))
        assert not leftovers, f"{where}\nleft {leftovers}"
        if proc.returncode == 0:
            # Late: the final file was complete when the signal came (nothing to stop).
            assert final.exists(), where
            assert final.stat().st_mtime <= signalled_at + LATE_SLACK_S, where
            assert_identical_data(final, reference)
            outcomes.append("late")
            continue
        lines = [ln for ln in (out + err).splitlines() if "rerun the same command" in ln]
        assert len(lines) == 1, where
        outcomes.append(lines[0].split(":", 2)[-1].split(";")[0].strip())
        if "while starting" in lines[0]:
            assert not fresh.exists(), f"{where}\n{fresh} was created"
            continue
        rerun = launch.start()
        out2, err2 = rerun.communicate(timeout=COMMAND_TIMEOUT_S)
        assert rerun.returncode == 0, f"{where}\nrerun:\n{out2}\n{err2}"
        assert_identical_data(final, reference)
    return outcomes


#: A signal that finds the output already complete may come this long before the file's
#: modification time: the handler runs between bytecodes, after the HDF5 close that set it,
#: and ``os.replace`` does not change it [s]. 0.5 s held on a quiet machine; one CI trial on
#: a machine loaded by other test runs failed in this test (cause not pinned down, likely
#: this window), so the window allows for a scheduler delay. An ignored Ctrl-C still fails:
#: it finishes every remaining shard, seconds after the signal.
LATE_SLACK_S = 1.5


@pytest.fixture(scope="module")
def cfg(tmp_path_factory):
    from mocklens.config import dump_json
    from tests.conftest import small_config

    path = tmp_path_factory.mktemp("sig") / "cfg.json"
    path.write_text(dump_json(small_config(n=N_SAMPLES, shard_size=SHARD_SIZE, seed=5)))
    return path


def assert_warm_up_and_progress_lines(stdout: str, ranks: int):
    """A run without a terminal names its warm-up and prints progress lines (one helper)."""
    lines = stdout.splitlines()
    assert any(ln.startswith(("loading compiled kernels", "compiling kernels")) for ln in lines)
    assert any(ln.startswith(("kernels ready in", "kernels compiled in")) for ln in lines)
    where = f" on {ranks} ranks" if ranks > 1 else ""
    progress = [ln for ln in lines if ln.startswith("progress: ")]
    assert len(progress) >= 9, stdout  # at least every 10% (20 shards)
    assert all(f"lenses/s{where}, ETA " in ln for ln in progress), progress
    assert progress[-1].startswith(f"progress: {N_SAMPLES:,} of {N_SAMPLES:,} lenses (100%)")


def mocklens_cmd(*args):
    return [sys.executable, "-m", "mocklens", *args]


def _reset(*paths):
    def reset():
        for path in paths:
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()

    return reset


@pytest.mark.parametrize("form", ["directory", "file"])
def test_sigint_serial_generate(cfg, tmp_path, form):
    name = "run" if form == "directory" else "lenses.h5"
    out = tmp_path / name
    final = out / "dataset.h5" if form == "directory" else out
    launch = Launch(mocklens_cmd("generate", "--config", cfg, "--out", out))
    clean, duration = run_clean(launch)
    assert_warm_up_and_progress_lines(clean.stdout, ranks=1)
    reference = tmp_path / "reference"
    shutil.move(out, reference)
    ref_final = reference / "dataset.h5" if form == "directory" else reference
    reset = _reset(out, tmp_path / (name + ".parts"))
    outcomes = interrupt_trials(
        launch, final, ref_final, duration, reset, seed=11, trials=GENERATE_TRIALS, fresh=out
    )
    print(f"\n{form}: clean run {duration:.1f} s after start-up; outcomes: {outcomes}")


def test_sigint_merge(cfg, tmp_path):
    run = tmp_path / "run"
    r = subprocess.run(
        mocklens_cmd("generate", "--config", cfg, "--out", run), capture_output=True, text=True,
        timeout=COMMAND_TIMEOUT_S, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    dest = tmp_path / "merged.h5"
    launch = Launch(mocklens_cmd("merge", run, "--out", dest))
    _, duration = run_clean(launch)
    reference = tmp_path / "reference.h5"
    shutil.move(dest, reference)
    outcomes = interrupt_trials(
        launch, dest, reference, duration, _reset(dest), seed=12, trials=MERGE_TRIALS, fresh=dest
    )
    print(f"\nmerge: clean run {duration:.1f} s after start-up; outcomes: {outcomes}")


@pytest.mark.mpi
def test_sigint_mpiexec_generate(cfg, tmp_path):
    mpiexec = require_mpiexec()
    env = local_launch_env()
    out = tmp_path / "run"
    cmd = [
        "timeout", "120", mpiexec, "-n", "2", sys.executable, "-m", "mpi4py",
        "-m", "mocklens", "generate", "--config", cfg, "--out", out,
    ]  # fmt: skip
    launch = Launch(cmd, env=env, mpi=True)
    clean, duration = run_clean(launch)
    assert_warm_up_and_progress_lines(clean.stdout, ranks=2)
    reference = tmp_path / "reference"
    shutil.move(out, reference)
    outcomes = interrupt_trials(
        launch, out / "dataset.h5", reference / "dataset.h5", duration, _reset(out), seed=13,
        trials=GENERATE_TRIALS, fresh=out,
    )  # fmt: skip
    print(f"\nmpiexec: clean run {duration:.1f} s after start-up; outcomes: {outcomes}")


def test_second_sigint_abandons_the_shard_in_hand(tmp_path):
    """Ctrl-C twice: the shard being computed is abandoned, not finished; still exit 99."""
    from mocklens.config import dump_json
    from tests.conftest import small_config

    cfg = tmp_path / "big-shards.json"
    cfg.write_text(dump_json(small_config(n=3 * BIG_SHARD, shard_size=BIG_SHARD, seed=6)))
    out = tmp_path / "run"
    launch = Launch(mocklens_cmd("generate", "--config", cfg, "--out", out))
    proc = launch.start()
    first = out / "shards" / "shard-000000.h5"
    deadline = time.monotonic() + COMMAND_TIMEOUT_S
    while not first.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(POLL_S)
    proc.send_signal(signal.SIGINT)
    time.sleep(SECOND_SIGINT_AFTER_S)
    proc.send_signal(signal.SIGINT)
    out_text, err = proc.communicate(timeout=COMMAND_TIMEOUT_S)
    assert proc.returncode == EXIT_STOPPED, out_text + err
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert "stopped by SIGINT: 1 of 3 shards complete and kept" in err, err
    assert sorted(p.name for p in (out / "shards").glob("shard-*.h5")) == [first.name]
    assert not temporaries(out)
    rerun = launch.start()
    out2, err2 = rerun.communicate(timeout=COMMAND_TIMEOUT_S)
    assert rerun.returncode == 0, out2 + err2
    assert "resuming: 1 of 3 shards already complete" in out2


#: Shard size for the double Ctrl-C: one shard's compute must outlast the gap between the
#: two signals many times over [count]. 20,000 did (~1.5 s) until the solver and writer got
#: faster: it took ~0.3 s on 2 threads and the second signal came after the shard was done.
BIG_SHARD = 150_000
#: Gap between the two Ctrl-C: more than signals.REPEAT_S, so it counts as a second one [s].
SECOND_SIGINT_AFTER_S = 0.7
