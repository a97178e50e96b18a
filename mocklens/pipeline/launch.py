"""Entry point of ``mocklens generate``: pick the serial or the MPI driver and run.

An MPI launch is recognised from the launcher's environment (``PMI_SIZE`` from MPICH/Hydra
and SLURM's PMI, ``OMPI_COMM_WORLD_SIZE`` from Open MPI) or from mpi4py being imported
already (``python -m mpi4py``); only then is mpi4py imported.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

from mocklens.config.model import RunConfig
from mocklens.errors import ConfigError, DatasetError, StopRequested
from mocklens.io import check_complete
from mocklens.pipeline.lock import run_lock
from mocklens.pipeline.progress import ProgressLog, compiled_count, warm_up_done, warm_up_notice
from mocklens.pipeline.run import (
    RunPlan,
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
from mocklens.pipeline.signals import (
    Abandon,
    abandon_on_stop,
    shielded,
    signal_name,
    stop_requested,
    stop_signals,
)


def mpi_world_size() -> int:
    """World size announced by the MPI launcher (1 when not under MPI)."""
    for var in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS"):
        value = os.environ.get(var)
        if value and value.isdigit():
            return int(value)
    if "mpi4py.MPI" in sys.modules:
        return int(sys.modules["mpi4py.MPI"].COMM_WORLD.Get_size())
    return 1


def stopped_message(signum: int | None, kept: int, total: int) -> str:
    """Return the one line a stopped generate ends with (exit code 99)."""
    return (
        f"stopped by {signal_name(signum)}: {kept} of {total} shards complete and kept; "
        "rerun the same command to finish"
    )


def write_final(work: Callable[[], Path], path: Path) -> Path:
    """Run ``work`` (which writes ``path`` atomically), abandoning it on a stop signal.

    A stop that arrives once the new ``path`` is in place (the rename done, cleanup left)
    counts as too late: the complete file is kept and returned, so that rerunning the same
    command is never refused because the output now exists.

    Raises
    ------
    Abandon
        A stop arrived before the new ``path`` was complete; the writer removed its
        temporary.
    """
    path = Path(path)
    try:
        before = os.stat(path)
    except OSError:
        before = None
    try:
        with abandon_on_stop():
            return work()
    except Abandon:
        with shielded():
            try:
                now = os.stat(path)
                replaced = before is None or not os.path.samestat(before, now)
                if replaced:
                    check_complete(path)
            except (OSError, DatasetError):
                replaced = False
        if not replaced:
            raise
        return path


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
        Show a progress bar (otherwise a ``progress:`` line every 10% or 30 s).
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
    RunLockedError
        Another mocklens process is writing this run (see ``mocklens.pipeline.lock``).
    ResourceError
        MPI world size differs from ``SLURM_NTASKS`` inside a SLURM step, output not
        writable, or not enough disk.
    StopRequested
        SIGINT, SIGTERM or SIGUSR1 arrived; finished shards are kept (exit code 99).
    """
    task = _task(out, task_id, n_tasks)
    size = mpi_world_size()
    check_slurm_size(size)
    # Handlers for the whole run: a stop during the numba warm-up or the merge must also end
    # as exit 99, never as KeyboardInterrupt or the default action of SIGUSR1 (terminate).
    with stop_signals():
        if size > 1:
            from mocklens.pipeline.parallel import run_parallel

            return run_parallel(
                cfg, out, overwrite=overwrite, progress=progress, echo=echo, task=task
            )
        configure_threads(1)
        plan = make_plan(cfg, out)
        mine = None if task is None else task_shards(plan.shards, *task)
        # The lock comes before anything on disk is touched (prepare_output deletes shards).
        with run_lock(plan.layout, task):
            return _serial(plan, mine, task, overwrite, progress, echo)


def _serial(plan: RunPlan, mine, task, overwrite, progress, echo) -> str | None:
    with shielded():
        prepare_output(plan, overwrite, only=mine)
    for note in plan.notes:
        echo(note)
    owned = plan.shards if mine is None else mine
    pending = [s for s in owned if plan.states.get(s.id) != "done"]
    if len(owned) > len(pending):
        echo(
            f"resuming: {len(owned) - len(pending)} of {len(owned)} shards already complete, "
            "skipped"
        )
    kept = {"n": len(owned) - len(pending)}
    try:
        return _compute_and_finish(plan, owned, pending, kept, task, progress, echo)
    except (Abandon, StopRequested):
        message = stopped_message(stop_requested(), kept["n"], len(owned))
        raise StopRequested(message) from None


def _compute_and_finish(plan: RunPlan, owned, pending, kept, task, progress, echo) -> str | None:
    """Warm up, compute ``pending``, finalize; ``kept["n"]`` counts shards on disk."""
    cfg, out = plan.cfg, str(plan.layout.out)
    warm = 0.0
    if pending:
        echo(warm_up_notice())
        compiled = compiled_count()
        with abandon_on_stop():
            warm = warm_up(cfg)
        echo(warm_up_done(warm, compiled))
    n_new = sum(s.size for s in pending)
    bar = lines = None
    if progress:
        from tqdm import tqdm

        n_all = sum(s.size for s in owned)
        bar = tqdm(
            total=n_all, initial=n_all - n_new, unit="lens", unit_scale=True,
            desc="generate", file=sys.stderr,
        )  # fmt: skip
    else:
        lines = ProgressLog(n_new, echo)

    def on_done(shard, rec):
        kept["n"] += 1
        (bar.update if bar is not None else lines.advance)(shard.size)

    t0 = time.perf_counter()
    try:
        records = run_shards(plan, pending, on_done=on_done)
    finally:
        if bar is not None:
            bar.close()
    wall = time.perf_counter() - t0
    rate = n_new / wall if wall > 0 else float("inf")
    summary = f"{len(pending)} shards computed in {wall:.1f} s, {rate:,.0f} lenses/s"
    if task is not None:
        echo(
            f"task {task[0]} of {task[1]}: {summary}; run `mocklens finalize {out}` when all "
            "tasks are done"
        )
        return None
    extra = {
        "wall_s": wall,
        "ranks": 1,
        "lenses_per_s": rate,
        "warmup_s": warm,
        "per_rank": [rank_summary(0, records, wall)],
    }
    if plan.layout.single_file:
        echo(f"merging {len(plan.shards)} shards into {plan.layout.final_path} ...")
    final = write_final(lambda: finalize(plan, extra), plan.layout.final_path)
    with shielded():
        finish_parts(plan)
        echo(f"wrote {final}: {cfg.n_samples} lenses ({summary})")
    return str(final)


def finish_parts(plan: RunPlan) -> None:
    """Remove a single-file run's parts directory if a stop interrupted its removal."""
    if plan.layout.single_file and plan.layout.shard_dir.exists():
        shutil.rmtree(plan.layout.shard_dir, ignore_errors=True)


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
