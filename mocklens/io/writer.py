"""Atomic writing of tables to HDF5.

A file appears under its final name only once it is whole: it is written under a hidden
temporary name in the same directory, the ``complete`` marker is set last, the data are
fsynced, and the temporary is renamed over the final name (``os.replace`` is atomic within a
filesystem). A process killed part-way leaves only a ``.<name>.tmp-<host>-<pid>-<hex>`` file,
which :func:`remove_stale_temporaries` deletes later. This matters because a file killed
mid-write after a flush was seen to open without error while holding 94% zeros.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import h5py
import numpy as np

from mocklens.constants import FORMAT_NAME, FORMAT_VERSION
from mocklens.errors import OutputExistsError, ResourceError
from mocklens.io.layout import (
    COMPLETE_ATTR,
    COMPRESSION,
    FORMAT_ATTR,
    FORMAT_VERSION_ATTR,
    chunk_shape,
    fill_value,
    split_column_name,
)
from mocklens.io.table import Table

_TEMP_RE = re.compile(r"^\.(?P<name>.+)\.tmp-(?P<host>.+)-(?P<pid>\d+)-(?P<token>[0-9a-f]{8})$")
_DISK_FULL = {errno.ENOSPC, errno.EDQUOT}
_NOT_WRITABLE = {errno.EACCES, errno.EPERM, errno.EROFS}


def _host() -> str:
    # Temporaries on a shared filesystem come from many nodes; a pid only means something
    # on the node that wrote it, so the short host name is part of the temporary's name.
    return re.sub(r"[^A-Za-z0-9_]", "_", socket.gethostname().split(".")[0]) or "host"


def temporary_name(path: str | os.PathLike) -> Path:
    """Hidden temporary sibling of ``path`` used while writing it.

    Parameters
    ----------
    path : str or os.PathLike
        Final file name.

    Returns
    -------
    pathlib.Path
        ``<dir>/.<name>.tmp-<host>-<pid>-<8 hex digits>``, unique per call.
    """
    path = Path(path)
    return path.parent / f".{path.name}.tmp-{_host()}-{os.getpid()}-{secrets.token_hex(4)}"


def _errno_of(exc: OSError) -> int | None:
    # HDF5 failures reach Python as OSError without errno; the C errno is only in the text.
    if exc.errno is not None:
        return exc.errno
    match = re.search(r"errno = (\d+)", str(exc))
    return int(match.group(1)) if match else None


def _fsync(path: Path, *, directory: bool = False) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        if directory:
            return
        raise
    try:
        os.fsync(fd)
    except OSError:
        # Some network filesystems refuse fsync on a directory; the rename has happened and
        # the data themselves were synced, so only the directory entry's durability is lost.
        if not directory:
            raise
    finally:
        os.close(fd)


@contextmanager
def atomic_file(
    path: str | os.PathLike, *, overwrite: bool = False, libver=None
) -> Iterator[h5py.File]:
    """Open a temporary HDF5 file that replaces ``path`` only if the block succeeds.

    Parameters
    ----------
    path : str or os.PathLike
        Final file name.
    overwrite : bool, optional
        Replace an existing ``path``; otherwise an existing file is an error.
    libver : str or tuple of str, optional
        HDF5 library version bounds passed to :class:`h5py.File` (default: h5py's, the most
        widely readable format).

    Yields
    ------
    h5py.File
        The temporary file, open for writing. On normal exit the root attribute
        ``complete = 1`` is written last, the file is closed and fsynced, renamed to
        ``path``, and the directory is fsynced.

    Raises
    ------
    OutputExistsError
        If ``path`` exists and ``overwrite`` is false.
    ResourceError
        If the disk or quota is full, or the directory is missing or not writable.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path} already exists; pass --overwrite to replace it")
    if not path.parent.is_dir():
        raise ResourceError(f"cannot write {path}: directory {path.parent} does not exist")
    tmp = temporary_name(path)
    try:
        with h5py.File(tmp, "w-", libver=libver) as handle:
            yield handle
            handle.attrs[COMPLETE_ATTR] = 1
            handle.flush()
        _fsync(tmp)
        os.replace(tmp, path)
        _fsync(path.parent, directory=True)
    except BaseException as exc:
        # BaseException on purpose: Ctrl-C or a SLURM stop must not leave a partial file.
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            code = _errno_of(exc)
            if code in _DISK_FULL:
                raise ResourceError(f"disk full while writing {path}") from exc
            if code in _NOT_WRITABLE:
                raise ResourceError(f"cannot write {path}: {os.strerror(code)}") from exc
        raise


def set_attrs(obj: h5py.HLObject, attrs: dict) -> None:
    """Write attributes on an HDF5 object (strings become variable-length UTF-8).

    Parameters
    ----------
    obj : h5py.File, h5py.Group or h5py.Dataset
        Object to annotate.
    attrs : dict
        Attribute values: str, int, float, bool or numeric arrays.

    Raises
    ------
    TypeError
        If a value is None or a dict (serialise those to JSON text first).
    """
    for key, value in attrs.items():
        if value is None or isinstance(value, dict):
            raise TypeError(f"attribute {key!r}: {type(value).__name__} is not storable")
        obj.attrs[key] = value


