"""Starting real MPI launches from tests outside ``tests/mpi`` (fault injection)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

#: Variables of an outer SLURM allocation or MPI launcher, which would make mpiexec join that
#: job instead of starting local processes.
LAUNCHER_PREFIXES = ("SLURM_", "PMI_", "PMIX_", "OMPI_", "HYDRA_", "MPIEXEC_")


def require_mpiexec() -> str:
    """Return the mpiexec beside this interpreter (or on PATH); fail in CI, skip elsewhere."""
    beside = Path(sys.executable).parent / "mpiexec"
    found = str(beside) if beside.is_file() else shutil.which("mpiexec")
    if found is None or shutil.which("timeout") is None:
        if os.environ.get("CI"):
            pytest.fail("mpiexec or timeout missing in CI")
        pytest.skip("mpiexec or timeout missing")
    return found


def local_launch_env() -> dict[str, str]:
    """The environment without outer-launcher variables, one numba/BLAS thread per rank."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(LAUNCHER_PREFIXES)}
    env.update(OMP_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    return env
