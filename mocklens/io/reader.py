"""Reading and checking mocklens HDF5 files.

Every failure a user can meet (missing file, truncated or non-HDF5 file, interrupted writer,
foreign or newer format, corrupt chunk, missing shard behind a virtual dataset) becomes a
:class:`~mocklens.errors.DatasetError` whose one-line message names the file and the problem.
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np

from mocklens.constants import FORMAT_NAME, FORMAT_VERSION
from mocklens.errors import DatasetError
from mocklens.io.layout import COMPLETE_ATTR, FORMAT_ATTR, FORMAT_VERSION_ATTR, SEP
from mocklens.io.table import Table

#: Uncompressed bytes read at once when verifying a dataset [bytes]; bounds memory use.
VERIFY_BLOCK_BYTES = 16 * 1024 * 1024


def to_python(value):
    """Convert an attribute value read by h5py to plain Python.

    Parameters
    ----------
    value : object
        ``bytes``, numpy scalar, numpy array or Python value.

    Returns
    -------
    object
        ``str`` for bytes, ``int``/``float``/``bool`` for numpy scalars, nested lists for
        arrays; JSON-serialisable for every type mocklens writes.
    """
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, np.ndarray):
        return [to_python(v) for v in value.tolist()] if value.ndim else to_python(value[()])
    if isinstance(value, list):
        return [to_python(v) for v in value]
    if isinstance(value, np.generic):
        return to_python(value.item())
    return value


def attrs_dict(obj: h5py.HLObject) -> dict:
    """All attributes of an HDF5 object as a dict of plain Python values (see `to_python`).

    Parameters
    ----------
    obj : h5py.File, h5py.Group or h5py.Dataset
        Object whose attributes to read.

    Returns
    -------
    dict
        Attribute name to value.
    """
    return {key: to_python(obj.attrs[key]) for key in obj.attrs}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def open_file(path: str | os.PathLike) -> h5py.File:
    """Open an HDF5 file read-only, turning every failure into a one-line DatasetError.

    Parameters
    ----------
    path : str or os.PathLike
        File to open.

    Returns
    -------
    h5py.File
        The open file; the caller closes it.

    Raises
    ------
    DatasetError
        If the file is missing, a directory, or not a readable HDF5 file.
    """
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{path}: no such file")
    if path.is_dir():
        raise DatasetError(f"{path}: is a directory, not an HDF5 file")
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise DatasetError(
            f"{path}: not a readable HDF5 file (truncated or corrupt): {_first_line(exc)}"
        ) from exc


def _datasets(handle: h5py.File) -> list[tuple[str, h5py.Dataset]]:
    found = []
    handle.visititems(lambda name, obj: found.append((name, obj)) if _is_dataset(obj) else None)
    return found


def _is_dataset(obj) -> bool:
    return isinstance(obj, h5py.Dataset)


def _check_virtual_sources(handle: h5py.File, path: Path, seen: set) -> None:
    # A missing shard reads silently as the fill value, so a virtual dataset is only as
    # complete as every file it maps; relative names resolve against the master's directory.
    for name, dataset in _datasets(handle):
        if not dataset.is_virtual:
            continue
        for source in dataset.virtual_sources():
            if source.file_name == ".":
                continue
            src = Path(source.file_name)
            src = src if src.is_absolute() else path.parent / src
            if src in seen:
                continue
            if not src.exists():
                raise DatasetError(f"{path}: virtual dataset /{name} refers to missing file {src}")
            with open_file(src) as shard:
                _check_marker_and_format(shard, src)
            seen.add(src)


def check_marker_and_format(handle: h5py.File, path: Path) -> dict:
    """Check the ``complete`` marker and the format of an open file; return its root attrs.

    Parameters
    ----------
    handle : h5py.File
        The open file.
    path : pathlib.Path
        Its name, for messages.

    Returns
    -------
    dict
        Root attributes as plain Python values.

    Raises
    ------
    DatasetError
        If the marker is missing, the format foreign or its version newer or invalid.
    """
    return _check_marker_and_format(handle, path)


def _check_marker_and_format(handle: h5py.File, path: Path) -> dict:
    attrs = attrs_dict(handle)
    if attrs.get(COMPLETE_ATTR) != 1:
        raise DatasetError(
            f"{path}: incomplete file (no '{COMPLETE_ATTR}' marker; its writer was interrupted)"
        )
    if attrs.get(FORMAT_ATTR) != FORMAT_NAME:
        raise DatasetError(
            f"{path}: not a {FORMAT_NAME} file ({FORMAT_ATTR}={attrs.get(FORMAT_ATTR)!r})"
        )
    version = attrs.get(FORMAT_VERSION_ATTR)
    if not isinstance(version, int) or isinstance(version, bool):
        raise DatasetError(f"{path}: invalid {FORMAT_VERSION_ATTR}={version!r}")
    if version > FORMAT_VERSION:
        raise DatasetError(
            f"{path}: {FORMAT_VERSION_ATTR} {version} is newer than this mocklens reads "
            f"({FORMAT_VERSION}); upgrade mocklens"
        )
    return attrs


def _verify_data(handle: h5py.File, path: Path) -> None:
    for name, dataset in _datasets(handle):
        n_rows = dataset.shape[0] if dataset.shape else 1
        row_nbytes = max(dataset.dtype.itemsize * int(np.prod(dataset.shape[1:])), 1)
        step = max(1, VERIFY_BLOCK_BYTES // row_nbytes)
        if dataset.chunks:
            # Whole chunks per block, so each chunk is decompressed (and checksummed) once.
            step = max(dataset.chunks[0], step // dataset.chunks[0] * dataset.chunks[0])
        for start in range(0, n_rows, step):
            try:
                dataset[start : start + step] if dataset.shape else dataset[()]
            except OSError as exc:
                raise DatasetError(
                    f"{path}: dataset /{name} is corrupt near rows {start}:{start + step} "
                    f"({_first_line(exc)})"
                ) from exc


def check_complete(path: str | os.PathLike, *, verify_data: bool = False) -> dict:
    """Check that a file is a complete, readable mocklens file of a supported version.

    Parameters
    ----------
    path : str or os.PathLike
        File to check (a shard, a merged file or a virtual master).
    verify_data : bool, optional
        Also read every dataset in full, so a corrupt chunk (fletcher32 checksum or gzip
        failure) is found. Costs one full read of the file.

    Returns
    -------
    dict
        The root attributes as plain Python values, including ``complete``.

    Raises
    ------
    DatasetError
        If the file is missing, not HDF5 or truncated, lacks the ``complete`` marker, has a
        foreign ``format`` or a newer ``format_version``, maps a missing or incomplete shard
        (virtual datasets), or, with ``verify_data``, holds an unreadable chunk.
    """
    path = Path(path)
    with open_file(path) as handle:
        attrs = _check_marker_and_format(handle, path)
        _check_virtual_sources(handle, path, set())
        if verify_data:
            _verify_data(handle, path)
    return attrs


def read_root_attrs(path: str | os.PathLike) -> dict:
    """Read the root attributes of a file without checking completeness.

    Parameters
    ----------
    path : str or os.PathLike
        HDF5 file.

    Returns
    -------
    dict
        Root attributes as plain Python values.

    Raises
    ------
    DatasetError
        If the file cannot be opened.
    """
    with open_file(path) as handle:
        return attrs_dict(handle)


def read_table(
    path: str | os.PathLike, rows: slice | None = None, groups: list[str] | None = None
) -> Table:
    """Read a complete mocklens file (or a row range and some groups of it) into a Table.

    Parameters
    ----------
    path : str or os.PathLike
        File written by :func:`~mocklens.io.writer.write_table` or a merge.
    rows : slice, optional
        Rows to read (positions in the file, not sample indices); all rows by default.
    groups : list of str, optional
        Groups to read; all by default.

    Returns
    -------
    Table
        Columns with shapes ``(n_selected, *trailing)`` and their attributes; ``root_attrs``
        omits the ``complete`` marker.

    Raises
    ------
    DatasetError
        If the file fails :func:`check_complete`, a requested group is absent, or a chunk
        cannot be read.
    """
    path = Path(path)
    selection = slice(None) if rows is None else rows
    with open_file(path) as handle:
        root = _check_marker_and_format(handle, path)
        _check_virtual_sources(handle, path, set())
        names = sorted(k for k in handle if isinstance(handle[k], h5py.Group))
        if groups is not None:
            missing = sorted(set(groups) - set(names))
            if missing:
                raise DatasetError(f"{path}: no group(s) {', '.join(missing)}")
            names = [g for g in names if g in set(groups)]
        table = Table(columns={}, root_attrs={k: v for k, v in root.items() if k != COMPLETE_ATTR})
        for group_name in names:
            group = handle[group_name]
            table.group_attrs[group_name] = attrs_dict(group)
            for name, dataset in group.items():
                if not _is_dataset(dataset):
                    continue
                key = f"{group_name}{SEP}{name}"
                try:
                    table.columns[key] = dataset[selection]
                except OSError as exc:
                    raise DatasetError(
                        f"{path}: dataset /{key} is corrupt ({_first_line(exc)})"
                    ) from exc
                table.column_attrs[key] = attrs_dict(dataset)
    return table
