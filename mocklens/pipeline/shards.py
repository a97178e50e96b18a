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
from dataclasses import dataclass
from pathlib import Path

from mocklens.errors import DatasetError
from mocklens.io import read_root_attrs

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


def read_run_config(layout: RunLayout) -> str | None:
    """Return the config JSON stored in any readable shard of the run, or None."""
    for path in sorted(layout.shard_dir.glob("shard-*.h5")):
        try:
            return str(read_root_attrs(path)["config"])
        except (DatasetError, KeyError, OSError):
            continue
    return None
