"""Operations on an existing run directory: status, finalize, merge.

A run is found from its directory (or its master ``dataset.h5``): the resolved config is read
from ``config.json`` (written by ``generate`` and ``jobs slurm``), or else from any complete
shard, and the shard plan is rebuilt from it, so these commands need no ``--config``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from mocklens.config import config_from_dict
from mocklens.errors import DatasetError
from mocklens.io import merge_copy
from mocklens.pipeline.resume import shard_fate, summarize_states
from mocklens.pipeline.run import RunPlan, final_root_attrs, finalize, make_plan, require_writable
from mocklens.pipeline.shards import MASTER_NAME, RunLayout, read_run_config


def run_location(path: str | os.PathLike) -> Path:
    """Directory (or ``FILE.h5``) a run was generated into, given it or its master file."""
    path = Path(path)
    if path.name == MASTER_NAME and (path.parent / "shards").is_dir():
        return path.parent
    return path


def load_run(path: str | os.PathLike) -> RunPlan:
    """Rebuild the plan of the run at ``path`` from its stored config.

    Parameters
    ----------
    path : str or os.PathLike
        Run directory (``--out`` of generate), its ``dataset.h5``, or ``FILE.h5`` of a
        single-file run still in progress.

    Returns
    -------
    RunPlan
        The run's plan (``states`` empty).

    Raises
    ------
    DatasetError
        If neither ``config.json`` nor any readable shard holds the config.
    """
    out = run_location(path)
    layout = RunLayout.for_output(out)
    text = layout.config_path.read_text() if layout.config_path.is_file() else None
    if text is None:
        text = read_run_config(layout)
    if text is None:
        raise DatasetError(f"{out}: not a mocklens run (no {layout.config_path.name}, no shards)")
    return make_plan(config_from_dict(json.loads(text)), out)


def format_ids(ids: list[int]) -> str:
    """Compact shard-id list, e.g. ``[0, 1, 2, 5]`` -> ``"0-2, 5"``."""
    parts, i = [], 0
    while i < len(ids):
        j = i
        while j + 1 < len(ids) and ids[j + 1] == ids[j] + 1:
            j += 1
        parts.append(str(ids[i]) if i == j else f"{ids[i]}-{ids[j]}")
        i = j + 1
    return ", ".join(parts)


def run_status(plan: RunPlan, verify: bool = True) -> dict:
    """State of every shard of a run.

    Parameters
    ----------
    plan : RunPlan
        The run (see :func:`load_run`).
    verify : bool, optional
        Read every shard's data (finds corrupt chunks; one full read of the run).

    Returns
    -------
    dict
        ``done``/``missing``/``corrupt``/``foreign``: lists of shard ids; ``n_shards``;
        ``in_progress``: temporaries being written; ``final``: path of the final product if
        it exists; ``complete``: every shard done.
    """
    layout = plan.layout
    states = summarize_states(layout, plan.shards, plan.identity, verify_data=verify)
    final = layout.final_path
    if layout.single_file and final.exists() and not layout.shard_dir.exists():
        states["done"] = [s.id for s in plan.shards]
        states["missing"] = []
    temporaries = sorted(p.name for p in layout.shard_dir.glob(".*.tmp-*"))
    return {
        **states,
        "n_shards": len(plan.shards),
        "n_samples": plan.cfg.n_samples,
        "in_progress": temporaries,
        "final": str(final) if final.exists() else None,
        "complete": len(states["done"]) == len(plan.shards),
    }


def _require_complete(plan: RunPlan) -> None:
    # Every shard is read in full: a master or merged file over a shard with flipped bytes
    # would look finished and fail only when a training job reads that chunk.
    fates = {s.id: shard_fate(plan.layout, s, plan.identity) for s in plan.shards}
    bad = [sid for sid, fate in fates.items() if fate.state != "done"]
    if bad:
        first = fates[bad[0]]
        why = f"shard {bad[0]} is {first.state}" + (f": {first.reason}" if first.reason else "")
        raise DatasetError(
            f"{plan.layout.out}: {len(bad)} of {len(plan.shards)} shards not done "
            f"({format_ids(bad)[:200]}; {why}); rerun the generate command or resubmit the array"
        )


def finalize_run(plan: RunPlan) -> Path:
    """Build the virtual master (directory runs) or the merged file once all shards exist.

    Raises
    ------
    DatasetError
        If a shard is missing, corrupt or foreign (nothing is written).
    """
    require_writable(plan.layout.final_path.parent, "cannot write the master file: directory")
    _require_complete(plan)
    return finalize(plan, {"finalized_by": "mocklens finalize"})


def merge_run(plan: RunPlan, dest: str | os.PathLike, overwrite: bool = False) -> Path:
    """Copy every row of a complete run into one self-contained file ``dest``.

    Raises
    ------
    DatasetError
        If a shard is missing, corrupt or foreign.
    OutputExistsError
        If ``dest`` exists and ``overwrite`` is false.
    """
    require_writable(Path(dest).parent, f"cannot write {dest}: directory")
    _require_complete(plan)
    paths = [plan.layout.shard_path(s) for s in plan.shards]
    root = final_root_attrs(plan, {"merged_by": "mocklens merge"})
    return merge_copy(paths, dest, root_attrs=root, overwrite=overwrite)
