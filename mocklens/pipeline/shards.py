"""Fixed shards of the sample range, where they live on disk, and their state.

Shard boundaries come from ``output.shard_size`` only, never from the rank count, so a run's
rows are the same whatever the number of ranks or array tasks, in any order, with restarts.
Two output forms share one layout of shards:

- ``--out lenses.h5`` (a file name): shards go to ``lenses.h5.parts/`` and are merged into one
  real file at the end; the parts directory is removed after a successful merge;
- ``--out run/`` (anything else): shards go to ``run/shards/`` and ``run/dataset.h5`` is a
  master file of HDF5 virtual datasets over them (``mocklens merge`` makes a real copy).
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

from mocklens.errors import DatasetError, OutputExistsError
from mocklens.io import check_complete, read_root_attrs, remove_stale_temporaries

#: File suffixes that make ``--out`` a single merged file.
FILE_SUFFIXES = (".h5", ".hdf5", ".hdf")
#: Name of the master file in directory mode.
MASTER_NAME = "dataset.h5"
#: Name of the resolved config stored with a run (read by status, finalize and merge).
CONFIG_NAME = "config.json"


@dataclass(frozen=True)
class Shard:
    """One fixed slice ``[start, stop)`` of the global sample indices."""

    id: int
    start: int
    stop: int

    @property
    def size(self) -> int:
        """Number of samples in the shard."""
        return self.stop - self.start


def plan_shards(n_samples: int, shard_size: int) -> list[Shard]:
    """Cut ``[0, n_samples)`` into consecutive shards of ``shard_size`` (the last may be short).

    Parameters
    ----------
    n_samples : int
        Total number of samples.
    shard_size : int
        Samples per shard.

    Returns
    -------
    list of Shard
        Shards in sample order; together they cover ``[0, n_samples)`` exactly once.
    """
    return [
        Shard(i, start, min(start + shard_size, n_samples))
        for i, start in enumerate(range(0, n_samples, shard_size))
    ]


def config_digest(config_json: str) -> str:
    """SHA-256 of the canonical config JSON (identifies shards of the same run)."""
    return hashlib.sha256(config_json.encode()).hexdigest()


@dataclass(frozen=True)
class RunLayout:
    """Where a run's shards and final product live."""

    out: Path
    single_file: bool
    shard_dir: Path

    @classmethod
    def for_output(cls, out: str | Path) -> RunLayout:
        """Derive the layout from the ``--out`` argument."""
        out = Path(out)
        if out.suffix.lower() in FILE_SUFFIXES:
            return cls(out, True, out.with_name(out.name + ".parts"))
        return cls(out, False, out / "shards")

    @property
    def final_path(self) -> Path:
        """The merged file (file mode) or the virtual master (directory mode)."""
        return self.out if self.single_file else self.out / MASTER_NAME

    @property
    def config_path(self) -> Path:
        """The run's resolved config JSON (``run/config.json`` or inside ``FILE.h5.parts/``)."""
        return self.shard_dir / CONFIG_NAME if self.single_file else self.out / CONFIG_NAME

    def shard_path(self, shard: Shard) -> Path:
        """Path of one shard's file."""
        return self.shard_dir / f"shard-{shard.id:06d}.h5"


def shard_state(layout: RunLayout, shard: Shard, digest: str, verify_data: bool = False) -> str:
    """State of one shard on disk.

    Returns
    -------
    str
        ``"done"`` (complete, same config and range), ``"missing"``, ``"corrupt"``
        (truncated, unreadable or unmarked) or ``"foreign"`` (made by another config).
    """
    path = layout.shard_path(shard)
    if not path.exists():
        return "missing"
    try:
        attrs = check_complete(path, verify_data=verify_data)
    except DatasetError:
        return "corrupt"
    if attrs.get("config_sha256") != digest:
        return "foreign"
    if (int(attrs.get("sample_start", -1)), int(attrs.get("sample_stop", -1))) != (
        shard.start,
        shard.stop,
    ):
        return "foreign"
    return "done"


def prepare(
    layout: RunLayout,
    shards: list[Shard],
    digest: str,
    overwrite: bool,
    only: list[Shard] | None = None,
) -> dict:
    """Check the output location before any work, and report what is already done.

    Parameters
    ----------
    layout : RunLayout
        Output layout.
    shards : list of Shard
        The run's shards.
    digest : str
        Config digest of this run.
    overwrite : bool
        Discard existing output of any kind.
    only : list of Shard, optional
        The shards this process owns (a SLURM array task's share). Only their states are
        read and only they are deleted when corrupt, so array tasks that start at the same
        time never touch each other's files; ``overwrite`` is refused with ``only``.

    Returns
    -------
    dict of int -> str
        State of every owned shard (see :func:`shard_state`); corrupt shards are deleted so
        they are redone.

    Raises
    ------
    OutputExistsError
        If the final product exists, or shards of another config are present, and
        ``overwrite`` is false.
    """
    final = layout.final_path
    if only is not None and overwrite:
        raise OutputExistsError(
            "--overwrite cannot be combined with --task-id (array tasks run concurrently); "
            "delete the run directory once before submitting"
        )
    if overwrite:
        if layout.single_file and final.exists():
            final.unlink()
        if layout.shard_dir.exists():
            shutil.rmtree(layout.shard_dir)
        if not layout.single_file and final.exists():
            final.unlink()
    elif layout.single_file and final.exists():
        raise OutputExistsError(f"{final} exists; pass --overwrite to replace it")
    layout.shard_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(layout.shard_dir)
    states = {}
    for shard in shards if only is None else only:
        state = shard_state(layout, shard, digest)
        if state == "foreign":
            raise OutputExistsError(
                f"{layout.shard_path(shard)} was made by a different config or range; "
                "pass --overwrite or choose another --out"
            )
        if state == "corrupt":
            layout.shard_path(shard).unlink(missing_ok=True)
        states[shard.id] = state
    extra = sorted(
        p.name
        for p in layout.shard_dir.glob("shard-*.h5")
        if p not in {layout.shard_path(s) for s in shards}
    )
    if extra:
        raise OutputExistsError(
            f"{layout.shard_dir} holds shards outside this run ({extra[0]}, ...); "
            "pass --overwrite or choose another --out"
        )
    return states


def summarize_states(
    layout: RunLayout, shards: list[Shard], digest: str, verify_data: bool = True
) -> dict:
    """Group shards by state for ``mocklens status``.

    Parameters
    ----------
    layout : RunLayout
        Output layout.
    shards : list of Shard
        Expected shards.
    digest : str
        Expected config digest.
    verify_data : bool, optional
        Read every shard's data to verify its checksums (slow but thorough).

    Returns
    -------
    dict
        ``{"done": [...], "missing": [...], "corrupt": [...], "foreign": [...]}`` of shard ids.
    """
    out: dict = {"done": [], "missing": [], "corrupt": [], "foreign": []}
    for shard in shards:
        out[shard_state(layout, shard, digest, verify_data=verify_data)].append(shard.id)
    return out


def read_run_config(layout: RunLayout) -> str | None:
    """Return the config JSON stored in any complete shard of the run, or None."""
    for path in sorted(layout.shard_dir.glob("shard-*.h5")):
        try:
            return str(read_root_attrs(path)["config"])
        except (DatasetError, KeyError, OSError):
            continue
    return None
