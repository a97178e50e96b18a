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
from mocklens.errors import ResourceError, StopRequested
from mocklens.io import build_virtual, merge_copy, read_root_attrs, write_table
from mocklens.pipeline.catalog import build_table, cosmology_json
from mocklens.pipeline.generate import compute_range
from mocklens.pipeline.shards import RunLayout, Shard, config_digest, plan_shards, prepare
from mocklens.pipeline.signals import stop_requested

#: Rough bytes per sample on disk (gzip of ~40 float64 + 11 x K float64 columns), for the
#: free-space check; measured ~0.55 kB for K = 5 and padded with a safety factor.
BYTES_PER_SAMPLE = 1500


@dataclass
class RunPlan:
    """Everything a process needs to compute and write its shards."""

    cfg: RunConfig
    layout: RunLayout
    shards: list[Shard]
    config_json: str
    digest: str
    states: dict = field(default_factory=dict)

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
    )


def check_resources(plan: RunPlan) -> None:
    """Refuse to start if the output directory is not writable or the disk too small."""
    parent = plan.layout.shard_dir
    probe_dir = parent if parent.exists() else parent.parent
    while not probe_dir.exists():
        probe_dir = probe_dir.parent
    if not os.access(probe_dir, os.W_OK):
        raise ResourceError(f"output directory {probe_dir} is not writable")
    need = BYTES_PER_SAMPLE * sum(s.size for s in plan.pending)
    if plan.layout.single_file:
        need *= 2  # shards plus the merged copy
    free = shutil.disk_usage(probe_dir).free
    if need > free:
        raise ResourceError(
            f"not enough disk at {probe_dir}: about {need / 1e9:.2f} GB needed, "
            f"{free / 1e9:.2f} GB free"
        )


def prepare_output(plan: RunPlan, overwrite: bool) -> None:
    """Check the output location, record which shards are done (mutates ``plan.states``)."""
    plan.states = prepare(plan.layout, plan.shards, plan.digest, overwrite)
    check_resources(plan)


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
    write_table(plan.layout.shard_path(shard), table, overwrite=True)
    provenance["timings_s"]["write"] = time.perf_counter() - t1
    return provenance


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
        records.append(rec)
        if on_done is not None:
            on_done(shard, rec)
    return records


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


def finalize(plan: RunPlan, extra: dict | None = None) -> Path:
    """Merge (file mode) or build the virtual master (directory mode) over complete shards."""
    paths = [plan.layout.shard_path(s) for s in plan.shards]
    provenance = aggregate_provenance(plan)
    provenance.update(extra or {})
    root = {**_root_attrs(plan, None), "provenance": json.dumps(provenance)}
    final = plan.layout.final_path
    if plan.layout.single_file:
        merge_copy(paths, final, root_attrs=root, overwrite=True)
        shutil.rmtree(plan.layout.shard_dir)
    else:
        build_virtual(paths, final, root_attrs=root, overwrite=True)
    return final
