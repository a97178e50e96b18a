"""Fixtures for tests that launch real MPI jobs with ``mpiexec``.

We test against MPICH from PyPI (``pip install mpi4py mpich``), which puts ``mpiexec`` next to
the venv's python. Ranks are always started as ``python -m mpi4py``: then an uncaught exception
on one rank calls MPI_Abort and ends the whole job. A plain ``python script.py`` leaves the
other ranks waiting forever. Every launch is also wrapped in coreutils ``timeout``.

When mpiexec or mpi4py is missing, tests fail if the ``CI`` environment variable is set and
skip otherwise.

This file must not import mocklens.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

# Extra seconds given to `timeout` after its TERM before it sends KILL, and to subprocess.run
# on top of that, so a stuck launcher cannot hang pytest.
KILL_GRACE_S = 10
# coreutils `timeout` exits with 124 when the command timed out (137 if KILL was needed).
TIMEOUT_EXIT_CODES = {124, 137}


def in_ci() -> bool:
    """Return True when the CI environment variable is set to a true-ish value."""
    return os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}


def _unavailable(reason: str) -> None:
    if in_ci():
        pytest.fail(f"{reason} CI is set, so this is an error, not a skip.", pytrace=False)
    pytest.skip(reason)


def find_mpiexec() -> str | None:
    """Return the mpiexec next to sys.executable (the venv's bin), else the one on PATH."""
    # Do not resolve symlinks: a venv's python links to the base interpreter, but the mpich
    # wheel installs mpiexec into the venv's own bin directory.
    beside = Path(sys.executable).parent / "mpiexec"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("mpiexec")


@functools.cache
def _mpiexec_flavour(mpiexec: str) -> str:
    """Return "openmpi" or "mpich" (Hydra), from ``mpiexec --version``."""
    try:
        out = subprocess.run(
            [mpiexec, "--version"], capture_output=True, text=True, timeout=30,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    text = out.stdout + out.stderr
    if "Open MPI" in text or "OpenRTE" in text or "Open RTE" in text:
        return "openmpi"
    if "HYDRA" in text or "MPICH" in text:
        return "mpich"
    return "unknown"


def _launch_env(flavour: str, env: Mapping[str, str] | None) -> dict[str, str]:
    base = dict(os.environ if env is None else env)
    # Inside a SLURM allocation, or under an outer MPI launcher, the launcher would pick up that
    # job's hosts and PMI settings instead of starting local processes.
    for key in list(base):
        if key.startswith(("SLURM_", "PMI_", "PMIX_", "OMPI_", "HYDRA_", "MPIEXEC_")):
            del base[key]
    # Keep numba and BLAS from oversubscribing the cores across ranks.
    base.setdefault("OMP_NUM_THREADS", "1")
    base.setdefault("NUMBA_NUM_THREADS", "1")
    if flavour == "openmpi":
        base.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    return base


@pytest.fixture(scope="session")
def mpiexec() -> str:
    """Path of a working mpiexec, with mpi4py importable by this python."""
    path = find_mpiexec()
    if path is None:
        _unavailable(
            "mpiexec not found next to sys.executable or on PATH "
            "(pip install mpi4py mpich, or the project's [test] extra)."
        )
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        _unavailable("mpi4py is not importable (pip install mpi4py mpich).")
    if shutil.which("timeout") is None:
        _unavailable("coreutils `timeout` is not on PATH.")
    return path


@pytest.fixture
def mpirun(mpiexec: str):
    """Launch ``timeout <t> mpiexec -n <n> <python> -m mpi4py <args>``; return CompletedProcess.

    Call as ``mpirun(n, args, timeout=300, env=None)``, where ``args`` is a sequence of str
    given to ``python -m mpi4py`` (a script path and its arguments, or ``-c code``), ``timeout``
    is in seconds, and ``env`` replaces os.environ when given. The test fails, showing stdout
    and stderr, if the run times out. A non-zero exit code is returned, not raised.
    """
    flavour = _mpiexec_flavour(mpiexec)

    def run(
        n: int,
        args: Sequence[str],
        timeout: float = 300,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        launcher = [mpiexec, "-n", str(n)]
        if flavour == "openmpi":
            launcher.append("--oversubscribe")
        cmd = [
            "timeout", "-k", str(KILL_GRACE_S), str(timeout),
            *launcher, sys.executable, "-m", "mpi4py", *args,
        ]  # fmt: skip
        try:
            proc = subprocess.run(
                cmd,
                capture_output=True,
                text=True,
                env=_launch_env(flavour, env),
                timeout=timeout + 2 * KILL_GRACE_S,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as exc:
            pytest.fail(
                f"{' '.join(cmd)}\nhung beyond the timeout wrapper\n"
                f"stdout:\n{exc.stdout}\nstderr:\n{exc.stderr}",
                pytrace=False,
            )
        if proc.returncode in TIMEOUT_EXIT_CODES:
            pytest.fail(
                f"{' '.join(cmd)}\ntimed out after {timeout} s (exit {proc.returncode})\n"
                f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}",
                pytrace=False,
            )
        return proc

    return run