def root_attrs_with_format(root_attrs: dict) -> dict:
    """Root attributes with ``format`` and ``format_version`` set by this layer.

    Parameters
    ----------
    root_attrs : dict
        Caller's root attributes; may repeat the format keys only with the current values.

    Returns
    -------
    dict
        ``format``, ``format_version``, then the caller's attributes minus ``complete``.

    Raises
    ------
    ValueError
        If the caller gives a different format name or version.
    """
    out = {FORMAT_ATTR: FORMAT_NAME, FORMAT_VERSION_ATTR: FORMAT_VERSION}
    for key, value in root_attrs.items():
        if key in out and value != out[key]:
            raise ValueError(f"root attribute {key!r}={value!r}, this writer writes {out[key]!r}")
        if key != COMPLETE_ATTR:
            out.setdefault(key, value)
    return out


def create_column(
    group: h5py.Group,
    name: str,
    dtype: np.dtype,
    shape: tuple,
    compression_level: int | None = None,
) -> h5py.Dataset:
    """Create an empty column dataset with the standard filters, chunks and fill value.

    Parameters
    ----------
    group : h5py.Group
        Parent group.
    name : str
        Dataset name.
    dtype : numpy.dtype
        Element type.
    shape : tuple of int
        ``(n_rows, *trailing)`` [dimensionless].
    compression_level : int, optional
        gzip level 1-9, 0 for no gzip; default ``COMPRESSION``'s level.

    Returns
    -------
    h5py.Dataset
        The new dataset; the first dimension is extensible.
    """
    filters = dict(COMPRESSION)
    if compression_level is not None:
        if compression_level == 0:
            filters.pop("compression")
            filters.pop("compression_opts")
        else:
            filters["compression_opts"] = int(compression_level)
    return group.create_dataset(
        name,
        shape=shape,
        dtype=dtype,
        chunks=chunk_shape(dtype, shape),
        maxshape=(None, *shape[1:]),
        fillvalue=fill_value(dtype),
        **filters,
    )


def _write_column(
    group: h5py.Group, name: str, array: np.ndarray, attrs: dict, level: int | None
) -> None:
    dataset = create_column(group, name, array.dtype, array.shape, compression_level=level)
    if array.size:
        dataset[...] = array
    set_attrs(dataset, attrs)


def write_table(
    path: str | os.PathLike,
    table: Table,
    *,
    overwrite: bool = False,
    compression_level: int | None = None,
) -> Path:
    """Write a table to an HDF5 file atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Output file.
    table : Table
        Columns and attributes; checked with :meth:`Table.validate` first.
    overwrite : bool, optional
        Replace an existing file.
    compression_level : int, optional
        gzip level 1-9, or 0 for no gzip (shuffle and fletcher32 stay); default 4.

    Returns
    -------
    pathlib.Path
        ``path``, now a complete file.

    Raises
    ------
    OutputExistsError
        If ``path`` exists and ``overwrite`` is false.
    ResourceError
        If the disk is full or the directory is not writable (no file is left behind).
    ValueError
        If the table is malformed.
    """
    table.validate()
    attrs = root_attrs_with_format(table.root_attrs)
    with atomic_file(path, overwrite=overwrite) as handle:
        for group_name in table.groups:
            group = handle.require_group(group_name)
            set_attrs(group, table.group_attrs.get(group_name, {}))
        for key, array in table.columns.items():
            group_name, name = split_column_name(key)
            _write_column(
                handle[group_name], name, array, table.column_attrs.get(key, {}), compression_level
            )
        set_attrs(handle, attrs)
    return Path(path)


def remove_stale_temporaries(directory: str | os.PathLike, *, force: bool = False) -> list[Path]:
    """Delete temporaries left in ``directory`` by killed writers.

    Parameters
    ----------
    directory : str or os.PathLike
        Directory to clean.
    force : bool, optional
        Delete every temporary, even those of live processes or other hosts. Only safe when
        no writer is running anywhere.

    Returns
    -------
    list of pathlib.Path
        The files deleted.

    Notes
    -----
    Without ``force`` a temporary is deleted only when it was written on this host and its
    pid no longer exists. A reused pid keeps a stale file (harmless); it never deletes a
    live writer's file.
    """
    removed = []
    for candidate in sorted(Path(directory).glob(".*.tmp-*")):
        match = _TEMP_RE.match(candidate.name)
        if match is None or not candidate.is_file():
            continue
        if not force and (match["host"] != _host() or _pid_alive(int(match["pid"]))):
            continue
        candidate.unlink(missing_ok=True)
        removed.append(candidate)
    return removed


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A killed process whose parent died stays a zombie until something reaps it; kill(0)
    # still succeeds, but it will never write again.
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            state = handle.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")
