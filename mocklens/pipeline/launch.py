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
from mocklens.errors import ConfigError
from mocklens.pipeline.run import (
    check_slurm_size,
    configure_threads,
    finalize,
    make_plan,
    prepare_output,
    rank_summary,
    run_shards,
    task_shards,
    warm_up,
)
from mocklens.pipeline.shards import RunLayout
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
    task_id: int | None = None,
    n_tasks: int | None = None,
) -> str | None:
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
    task_id, n_tasks : int, optional
        SLURM-array mode: compute only shards ``shards[task_id::n_tasks]`` (divided among the
        MPI ranks, if any) and do not finalize; ``mocklens finalize`` does that once all
        tasks are done. Needs a directory ``out``.

    Returns
    -------
    str or None
        Path of the merged file or virtual master; None in array mode.

    Raises
    ------
    ConfigError
        Only one of ``task_id``/``n_tasks`` given, or array mode with a ``FILE.h5`` output.
    ResourceError
        MPI world size differs from ``SLURM_NTASKS`` inside a SLURM step, output not
        writable, or not enough disk.
    StopRequested
        A stop signal arrived; finished shards are kept (exit code 99).
    """
    task = _task(out, task_id, n_tasks)
    size = mpi_world_size()
    check_slurm_size(size)
    if size > 1:
        from mocklens.pipeline.parallel import run_parallel

        return run_parallel(cfg, out, overwrite=overwrite, progress=progress, echo=echo, task=task)
    configure_threads(1)
    plan = make_plan(cfg, out)
    mine = None if task is None else task_shards(plan.shards, *task)
    prepare_output(plan, overwrite, only=mine)
    for note in plan.notes:
        echo(note)
    owned = plan.shards if mine is None else mine
    pending = [s for s in owned if plan.states.get(s.id) != "done"]
    done = len(owned) - len(pending)
    if done:
        echo(f"resuming: {done} of {len(owned)} shards already complete, skipped")
    bar = None
    # Handlers first: a stop during the numba warm-up must also end as exit 99, not as the
    # default action of SIGUSR1 (terminate).
    with stop_signals():
        warm = warm_up(cfg) if pending else 0.0
        t0 = time.perf_counter()
        if progress:
            from tqdm import tqdm

            bar = tqdm(
                total=sum(s.size for s in owned),
                initial=sum(s.size for s in owned) - sum(s.size for s in pending),
                unit="lens",
                unit_scale=True,
                desc="generate",
                file=sys.stderr,
            )
        try:
            records = run_shards(
                plan, pending, on_done=(lambda s, rec: bar.update(s.size)) if bar else None
            )
        finally:
            if bar is not None:
                bar.close()
    wall = time.perf_counter() - t0
    n_new = sum(s.size for s in pending)
    rate = n_new / wall if wall > 0 else float("inf")
    summary = f"{len(pending)} shards computed in {wall:.1f} s, {rate:,.0f} lenses/s"
    if task is not None:
        echo(
            f"task {task[0]} of {task[1]}: {summary}; run `mocklens finalize {out}` when all "
            "tasks are done"
        )
        return None
    final = finalize(
        plan,
        {
            "wall_s": wall,
            "ranks": 1,
            "lenses_per_s": rate,
            "warmup_s": warm,
            "per_rank": [rank_summary(0, records, wall)],
        },
    )
    echo(f"wrote {final}: {cfg.n_samples} lenses ({summary})")
    return str(final)


def _task(out: str, task_id: int | None, n_tasks: int | None) -> tuple[int, int] | None:
    if task_id is None and n_tasks is None:
        return None
    if task_id is None or n_tasks is None:
        raise ConfigError("give both --task-id and --n-tasks (SLURM array mode), or neither")
    if RunLayout.for_output(out).single_file:
        raise ConfigError(
            f"--task-id needs a directory --out, not {out}; array tasks write shards that "
            "`mocklens finalize` joins (and `mocklens merge` copies into one file)"
        )
    # the range of task_id is checked by run.task_shards, before any shard is touched
    return task_id, n_tasks
