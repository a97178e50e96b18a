"""Joining per-rank shard files into one dataset.

Each rank writes its own shard (``write_table``) covering a contiguous sample range; no
parallel HDF5 is needed. Two ways to join them:

* :func:`merge_copy` copies every shard's encoded chunks, as stored (deflated, with their
  fletcher32 checksums), into one self-contained file: no decompression, no recompression,
  memory bounded by one chunk. Shards of ``n`` rows whose chunks divide ``n`` (the layout's
  choice, :func:`~mocklens.io.layout.chunk_rows`) keep their chunk boundaries when
  concatenated; a shard that does not line up (a short last shard, an older layout) is
  decoded and re-encoded, and only it. Each copied chunk's checksum is verified on the way.
* :func:`build_virtual` writes a small master file of HDF5 virtual datasets that map the
  shards in place (no copy). Source names are stored relative to the master's directory, so
  the run directory can be moved or copied as a whole.

Both refuse shards that are incomplete, disagree in columns, dtypes or trailing shapes, or
whose sample ranges are not contiguous, and both write atomically like ``write_table``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from mocklens.errors import DatasetError
from mocklens.io.atomic import LIBVER, atomic_file, remove_stale_temporaries_of
from mocklens.io.chunks import fletcher32
from mocklens.io.layout import SAMPLE_START_ATTR, SAMPLE_STOP_ATTR, SEP, virtual_fill_value
from mocklens.io.reader import attrs_dict, check_marker_and_format, open_file
from mocklens.io.writer import (
    create_column,
    deflate_level,
    root_attrs_with_format,
    set_attrs,
    write_chunks,
)

#: Uncompressed bytes re-encoded per block for shards whose chunks do not line up [bytes];
#: bounds memory use.
COPY_BLOCK_BYTES = 64 * 1024 * 1024

#: Disk reserved for a merged file beyond the shards' total size [bytes]: its metadata and
#: root attributes (the merged file holds one set of datasets, each shard held its own).
MERGE_RESERVE_SLACK = 4 * 1024 * 1024

#: ``progress(done, total)``: called after each shard is handled [count, count].
Progress = Callable[[int, int], None]

#: Library version bounds of a virtual master. Virtual datasets need the 1.10 layout message,
#: so the upper bound cannot be lower than 'v110'; capping it there (never 'latest') keeps the
#: master readable by HDF5 1.10 tools, which could not open a master written with 'latest'.
#: The lower bound 'earliest' keeps every other object in the oldest format.
VIRTUAL_LIBVER = ("earliest", "v110")


@dataclass(frozen=True)
class _Shard:
    path: Path
    n_rows: int
    sample_start: int
    sample_stop: int
    columns: dict  # "group/name" -> (dtype, trailing shape)
    storage: dict  # "group/name" -> (chunk shape, filters) as stored


def _scan(path: Path) -> _Shard:
    columns, storage, lengths = {}, {}, set()
    with open_file(path) as handle:
        # check_complete's checks, on the one open handle (opening costs ~10 ms a shard).
        attrs = check_marker_and_format(handle, path)
        start, stop = attrs.get(SAMPLE_START_ATTR), attrs.get(SAMPLE_STOP_ATTR)
        if not isinstance(start, int) or not isinstance(stop, int):
            raise DatasetError(
                f"{path}: missing integer {SAMPLE_START_ATTR}/{SAMPLE_STOP_ATTR}"
            )
        for group_name, group in handle.items():
            if not isinstance(group, h5py.Group):
                continue
            for name, dataset in group.items():
                if isinstance(dataset, h5py.Dataset):
                    if dataset.is_virtual:
                        raise DatasetError(f"{path}: /{group_name}/{name} is virtual, not a shard")
                    key = f"{group_name}{SEP}{name}"
                    columns[key] = (dataset.dtype, dataset.shape[1:])
                    storage[key] = (dataset.chunks, _filters_of(dataset))
                    lengths.add(dataset.shape[0])
    if len(lengths) > 1:
        raise DatasetError(f"{path}: columns have different numbers of rows")
    n_rows = lengths.pop() if lengths else stop - start
    if n_rows != stop - start:
        raise DatasetError(f"{path}: {n_rows} rows but sample range [{start}, {stop})")
    return _Shard(path, n_rows, start, stop, columns, storage)


def _filters_of(dataset: h5py.Dataset) -> tuple:
    return (dataset.compression, deflate_level(dataset), dataset.shuffle, dataset.fletcher32)


def _scan_all(
    shard_paths: Sequence[str | os.PathLike], out_path: Path, progress: Progress | None = None
) -> list[_Shard]:
    if not shard_paths:
        raise DatasetError(f"{out_path}: no shards given")
    shards = []
    for i, raw in enumerate(shard_paths):
        path = Path(raw)
        if path.resolve() == out_path.resolve():
            raise DatasetError(f"{out_path}: output is also one of the shards")
        shard = _scan(path)
        if shards:
            first, previous = shards[0], shards[-1]
            _compare_columns(first, shard)
            if shard.sample_start != previous.sample_stop:
                raise DatasetError(
                    f"{path}: starts at sample {shard.sample_start} but {previous.path} stops "
                    f"at {previous.sample_stop}; shards must be contiguous and in sample order"
                )
        shards.append(shard)
        if progress is not None:
            progress(i + 1, len(shard_paths))
    return shards


def _compare_columns(first: _Shard, shard: _Shard) -> None:
    missing = sorted(set(first.columns) - set(shard.columns))
    extra = sorted(set(shard.columns) - set(first.columns))
    if missing or extra:
        raise DatasetError(
            f"{shard.path}: columns differ from {first.path} (missing {missing}, extra {extra})"
        )
    for key, (dtype, trailing) in first.columns.items():
        other_dtype, other_trailing = shard.columns[key]
        if other_dtype != dtype or other_trailing != trailing:
            raise DatasetError(
                f"{shard.path}: column {key} is {other_dtype} {other_trailing}, "
                f"{first.path} has {dtype} {trailing}"
            )


def _merged_root_attrs(root_attrs: dict, shards: list[_Shard]) -> dict:
    merged = dict(root_attrs)
    merged[SAMPLE_START_ATTR] = shards[0].sample_start
    merged[SAMPLE_STOP_ATTR] = shards[-1].sample_stop
    return root_attrs_with_format(merged)


def _copy_structure_attrs(first: Path, out: h5py.File) -> dict:
    """Create the groups of ``first`` in ``out`` with their attributes; return column attrs."""
    column_attrs = {}
    with open_file(first) as handle:
        for group_name, group in handle.items():
            if not isinstance(group, h5py.Group):
                continue
            set_attrs(out.require_group(group_name), attrs_dict(group))
            for name, dataset in group.items():
                if isinstance(dataset, h5py.Dataset):
                    column_attrs[f"{group_name}{SEP}{name}"] = attrs_dict(dataset)
    return column_attrs


def _copy_chunks(source: h5py.Dataset, target: h5py.Dataset, offset: int, where: str) -> None:
    """Copy every stored chunk of ``source`` to ``target`` shifted by ``offset`` rows."""
    zeros = (0,) * (source.ndim - 1)
    checked = source.fletcher32
    sid, tid = source.id, target.id
    for index in range(sid.get_num_chunks()):
        info = sid.get_chunk_info(index)
        mask, data = sid.read_direct_chunk(info.chunk_offset)
        if checked and int.from_bytes(data[-4:], "little") != fletcher32(data[:-4]):
            raise DatasetError(
                f"{where}: chunk at row {info.chunk_offset[0]} is corrupt "
                "(fletcher32 checksum mismatch)"
            )
        tid.write_direct_chunk((offset + info.chunk_offset[0], *zeros), data, mask)


def _reencode(source: h5py.Dataset, target: h5py.Dataset, offset: int, last: bool) -> None:
    """Copy rows by decoding them; encode whole chunks ourselves where the rows allow it."""
    n_rows = source.shape[0]
    rows = target.chunks[0]
    row_nbytes = max(source.dtype.itemsize * int(np.prod(source.shape[1:])), 1)
    step = max(rows, COPY_BLOCK_BYTES // row_nbytes // rows * rows)
    fast = offset % rows == 0 and (last or n_rows % rows == 0)
    level = deflate_level(target)
    for start in range(0, n_rows, step):
        block = source[start : start + step]
        if fast:
            write_chunks(target, block, offset + start, level=level)
        else:
            # Chunks shared with a neighbouring shard: HDF5 reads, merges and re-encodes them.
            target[offset + start : offset + start + block.shape[0]] = block


def merge_copy(
    shard_paths: Sequence[str | os.PathLike],
    out_path: str | os.PathLike,
    *,
    root_attrs: dict,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> Path:
    """Concatenate the rows of shards into one self-contained file, atomically.

    Parameters
    ----------
    shard_paths : sequence of str or os.PathLike
        Complete shard files in sample order; their ``[sample_start, sample_stop)`` ranges
        must be contiguous.
    out_path : str or os.PathLike
        Merged file to write. Temporaries of earlier, killed merges into the same name are
        removed first (:func:`~mocklens.io.atomic.remove_stale_temporaries_of`).
    root_attrs : dict
        Root attributes of the merged file. ``sample_start``/``sample_stop`` are set from the
        first and last shard; ``format``/``format_version`` by the writer.
    overwrite : bool, optional
        Replace an existing ``out_path``.
    progress : callable, optional
        ``progress(done, total)`` after each shard is copied, e.g. to print "merging shard
        ``done`` of ``total``" [count, count].

    Returns
    -------
    pathlib.Path
        ``out_path``, a complete file of ``sum(shard rows)`` rows per column, with the first
        shard's chunk shapes and filters.

    Raises
    ------
    DatasetError
        If a shard is missing or incomplete, its columns, dtypes or trailing shapes differ
        from the first shard's, the sample ranges are not contiguous, or a chunk fails its
        checksum; the message names the shard.
    OutputExistsError
        If ``out_path`` exists and ``overwrite`` is false.
    ResourceError
        If the disk fills up (the message gives the free space; no partial file is left).

    Notes
    -----
    The disk space of the whole result (the shards' total size plus
    ``MERGE_RESERVE_SLACK``) is reserved before anything is written, so a disk that fills
    meanwhile fails the reservation cleanly instead of failing HDF5 mid-flush.
    """
    out_path = Path(out_path)
    shards = _scan_all(shard_paths, out_path)
    total = sum(s.n_rows for s in shards)
    attrs = _merged_root_attrs(root_attrs, shards)
    remove_stale_temporaries_of(out_path)
    reserve = sum(s.path.stat().st_size for s in shards) + MERGE_RESERVE_SLACK
    first = shards[0]
    with atomic_file(out_path, overwrite=overwrite, libver=LIBVER, reserve_bytes=reserve) as out:
        column_attrs = _copy_structure_attrs(first.path, out)
        for key, (dtype, trailing) in first.columns.items():
            chunks, filters = first.storage[key]
            rows = chunks[0] if chunks else max(first.n_rows, 1)
            dataset = create_column(
                out, key, dtype, (total, *trailing), compression_level=filters[1],
                chunks=(max(1, min(rows, total)), *trailing),
            )  # fmt: skip
            set_attrs(dataset, column_attrs[key])
        targets = {key: out[key] for key in first.columns}
        layouts = {key: (t.chunks, _filters_of(t)) for key, t in targets.items()}
        offset = 0
        for i, shard in enumerate(shards):
            last = i == len(shards) - 1
            with open_file(shard.path) as source:
                for key, target in targets.items():
                    if not shard.n_rows:
                        continue
                    if _aligned(shard.storage[key], layouts[key], offset, last, shard.n_rows):
                        _copy_chunks(source[key], target, offset, f"{shard.path} /{key}")
                    else:
                        _reencode(source[key], target, offset, last)
            offset += shard.n_rows
            if progress is not None:
                progress(i + 1, len(shards))
        set_attrs(out, attrs)
    return out_path


def _aligned(storage: tuple, out_storage: tuple, offset: int, last: bool, n_rows: int) -> bool:
    """Whether a shard's stored chunks can be copied as they are to row ``offset``."""
    chunks, _ = storage
    rows = out_storage[0][0]
    return (
        storage == out_storage
        and chunks is not None
        and offset % rows == 0
        and (last or n_rows % rows == 0)
    )


