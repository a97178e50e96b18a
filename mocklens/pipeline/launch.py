"""Entry point of ``mocklens generate``: pick the serial or the MPI driver and run.

An MPI launch is recognised from the launcher's environment (``PMI_SIZE`` from MPICH/Hydra
and SLURM's PMI, ``OMPI_COMM_WORLD_SIZE`` from Open MPI) or from mpi4py being imported
already (``python -m mpi4py``); only then is mpi4py imported.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

from mocklens.config.model import RunConfig
from mocklens.pipeline.run import finalize, make_plan, prepare_output, run_shards
from mocklens.pipeline.signals import stop_signals


def mpi_world_size() -> int:
    """World size announced by the MPI launcher (1 when not under MPI)."""
    for var in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS"):
        value = os.environ.get(var)
        if value and value.isdigit():
            return int(value)
    if "mpi4py.MPI" in sys.modules:
        return int(sys.modules["mpi4py.MPI"].COMM_WORLD.Get_size())
    return 1


def generate(
    cfg: RunConfig,
    out: str,
    *,
    overwrite: bool = False,
    progress: bool = False,
    echo: Callable[[str], None] = print,
) -> str:
    """Generate (or finish) a run and return the path of the final dataset.

    Parameters
    ----------
    cfg : RunConfig
        Resolved configuration.
    out : str
        ``FILE.h5`` or a directory (see ``mocklens.pipeline.shards``).
    overwrite : bool, optional
        Replace existing output.
    progress : bool, optional
        Show a progress bar.
    echo : callable, optional
        Where one-line log messages go.

    Returns
    -------
    str
        Path of the merged file or virtual master.
    """
    if mpi_world_size() > 1:
        from mocklens.pipeline.parallel import run_parallel

        return run_parallel(cfg, out, overwrite=overwrite, progress=progress, echo=echo)
    plan = make_plan(cfg, out)
    prepare_output(plan, overwrite)
    pending = plan.pending
    done = len(plan.shards) - len(pending)
    if done:
        echo(f"resuming: {done} of {len(plan.shards)} shards already complete, skipped")
    t0 = time.perf_counter()
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(
            total=cfg.n_samples,
            initial=cfg.n_samples - sum(s.size for s in pending),
            unit="lens",
            unit_scale=True,
            desc="generate",
            file=sys.stderr,
        )
    try:
        with stop_signals():
            run_shards(plan, pending, on_done=(lambda s, rec: bar.update(s.size)) if bar else None)
    finally:
        if bar is not None:
            bar.close()
    wall = time.perf_counter() - t0
    final = finalize(plan, {"wall_s": wall, "ranks": 1})
    rate = sum(s.size for s in pending) / wall if wall > 0 else float("inf")
    echo(
        f"wrote {final}: {cfg.n_samples} lenses ({len(pending)} shards computed in "
        f"{wall:.1f} s, {rate:,.0f} lenses/s)"
    )
    return str(final)
