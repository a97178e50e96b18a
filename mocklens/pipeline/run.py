"""Orchestration of a generate run on one process: plan shards, compute, write, finalize.

The same steps serve the MPI driver (``mocklens.pipeline.parallel``), which only decides which
process computes which shard and which process finalizes.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from mocklens._version import __version__
from mocklens.config.load import dump_json
from mocklens.config.model import RunConfig
from mocklens.errors import ConfigError, OutputExistsError, ResourceError, StopRequested
from mocklens.io import build_virtual, merge_copy, read_root_attrs, write_table
from mocklens.io.atomic import write_bytes_atomically
from mocklens.io.layout import estimate_bytes_per_row
from mocklens.pipeline.catalog import build_table, column_layout, cosmology_json
from mocklens.pipeline.generate import compute_range
from mocklens.pipeline.identity import GROWABLE_KEY, describe_differences, run_identity
from mocklens.pipeline.resume import Survey, prepare
from mocklens.pipeline.shards import (
    RunLayout,
    Shard,
    config_digest,
    plan_shards,
    read_run_config,
)
from mocklens.pipeline.signals import stop_requested

#: Margin on the estimated bytes per sample in the free-space check [dimensionless]: systems
#: with more images than the estimate's measured recipe compress less.
DISK_SAFETY = 1.5
#: Fixed room the merged copy of a file-mode run needs beyond its shards' bytes [bytes].
MERGE_OVERHEAD_BYTES = 4 * 1024 * 1024


@dataclass
class RunPlan:
    """Everything a process needs to compute and write its shards."""

    cfg: RunConfig
    layout: RunLayout
    shards: list[Shard]
    config_json: str
    digest: str
    identity: str
    states: dict = field(default_factory=dict)
    #: What preparing the output did or will do (growth, shards moved aside), to print.
    notes: list = field(default_factory=list)

    @property
    def pending(self) -> list[Shard]:
        """Shards not yet done on disk."""
        return [s for s in self.shards if self.states.get(s.id) != "done"]


def make_plan(cfg: RunConfig, out: str | os.PathLike) -> RunPlan:
    """Plan a run without touching the disk."""
    config_json = dump_json(cfg)
    return RunPlan(
        cfg,
        RunLayout.for_output(out),
        plan_shards(cfg.n_samples, cfg.output.shard_size),
        config_json,
        config_digest(config_json),
        run_identity(config_json),
    )


def require_writable(path: str | os.PathLike, what: str = "output directory") -> Path:
    """Return the nearest existing directory at or above ``path``, refusing if not writable.

    Raises
    ------
    ResourceError
        The directory (or, if it does not exist yet, the first existing parent) cannot be
        written (read-only filesystem, permissions).
    """
    probe = Path(path).absolute()
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK):
        raise ResourceError(f"{what} {probe} is not writable")
    return probe


def bytes_per_sample(cfg: RunConfig) -> float:
    """Disk bytes one sample of ``cfg`` needs, with :data:`DISK_SAFETY` [bytes].

    Estimated from the format (column dtypes and shapes, the measured compression ratio and
    the per-file metadata spread over a shard), not from a constant: ~240 B for the default
    recipe (~233 measured).
    """
    per_row = estimate_bytes_per_row(
        column_layout(cfg),
        n_rows=cfg.output.shard_size,
        compression_level=cfg.output.compression_level,
    )
    return DISK_SAFETY * per_row


def check_resources(plan: RunPlan, shards: list[Shard] | None = None) -> None:
    """Refuse to start if the output directory is not writable or the disk too small.

    Parameters
    ----------
    plan : RunPlan
        The run.
    shards : list of Shard, optional
        Shards this process will write (default: every pending shard of the run).

    Raises
    ------
    ResourceError
        Not writable, or less free space than :func:`bytes_per_sample` per sample to write.
    """
    probe_dir = require_writable(
        plan.layout.shard_dir, f"cannot write {plan.layout.final_path}: directory"
    )
    todo = plan.pending if shards is None else shards
    need = bytes_per_sample(plan.cfg) * sum(s.size for s in todo)
    if plan.layout.single_file:
        # the merged copy is as large as all shards together, written while they exist
        need += bytes_per_sample(plan.cfg) * plan.cfg.n_samples + MERGE_OVERHEAD_BYTES
    free = shutil.disk_usage(probe_dir).free
    if need > free:
        raise ResourceError(
            f"not enough disk at {probe_dir}: about {need / 1e9:.2f} GB needed, "
            f"{free / 1e9:.2f} GB free"
        )


def prepare_output(plan: RunPlan, overwrite: bool, only: list[Shard] | None = None) -> None:
    """Check the output, decide every shard's fate, then act (mutates ``plan``).

    Everything that can refuse the run is decided before anything on disk changes: the
    run's identity (:func:`check_run_config`), foreign shard-named files, disk space and
    write permission. Then corrupt shards are moved aside and ``config.json`` is written.

    Parameters
    ----------
    plan : RunPlan
        The run; ``plan.states`` and ``plan.notes`` are set.
    overwrite : bool
        Discard existing output first (refused together with ``only``).
    only : list of Shard, optional
        Shards owned by this process (an array task's share); other shards are not touched
        and have no entry in ``plan.states``.
    """
    notes = [] if overwrite else check_run_config(plan)
    owned = plan.shards if only is None else only

    def check_space(found: Survey) -> None:
        check_resources(plan, [s for s in owned if found.fates[s.id].state != "done"])

    found = prepare(
        plan.layout, plan.shards, plan.identity, overwrite, only=only, before_changes=check_space
    )
    plan.states = found.states
    plan.notes = notes + found.notes
    write_run_config(plan, overwrite=True)


def stored_run_config(layout: RunLayout) -> str | None:
    """Return the config JSON a run already holds (``config.json``, else a shard's), or None."""
    path = layout.config_path
    if path.is_file():
        try:
            return path.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise ResourceError(f"cannot read {path}: {exc}") from exc
    return read_run_config(layout) if layout.shard_dir.is_dir() else None


def _has_output(layout: RunLayout) -> bool:
    shard_dir = layout.shard_dir
    return shard_dir.is_dir() and any(shard_dir.glob("shard-*.h5"))


def check_run_config(plan: RunPlan) -> list[str]:
    """Refuse to change the config of a run that has output; allow it to grow.

    Once a run directory holds shards, its config is fixed: the only change accepted is a
    larger ``n_samples`` with everything else equal (sample ``i`` never depends on
    ``n_samples``, so finished shards stay valid and only new ones are computed).

    Parameters
    ----------
    plan : RunPlan
        The run about to be prepared (not changed).

    Returns
    -------
    list of str
        Notes to print (the run grows, or a config without output is replaced).

    Raises
    ------
    OutputExistsError
        The run has shards of a config that differs in anything but a larger ``n_samples``;
        the message names the differences.
    ResourceError
        ``config.json`` exists but cannot be read.
    """
    layout = plan.layout
    has_output = _has_output(layout)
    # The shards, not config.json, are the record: an edited config.json must not let a task
    # of another seed or config write beside them.
    from_shard = read_run_config(layout) if has_output else None
    if from_shard is not None and run_identity(from_shard) != plan.identity:
        _refuse_other_config(layout, from_shard, plan.config_json)
    old = stored_run_config(layout)
    if old is None or old == plan.config_json:
        return []
    if not has_output:
        return [f"{layout.config_path} replaced: the run had no shards yet"]
    try:
        old_data = json.loads(old)
    except ValueError:
        raise OutputExistsError(
            f"{layout.config_path} is not valid JSON, and the run already has shards; "
            "restore it or choose another --out"
        ) from None
    old_n = old_data.get(GROWABLE_KEY)
    if run_identity(old) == plan.identity and isinstance(old_n, int):
        if plan.cfg.n_samples > old_n:
            return [f"growing the run from {old_n:,} to {plan.cfg.n_samples:,} lenses"]
        if plan.cfg.n_samples == old_n:  # the same config, saved in another layout
            return []
        raise OutputExistsError(
            f"{layout.out} holds a run of {old_n:,} lenses; --n {plan.cfg.n_samples} would "
            f"shrink it (a run may only grow): use --n {old_n} or another --out"
        )
    _refuse_other_config(layout, old, plan.config_json)


def _refuse_other_config(layout: RunLayout, old_json: str, new_json: str) -> None:
    differences = describe_differences(old_json, new_json)
    raise OutputExistsError(
        f"{layout.out} holds shards of another config ({differences}); a run's config is "
        f"fixed once it has output: use {layout.config_path} or another --out"
    )


def write_run_config(plan: RunPlan, overwrite: bool = False) -> Path:
    """Store the resolved config JSON as ``config.json`` next to the shards, atomically.

    ``mocklens status``, ``finalize`` and ``merge`` read it, so they work before any shard
    exists. Concurrent writers (array tasks) write the same bytes; ``os.replace`` is atomic.

    Parameters
    ----------
    plan : RunPlan
        The run.
    overwrite : bool, optional
        Skip :func:`check_run_config` (the caller has already checked, or discarded the run).

    Raises
    ------
    OutputExistsError
        Without ``overwrite``: the run has output of a different config (see
        :func:`check_run_config`).
    """
    if not overwrite:
        check_run_config(plan)
    path = plan.layout.config_path
    if path.exists() and path.read_text() == plan.config_json:
        return path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ResourceError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return write_bytes_atomically(path, plan.config_json.encode(), overwrite=True)


def task_shards(shards: list[Shard], task_id: int, n_tasks: int) -> list[Shard]:
    """Shards of array task ``task_id`` of ``n_tasks``: ``shards[task_id::n_tasks]``.

    The split depends only on the shard list, never on what is already on disk, so tasks that
    run at the same time (or are requeued) never compute the same shard.

    Raises
    ------
    ConfigError
        If ``n_tasks < 1`` or ``task_id`` is outside ``[0, n_tasks)``.
    """
    if n_tasks < 1 or not 0 <= task_id < n_tasks:
        raise ConfigError(f"--task-id {task_id} must be in [0, {n_tasks}) for --n-tasks {n_tasks}")
    return shards[task_id::n_tasks]


def check_slurm_size(size: int) -> None:
    """Refuse to run when the MPI world does not match the SLURM step's task count.

    Inside a SLURM step (``SLURM_STEP_ID`` set), ``srun`` without the MPI plugin the MPI
    library needs starts every task as rank 0 of a world of size 1: all tasks would compute
    the same shards.

    Parameters
    ----------
    size : int
        Size of the MPI world this process belongs to (1 without MPI).

    Raises
    ------
    ResourceError
        If ``SLURM_NTASKS`` is set, we are in a step and it differs from ``size``.
    """
    ntasks = os.environ.get("SLURM_NTASKS", "")
    if "SLURM_STEP_ID" not in os.environ or not ntasks.isdigit() or int(ntasks) == size:
        return
    raise ResourceError(
        f"MPI world has {size} rank(s) but SLURM_NTASKS={ntasks}: launch with "
        "`srun --mpi=pmi2` (see `srun --mpi=list`) or mpiexec"
    )


def configure_threads(local_ranks: int = 1) -> int:
    """Set numba's thread count for this process and return it.

    ``SLURM_CPUS_PER_TASK`` wins when set; otherwise, with several ranks on this node and no
    explicit ``NUMBA_NUM_THREADS``, the node's cores are divided among them so they do not
    oversubscribe. The count never exceeds numba's launch-time maximum.

    Parameters
    ----------
    local_ranks : int, optional
        Number of ranks sharing this node [count].

    Returns
    -------
    int
        numba threads now in use [count].
    """
    import numba

    cpus = os.environ.get("SLURM_CPUS_PER_TASK", "")
    if cpus.isdigit():
        wanted = int(cpus)
    elif local_ranks > 1 and "NUMBA_NUM_THREADS" not in os.environ:
        wanted = (os.cpu_count() or 1) // local_ranks
    else:
        return int(numba.get_num_threads())
    wanted = max(1, min(wanted, int(numba.config.NUMBA_NUM_THREADS)))
    numba.set_num_threads(wanted)
    return wanted


def _root_attrs(plan: RunPlan, shard: Shard | None) -> dict:
    attrs = {
        "mocklens_version": __version__,
        "config": plan.config_json,
        "config_sha256": plan.digest,
        "root_seed": int(plan.cfg.seed),
        "n_samples": int(plan.cfg.n_samples),
        "cosmology": cosmology_json(plan.cfg),
        "units": "angles arcsec, position angles rad, time delays days, distances Mpc, H0 km/s/Mpc",
        "parameter_convention": "lenstronomy kwargs_lens (EPL, SHEAR, ...)",
    }
    if shard is not None:
        attrs.update(
            sample_start=shard.start,
            sample_stop=shard.stop,
            shard_id=shard.id,
            n_shards=len(plan.shards),
        )
    return attrs


def compute_shard(plan: RunPlan, shard: Shard) -> dict:
    """Compute one shard and write it atomically; return its provenance record."""
    t0 = time.perf_counter()
    result = compute_range(plan.cfg, shard.start, shard.stop)
    t1 = time.perf_counter()
    provenance = {
        "host": platform.node(),
        "pid": os.getpid(),
        "attempts": int(result.attempts_total),
        "acceptance_rate": shard.size / max(result.attempts_total, 1),
        "timings_s": {**result.timings, "compute": t1 - t0},
        "numba_threads": _numba_threads(),
    }
    root = _root_attrs(plan, shard)
    table = build_table(
        plan.cfg,
        result.params,
        result.system,
        result.source,
        result.images,
        result.sample,
        {**root, "provenance": json.dumps(provenance)},
    )
    write_table(
        plan.layout.shard_path(shard),
        table,
        overwrite=True,
        compression_level=plan.cfg.output.compression_level,
    )
    provenance["timings_s"]["write"] = time.perf_counter() - t1
    return provenance


#: Samples computed to compile or load numba's kernels before the timed shard loop [count].
WARMUP_SAMPLES = 2


def warm_up(cfg: RunConfig) -> float:
    """Compile (or load from numba's cache) every kernel of a run; return the time [s].

    Done before the shard loop so that start-up cost is not booked as shard time.
    """
    t0 = time.perf_counter()
    compute_range(cfg, 0, min(WARMUP_SAMPLES, cfg.n_samples))
    return time.perf_counter() - t0


def _numba_threads() -> int:
    import numba

    return int(numba.get_num_threads())


def run_shards(
    plan: RunPlan,
    shards: Iterable[Shard],
    on_done: Callable[[Shard, dict], None] | None = None,
) -> list[dict]:
    """Compute and write ``shards`` in order, stopping cleanly between shards on a signal.

    Raises
    ------
    StopRequested
        After the shard in hand when SIGUSR1/SIGTERM arrived; finished shards are kept.
    """
    records = []
    for shard in shards:
        if stop_requested() is not None:
            raise StopRequested(
                f"stop signal {stop_requested()} received; {len(records)} shard(s) written "
                "by this process, rerun the same command to finish"
            )
        rec = compute_shard(plan, shard)
        rec["shard"] = shard.id
        rec["n"] = shard.size
        records.append(rec)
        if on_done is not None:
            on_done(shard, rec)
    return records


def rank_summary(rank: int, records: list[dict], wall: float) -> dict:
    """Provenance of one process's part of a run (stored in the final file).

    Parameters
    ----------
    rank : int
        MPI rank (0 without MPI).
    records : list of dict
        Records returned by :func:`run_shards`.
    wall : float
        Wall time of this process's shard loop [s].

    Returns
    -------
    dict
        Shards and lenses written, wall and busy time [s], per-stage time [s], and the
        driver's overhead per shard [s]: loop wall time not spent in ``compute_range`` or
        writing (stop checks, progress messages, bookkeeping).
    """
    stages: dict = {}
    for rec in records:
        for key, val in rec["timings_s"].items():
            stages[key] = stages.get(key, 0.0) + val
    busy = stages.get("compute", 0.0) + stages.get("write", 0.0)
    return {
        "rank": rank,
        "host": platform.node(),
        "shards": len(records),
        "lenses": sum(rec["n"] for rec in records),
        "wall_s": wall,
        "busy_s": busy,
        "stages_s": stages,
        "overhead_s_per_shard": (wall - busy) / len(records) if records else 0.0,
        "numba_threads": _numba_threads(),
    }


def aggregate_provenance(plan: RunPlan) -> dict:
    """Sum the per-shard provenance records stored in the shards."""
    timings: dict = {}
    attempts = 0
    for shard in plan.shards:
        rec = json.loads(read_root_attrs(plan.layout.shard_path(shard))["provenance"])
        attempts += rec["attempts"]
        for key, val in rec["timings_s"].items():
            timings[key] = timings.get(key, 0.0) + val
    return {
        "attempts": attempts,
        "acceptance_rate": plan.cfg.n_samples / max(attempts, 1),
        "cpu_timings_s": timings,
        "n_shards": len(plan.shards),
    }


def final_root_attrs(plan: RunPlan, extra: dict | None = None) -> dict:
    """Root attributes of a merged file or master: config, seed, summed shard provenance.

    Parameters
    ----------
    plan : RunPlan
        A run whose shards are all complete.
    extra : dict, optional
        Added to the provenance (wall time [s], ranks, throughput [lenses/s], per rank).
    """
    provenance = aggregate_provenance(plan)
    provenance.update(extra or {})
    return {**_root_attrs(plan, None), "provenance": json.dumps(provenance)}


def finalize(plan: RunPlan, extra: dict | None = None) -> Path:
    """Merge (file mode) or build the virtual master (directory mode) over complete shards."""
    paths = [plan.layout.shard_path(s) for s in plan.shards]
    root = final_root_attrs(plan, extra)
    final = plan.layout.final_path
    if plan.layout.single_file:
        merge_copy(paths, final, root_attrs=root, overwrite=True)
        shutil.rmtree(plan.layout.shard_dir)
    else:
        build_virtual(paths, final, root_attrs=root, overwrite=True)
    return final