def build_virtual(
    shard_paths: Sequence[str | os.PathLike],
    out_path: str | os.PathLike,
    *,
    root_attrs: dict,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> Path:
    """Write a master file whose datasets are virtual datasets over the shards, atomically.

    Parameters
    ----------
    shard_paths : sequence of str or os.PathLike
        Complete shard files in sample order, with contiguous sample ranges.
    out_path : str or os.PathLike
        Master file to write. Shard names are stored relative to its directory, so moving
        the directory holding the master and the shards together keeps it readable.
    root_attrs : dict
        Root attributes of the master (``sample_start``/``sample_stop`` set from the shards).
    overwrite : bool, optional
        Replace an existing ``out_path``.
    progress : callable, optional
        ``progress(done, total)`` after each shard is checked (checking the shards is what
        takes the time; the master itself is small) [count, count].

    Returns
    -------
    pathlib.Path
        ``out_path``. Column and group attributes are copied from the first shard.

    Raises
    ------
    DatasetError
        If a shard is missing or incomplete, the shards disagree in columns, dtypes or
        trailing shapes, or their sample ranges are not contiguous.
    OutputExistsError
        If ``out_path`` exists and ``overwrite`` is false.

    Notes
    -----
    A shard that disappears later reads as the fill value (NaN for floats, -1 for signed
    integers, see :func:`~mocklens.io.layout.virtual_fill_value`) rather than failing;
    :func:`~mocklens.io.reader.check_complete` and ``read_table`` check that every mapped
    shard exists and is complete.
    """
    out_path = Path(out_path)
    shards = _scan_all(shard_paths, out_path, progress)
    total = sum(s.n_rows for s in shards)
    attrs = _merged_root_attrs(root_attrs, shards)
    remove_stale_temporaries_of(out_path)
    out_dir = out_path.parent.resolve()
    with atomic_file(out_path, overwrite=overwrite, libver=VIRTUAL_LIBVER) as out:
        column_attrs = _copy_structure_attrs(shards[0].path, out)
        for key, (dtype, trailing) in shards[0].columns.items():
            layout = h5py.VirtualLayout(shape=(total, *trailing), dtype=dtype)
            offset = 0
            for shard in shards:
                if shard.n_rows:
                    relative = os.path.relpath(shard.path.resolve(), out_dir)
                    source = h5py.VirtualSource(
                        relative, key, shape=(shard.n_rows, *trailing), dtype=dtype
                    )
                    layout[offset : offset + shard.n_rows] = source
                offset += shard.n_rows
            dataset = out.create_virtual_dataset(key, layout, fillvalue=virtual_fill_value(dtype))
            set_attrs(dataset, column_attrs[key])
        set_attrs(out, attrs)
    return out_path
