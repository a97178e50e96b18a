"""A disk that fills while ``mocklens generate`` writes: a real small tmpfs, a real ``dd``.

Each trial mounts nothing new: one tmpfs (``mount -t tmpfs``, we run as root; skipped with
the reason when mounting is not permitted) serves all trials. It starts the real command
line (``python -m mocklens generate``, or ``timeout 120 mpiexec -n 2 python -m mpi4py -m
mocklens generate``), waits until shard ``k`` of the run exists (``k`` varies per trial, so
the disk fills at different points of the shard loop), then fills the filesystem with
``dd if=/dev/zero`` while the command goes on writing, and checks:

- exit code 5 (a resource error), no segfault (it was 139 in 6 of 7 trials);
- stderr: no ``Traceback``, and exactly one line starting ``error:`` (one per rank that
  hit the full disk under MPI) that names a file on the full filesystem and the free space;
- nothing half-written: no temporary anywhere, no final file, and every shard present is
  complete and passes a full read (fletcher32 of every chunk).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mocklens.io import check_complete
from tests.reference.launch import local_launch_env, require_mpiexec

pytestmark = pytest.mark.slow

#: Size of the test filesystem [MiB]: holds the disk-space check's estimate for the run.
TMPFS_MIB = 64
#: Samples and shard size: 20 shards, each written in ~10 ms, so the fill lands mid-loop.
N_SAMPLES, SHARD_SIZE = 20_000, 1_000
#: Serial trials (file and directory mode alternately) and MPI trials.
SERIAL_TRIALS, MPI_TRIALS = 6, 3
#: Longest a command may run, only to catch hangs [s].
COMMAND_TIMEOUT_S = 300
#: Poll interval while waiting for shard k [s].
POLL_S = 0.002
EXIT_RESOURCE = 5


@pytest.fixture(scope="module")
def disk(tmp_path_factory):
    mnt = tmp_path_factory.mktemp("full") / "mnt"
    mnt.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_MIB}m", "tmpfs", str(mnt)],
        capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


@pytest.fixture(scope="module")
def cfg(tmp_path_factory):
    from mocklens.config import dump_json
    from tests.conftest import small_config

    path = tmp_path_factory.mktemp("cfg") / "cfg.json"
    path.write_text(dump_json(small_config(n=N_SAMPLES, shard_size=SHARD_SIZE, seed=3)))
    return path


def empty(directory: Path) -> None:
    for child in directory.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def fill_with_dd(directory: Path) -> None:
    subprocess.run(
        ["dd", "if=/dev/zero", f"of={directory / 'filler'}", "bs=64k"],
        capture_output=True, check=False,
    )  # fmt: skip


def run_while_filling(cmd, disk: Path, shard_dir: Path, k: int, env=None):
    """Start ``cmd``, fill the disk once shard ``k`` exists; return (rc, stdout, stderr)."""
    proc = subprocess.Popen(
        [str(c) for c in cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        stdin=subprocess.DEVNULL, env=env,
    )  # fmt: skip
    target = shard_dir / f"shard-{k:06d}.h5"
    deadline = time.time() + COMMAND_TIMEOUT_S
    while not target.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(POLL_S)
    fill_with_dd(disk)
    out, err = proc.communicate(timeout=COMMAND_TIMEOUT_S)
    return proc.returncode, out, err


def assert_clean_failure(rc, out, err, disk: Path, final: Path, where: str, ranks: int = 1):
    text = f"{where}: rc={rc}\nstdout:\n{out[-3000:]}\nstderr:\n{err[-3000:]}"
    assert rc == EXIT_RESOURCE, text
    assert "Traceback" not in err and "Segmentation" not in err, text
    errors = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert 1 <= len(errors) <= ranks, text
    if ranks == 1:
        assert len(err.strip().splitlines()) == 1, text
    for line in errors:
        assert "disk full" in line and str(disk) in line and "bytes free" in line, text
    leftovers = [p for p in disk.rglob("*") if ".tmp-" in p.name]
    assert leftovers == [], f"{text}\nleft behind: {leftovers}"
    assert not final.exists(), f"{text}\na final file exists"
    for shard in disk.rglob("shard-*.h5"):
        check_complete(shard, verify_data=True)


def test_disk_full_serial(cfg, disk):
    for trial in range(SERIAL_TRIALS):
        empty(disk)
        file_mode = trial % 2 == 0
        out = disk / ("lenses.h5" if file_mode else "run")
        shard_dir = disk / "lenses.h5.parts" if file_mode else out / "shards"
        final = out if file_mode else out / "dataset.h5"
        k = 1 + 3 * trial % 12
        cmd = [sys.executable, "-m", "mocklens", "generate", "--config", cfg, "--out", out]
        rc, stdout, stderr = run_while_filling(cmd, disk, shard_dir, k)
        assert_clean_failure(rc, stdout, stderr, disk, final, f"trial {trial} (shard {k})")
    empty(disk)


@pytest.mark.mpi
def test_disk_full_mpiexec(cfg, disk):
    mpiexec = require_mpiexec()
    env = local_launch_env()
    for trial in range(MPI_TRIALS):
        empty(disk)
        out = disk / "run"
        k = 2 + 4 * trial
        cmd = [
            "timeout", "120", mpiexec, "-n", "2", sys.executable, "-m", "mpi4py",
            "-m", "mocklens", "generate", "--config", cfg, "--out", out,
        ]  # fmt: skip
        rc, stdout, stderr = run_while_filling(cmd, disk, out / "shards", k, env=env)
        assert_clean_failure(
            rc, stdout, stderr, disk, out / "dataset.h5", f"mpi trial {trial} (shard {k})",
            ranks=2,
        )  # fmt: skip
    empty(disk)
