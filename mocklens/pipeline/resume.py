"""Resume: decide the fate of every shard of a run before touching anything, then act.

A rerun must never trust a file because of its name, and never delete what it did not
write. :func:`survey` reads (and by default fully verifies, fletcher32 and gzip of every
chunk) each shard a process owns and classifies it (:class:`ShardFate`); :func:`prepare`
refuses the run, changing nothing, when any shard-named file is not this run's, and only
then moves shards that fail verification aside into ``shards/corrupt/`` (they are
recomputed) and removes temporaries of dead writers.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from mocklens.constants import FORMAT_NAME, FORMAT_VERSION
from mocklens.errors import DatasetError, OutputExistsError, StopRequested
from mocklens.io import check_complete, read_root_attrs, remove_stale_temporaries
from mocklens.io.layout import (
    FORMAT_ATTR,
    FORMAT_VERSION_ATTR,
    SAMPLE_START_ATTR,
    SAMPLE_STOP_ATTR,
)
from mocklens.pipeline.identity import run_identity
from mocklens.pipeline.shards import RunLayout, Shard
from mocklens.pipeline.signals import signal_name, stop_requested

#: First bytes of every HDF5 file (the superblock signature at offset 0).
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
#: Subdirectory of the shard directory where shards that fail verification are moved.
QUARANTINE_NAME = "corrupt"


@dataclass(frozen=True)
class ShardFate:
    """What a run will do with one shard file, decided before anything is touched.

    ``state`` is ``"done"`` (complete, verified, this run; skipped), ``"missing"``
    (computed), ``"stale"`` (this run's identity but an older, shorter range: a run that
    grew; recomputed and replaced), ``"corrupt"`` (an HDF5 file under a shard name that fails
    verification: moved aside into ``shards/corrupt/`` and recomputed) or ``"foreign"``
    (not a shard of this run: the run is refused and nothing is touched). ``reason`` says why.
    """

    state: str
    reason: str = ""


def _looks_like_hdf5(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(len(HDF5_SIGNATURE)) == HDF5_SIGNATURE
    except OSError:
        return False


def shard_fate(
    layout: RunLayout, shard: Shard, identity: str, verify_data: bool = True
) -> ShardFate:
    """Classify one shard file without changing anything on disk.

    Parameters
    ----------
    layout : RunLayout
        Output layout.
    shard : Shard
        The shard expected at ``layout.shard_path(shard)``.
    identity : str
        :func:`~mocklens.pipeline.identity.run_identity` of this run.
    verify_data : bool, optional
        Read the whole file so that flipped bytes (fletcher32, gzip) are found; without it
        only the marker, format and attributes are checked.

    Returns
    -------
    ShardFate
        See :class:`ShardFate`.
    """
    path = layout.shard_path(shard)
    if not path.exists():
        return ShardFate("missing")
    if not path.is_file() or not _looks_like_hdf5(path):
        return ShardFate("foreign", "not an HDF5 file")
    try:
        attrs = read_root_attrs(path)
    except DatasetError:
        return ShardFate("corrupt", "unreadable HDF5 (truncated or damaged)")
    if attrs.get(FORMAT_ATTR) != FORMAT_NAME:
        return ShardFate("foreign", "an HDF5 file that mocklens did not write")
    version = attrs.get(FORMAT_VERSION_ATTR)
    if not isinstance(version, int) or version > FORMAT_VERSION:
        return ShardFate("foreign", f"format version {version}, newer than {FORMAT_VERSION}")
    try:
        own = run_identity(str(attrs["config"])) == identity
    except (KeyError, ValueError):
        return ShardFate("foreign", "a mocklens file without a readable run config")
    if not own:
        return ShardFate("foreign", "made by a different config")
    try:
        attrs = check_complete(path, verify_data=verify_data)
    except DatasetError as exc:
        return ShardFate("corrupt", str(exc).removeprefix(f"{path}: "))
    rows = (int(attrs.get(SAMPLE_START_ATTR, -1)), int(attrs.get(SAMPLE_STOP_ATTR, -1)))
    if rows == (shard.start, shard.stop):
        return ShardFate("done")
    if rows[0] == shard.start and rows[1] < shard.stop:
        return ShardFate("stale", f"holds samples {rows[0]}-{rows[1] - 1} of a smaller run")
    return ShardFate("foreign", f"holds samples {rows[0]}-{rows[1] - 1}, not this shard's")


def shard_state(layout: RunLayout, shard: Shard, identity: str, verify_data: bool = False) -> str:
    """State of one shard on disk (the ``state`` of :func:`shard_fate`)."""
    return shard_fate(layout, shard, identity, verify_data=verify_data).state


@dataclass
class Survey:
    """The fate of every shard a process owns, and the notes to print before work starts."""

    fates: dict  # shard id -> ShardFate
    foreign_files: list  # (path, reason) of shard-named files this run must not touch
    notes: list

    @property
    def states(self) -> dict:
        """Shard id -> state string."""
        return {sid: fate.state for sid, fate in self.fates.items()}


def survey(
    layout: RunLayout, shards: list[Shard], identity: str, only: list[Shard] | None = None
) -> Survey:
    """Decide the fate of every owned shard, reading but never changing the disk.

    Parameters
    ----------
    layout : RunLayout
        Output layout.
    shards : list of Shard
        All shards of the run.
    identity : str
        This run's identity.
    only : list of Shard, optional
        The shards this process owns (an array task's share); only they are read, and
        shard-named files outside the run are looked for only when ``only`` is None.

    Returns
    -------
    Survey
        Fates, foreign files, and notes (what will be moved aside or recomputed).
    """
    owned = shards if only is None else only
    fates = {}
    for shard in owned:
        # A full read of every shard takes a while on a big run: a stop here changes nothing.
        if stop_requested() is not None:
            raise StopRequested(
                f"stopped by {signal_name(stop_requested())} while verifying shards; nothing "
                "was changed, rerun the same command to finish"
            )
        fates[shard.id] = shard_fate(layout, shard, identity)
    foreign = [
        (layout.shard_path(s), fates[s.id].reason) for s in owned if fates[s.id].state == "foreign"
    ]
    if only is None and layout.shard_dir.is_dir():
        expected = {layout.shard_path(s) for s in shards}
        foreign += [
            (p, "outside this run's shards")
            for p in sorted(layout.shard_dir.glob("shard-*.h5"))
            if p not in expected
        ]
    notes = [
        f"{layout.shard_path(s).name} {fates[s.id].reason}: recomputing it"
        for s in owned
        if fates[s.id].state == "stale"
    ]
    return Survey(fates, foreign, notes)


def refuse_foreign(layout: RunLayout, found: Survey) -> None:
    """Raise before any work if shard-named files that are not this run's are present.

    Raises
    ------
    OutputExistsError
        Naming the first foreign file, why it is foreign and how many there are.
    """
    if not found.foreign_files:
        return
    path, reason = found.foreign_files[0]
    more = len(found.foreign_files) - 1
    raise OutputExistsError(
        f"{path} is not a shard of this run ({reason})"
        + (f", nor are {more} other file(s)" if more else "")
        + f"; nothing was changed: move it out of {layout.shard_dir}, or choose another --out "
        "(--overwrite deletes the whole run)"
    )


def quarantine(layout: RunLayout, shard: Shard) -> Path:
    """Move a shard that failed verification into ``shards/corrupt/`` (never delete it).

    Returns
    -------
    pathlib.Path
        Where the file now is (``corrupt/<name>.<UTC time>``).
    """
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target_dir = layout.shard_dir / QUARANTINE_NAME
    target_dir.mkdir(exist_ok=True)
    source = layout.shard_path(shard)
    target = target_dir / f"{source.name}.{stamp}"
    n = 1
    while target.exists():
        target, n = target_dir / f"{source.name}.{stamp}-{n}", n + 1
    os.replace(source, target)
    return target


def discard_run(layout: RunLayout) -> list[str]:
    """Delete a run's final product and shard directory (``--overwrite``); return notes."""
    notes = []
    final = layout.final_path
    if final.exists():
        final.unlink()
        notes.append(f"--overwrite: deleted {final}")
    if layout.shard_dir.exists():
        n = sum(1 for _ in layout.shard_dir.rglob("*") if _.is_file())
        shutil.rmtree(layout.shard_dir)
        notes.append(f"--overwrite: deleted {layout.shard_dir} ({n} files)")
    return notes


def check_output_kind(layout: RunLayout) -> None:
    """Refuse an ``--out`` whose existing entries are of the wrong kind.

    Raises
    ------
    OutputExistsError
        A directory run's ``--out`` (or a file run's parts directory) is an existing
        non-directory, or a file run's ``--out`` is an existing directory (which
        ``--overwrite`` will not delete either).
    """
    if layout.single_file and layout.out.is_dir():
        raise OutputExistsError(
            f"--out {layout.out} is an existing directory, not a file; mocklens will not "
            "replace a directory (choose another name)"
        )
    for path in (layout.out if not layout.single_file else None, layout.shard_dir):
        if path is not None and path.exists() and not path.is_dir():
            raise OutputExistsError(
                f"--out: {path} exists and is not a directory (a run directory is meant; "
                "give a name ending in .h5 for a single file)"
            )


def prepare(
    layout: RunLayout,
    shards: list[Shard],
    identity: str,
    overwrite: bool,
    only: list[Shard] | None = None,
    before_changes=None,
) -> Survey:
    """Check the output location, decide every shard's fate, then (only then) act.

    Parameters
    ----------
    layout : RunLayout
        Output layout.
    shards : list of Shard
        The run's shards.
    identity : str
        This run's identity (:func:`~mocklens.pipeline.identity.run_identity`).
    overwrite : bool
        Discard existing output of any kind.
    only : list of Shard, optional
        The shards this process owns (a SLURM array task's share). Only they are read and
        acted on, so array tasks that start at the same time never touch each other's
        files; ``overwrite`` is refused with ``only``.
    before_changes : callable, optional
        Called with the :class:`Survey` after every check and before the first change on
        disk (the caller's last chance to refuse, e.g. for disk space).

    Returns
    -------
    Survey
        Fates of the owned shards; corrupt ones have been moved aside (see ``notes``).

    Raises
    ------
    OutputExistsError
        If the final file of a file-mode run exists, or shard-named files of another run,
        another format or no HDF5 at all are present, and ``overwrite`` is false. Nothing on
        disk has been changed then.
    """
    check_output_kind(layout)
    final = layout.final_path
    if only is not None and overwrite:
        raise OutputExistsError(
            "--overwrite cannot be combined with --task-id (array tasks run concurrently); "
            "delete the run directory once before submitting"
        )
    if overwrite:
        found = Survey({s.id: ShardFate("missing") for s in shards}, [], [])
    else:
        if layout.single_file and final.exists():
            raise OutputExistsError(f"{final} exists; pass --overwrite to replace it")
        found = survey(layout, shards, identity, only=only)
        refuse_foreign(layout, found)
    if before_changes is not None:
        before_changes(found)
    if overwrite:
        found.notes.extend(discard_run(layout))
    layout.shard_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(layout.shard_dir)
    for shard in shards if only is None else only:
        fate = found.fates[shard.id]
        if fate.state == "corrupt":
            moved = quarantine(layout, shard)
            found.notes.append(
                f"{layout.shard_path(shard).name} failed verification ({fate.reason}); "
                f"moved to {moved} and recomputing it"
            )
    return found


def summarize_states(
    layout: RunLayout, shards: list[Shard], identity: str, verify_data: bool = True
) -> dict:
    """Group shards by state for ``mocklens status``.

    Parameters
    ----------
    layout : RunLayout
        Output layout.
    shards : list of Shard
        Expected shards.
    identity : str
        This run's identity.
    verify_data : bool, optional
        Read every shard's data to verify its checksums (slow but thorough).

    Returns
    -------
    dict
        ``{"done": [...], "missing": [...], "corrupt": [...], "foreign": [...]}`` of shard ids;
        a stale shard (from before the run grew) counts as missing: it will be recomputed.
    """
    out: dict = {"done": [], "missing": [], "corrupt": [], "foreign": []}
    for shard in shards:
        state = shard_state(layout, shard, identity, verify_data=verify_data)
        out["missing" if state == "stale" else state].append(shard.id)
    return out
