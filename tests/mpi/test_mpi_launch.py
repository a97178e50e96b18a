"""Smoke tests of the MPI launcher itself (mpiexec + mpi4py), independent of mocklens."""

from __future__ import annotations

import json
import textwrap
import time

import pytest

pytestmark = pytest.mark.mpi

# A tiny job on an idle machine starts in about a second. This bound only catches hangs.
LAUNCH_TIMEOUT_S = 120
# After one rank raises, `python -m mpi4py` calls MPI_Abort and the launcher should end the
# job within seconds. A job still alive after this long did not abort.
ABORT_WITHIN_S = 60

GATHER = """
import json
from mpi4py import MPI

comm = MPI.COMM_WORLD
pairs = comm.gather([comm.Get_rank(), comm.Get_size()], root=0)
if comm.Get_rank() == 0:
    print("GATHERED " + json.dumps(pairs), flush=True)
"""

# Rank 1 raises; rank 0 waits for a message that never comes. Only an abort ends this job.
RAISE_ON_ONE_RANK = """
from mpi4py import MPI

comm = MPI.COMM_WORLD
comm.Barrier()
if comm.Get_rank() == 1:
    raise RuntimeError("deliberate failure on rank 1")
comm.recv(source=1)
"""


@pytest.mark.parametrize("n", [1, 2, 3])
def test_ranks_gather(mpirun, tmp_path, n):
    script = tmp_path / "gather.py"
    script.write_text(textwrap.dedent(GATHER))
    proc = mpirun(n, [str(script)], timeout=LAUNCH_TIMEOUT_S)
    assert proc.returncode == 0, proc.stderr
    (line,) = [ln for ln in proc.stdout.splitlines() if ln.startswith("GATHERED ")]
    assert json.loads(line.removeprefix("GATHERED ")) == [[rank, n] for rank in range(n)]


def test_exception_on_one_rank_aborts_job(mpirun, tmp_path):
    script = tmp_path / "raise.py"
    script.write_text(textwrap.dedent(RAISE_ON_ONE_RANK))
    started = time.monotonic()
    proc = mpirun(2, [str(script)], timeout=ABORT_WITHIN_S)
    elapsed = time.monotonic() - started
    assert proc.returncode != 0
    assert elapsed < ABORT_WITHIN_S
    assert "deliberate failure on rank 1" in proc.stderr
