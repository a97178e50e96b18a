"""A second writer of the same run is refused at once (exit 3), with two real processes.

The first process is started, allowed to take its lock (its ``host pid`` appears in the lock
file), then frozen with SIGSTOP, so that the second one certainly meets it mid-run whatever
the machine's load; a stopped process keeps its ``flock``. After the second process has been
refused, SIGCONT lets the first one finish normally.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mocklens.config import dump_json
from mocklens.io import check_complete
from tests.conftest import small_config

#: Exit code of a refused second writer (OutputExistsError family).
EXIT_LOCKED = 3
#: Any command must end within this long; only catches hangs [s].
COMMAND_TIMEOUT_S = 300
#: How long the first process may take to reach its lock (imports under load) [s].
LOCK_WAIT_S = 120


def mocklens(*args) -> list[str]:
    return [sys.executable, "-m", "mocklens", *[str(a) for a in args]]


def run(*args) -> subprocess.CompletedProcess:
    return subprocess.run(
        mocklens(*args), capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


@pytest.fixture
def cfg(tmp_path):
    path = tmp_path / "cfg.json"
    path.write_text(dump_json(small_config(n=4_000, shard_size=500, seed=3)))
    return path


@contextlib.contextmanager
def frozen_holder(args, lock_file: Path):
    """Start ``mocklens args``, wait until it holds ``lock_file``, SIGSTOP it; yield it."""
    proc = subprocess.Popen(
        mocklens(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + LOCK_WAIT_S
        record = f"{socket.gethostname()} {proc.pid}"
        while time.monotonic() < deadline and proc.poll() is None:
            with contextlib.suppress(OSError):
                if lock_file.read_text().strip() == record:
                    break
            time.sleep(0.01)
        else:
            out, err = proc.communicate(timeout=COMMAND_TIMEOUT_S)
            pytest.fail(f"first writer never held {lock_file}:\n{out}\n{err}")
        proc.send_signal(signal.SIGSTOP)
        yield proc
    finally:
        proc.send_signal(signal.SIGCONT)
    out, err = proc.communicate(timeout=COMMAND_TIMEOUT_S)
    proc.output = out + err
    assert proc.returncode == 0, proc.output


def assert_refused(result: subprocess.CompletedProcess, holder: subprocess.Popen, what: str):
    text = result.stdout + result.stderr
    assert result.returncode == EXIT_LOCKED, text
    assert "Traceback" not in text
    errors = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(errors) == 1, text
    assert f"(host {socket.gethostname()}, pid {holder.pid}) is writing {what}" in errors[0]
    assert "wait for it or stop it" in errors[0]


def test_second_generate_into_a_directory_is_refused(tmp_path, cfg):
    out = tmp_path / "run"
    with frozen_holder(["generate", "--config", cfg, "--out", out], out / ".mocklens.lock") as a:
        second = run("generate", "--config", cfg, "--out", out)
        assert_refused(second, a, f"{out}/")
        assert not list((out / "shards").glob("shard-*.h5")), "the second writer wrote shards"
    check_complete(out / "dataset.h5")
    assert "4000 lenses (8 shards computed" in a.output  # the first did all the work


def test_second_generate_into_a_file_is_refused(tmp_path, cfg):
    out = tmp_path / "lenses.h5"
    lock = tmp_path / ".lenses.h5.lock"
    with frozen_holder(["generate", "--config", cfg, "--out", out], lock) as a:
        second = run("generate", "--config", cfg, "--out", out, "--overwrite")
        assert_refused(second, a, str(out))
    check_complete(out)
    assert not lock.exists(), "a single-file run leaves its lock file behind"
    assert not (tmp_path / "lenses.h5.parts").exists()


def test_array_tasks_share_a_run_but_exclude_plain_writers(tmp_path, cfg):
    out = tmp_path / "run"
    task0 = ["generate", "--config", cfg, "--out", out, "--task-id", 0, "--n-tasks", 2]
    with frozen_holder(task0, out / ".mocklens-task-0-of-2.lock") as a:
        other = run("generate", "--config", cfg, "--out", out, "--task-id", 1, "--n-tasks", 2)
        assert other.returncode == 0, other.stdout + other.stderr
        assert_refused(run(*task0), a, f"task 0 of 2 of {out}/")
        assert_refused(run("generate", "--config", cfg, "--out", out), a, f"{out}/")
        assert_refused(run("finalize", out), a, f"{out}/")
        assert_refused(run("merge", out, "--out", tmp_path / "m.h5"), a, f"{out}/")
        assert not (tmp_path / "m.h5").exists()
    done = run("finalize", out)
    assert done.returncode == 0, done.stdout + done.stderr
    check_complete(out / "dataset.h5")


def test_merge_refuses_a_run_being_written(tmp_path, cfg):
    out = tmp_path / "run"
    assert run("generate", "--config", cfg, "--out", out).returncode == 0
    # a rerun of a complete run re-checks its shards and rebuilds the master: a writer too
    args = ["generate", "--config", cfg, "--out", out]
    with frozen_holder(args, out / ".mocklens.lock") as a:
        assert_refused(run("merge", out, "--out", tmp_path / "m.h5"), a, f"{out}/")
    merged = run("merge", out, "--out", tmp_path / "m.h5")
    assert merged.returncode == 0, merged.stdout + merged.stderr
    check_complete(tmp_path / "m.h5")
