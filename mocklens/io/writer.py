"""Atomic writing of tables to HDF5.

A file appears under its final name only once it is whole. :func:`write_table` builds the
whole file in memory (HDF5's core driver, no backing store), with chunks encoded by
:mod:`mocklens.io.chunks`, then writes the bytes with plain ``os.write`` to a hidden
temporary in the same directory, fsyncs it and renames it over the final name
(``os.replace`` is atomic within a filesystem).

Building in memory is what makes a full disk harmless: HDF5 never writes to the disk, so
it never meets ENOSPC in the middle of a metadata flush, after which the library's state
is broken (closing the file fails with "Can't destroy cache", and the interpreter
segfaulted at exit in 3 of 5 trials on a filling tmpfs). ``os.write`` fails cleanly; the
temporary is removed and :class:`~mocklens.errors.ResourceError` names the file and the
free space. A process killed part-way leaves at most a ``.<name>.tmp-<host>-<pid>-<hex>``
file, which :func:`remove_stale_temporaries` (or :func:`remove_stale_temporaries_of` for
one final name) deletes later.
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np
from h5py import h5a, h5d, h5p, h5s, h5t

from mocklens.constants import FORMAT_NAME, FORMAT_VERSION
from mocklens.io.atomic import (  # noqa: F401 - re-exported: the writer's public names
    LIBVER,
    _check_target,
    _errno_of,
    _pid_alive,
    atomic_file,
    memory_file,
    remove_stale_temporaries,
    remove_stale_temporaries_of,
    temporary_name,
    write_bytes_atomically,
)
from mocklens.io.chunks import encode_chunk
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

_SCALAR = h5s.create(h5s.SCALAR)
_UTF8 = h5py.string_dtype("utf-8")
_UTF8_TYPE = h5t.py_create(_UTF8, logical=True)
_SCALAR_TYPES = (bool, int, float, np.bool_, np.integer, np.floating)


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
        if not _create_scalar_attr(obj, key, value):
            obj.attrs[key] = value


def _create_scalar_attr(obj: h5py.HLObject, key: str, value) -> bool:
    # h5py's attrs[key] = value costs ~2x the HDF5 call itself (dtype guessing, a delete
    # check); a shard has ~90 attributes. Same on-disk types as h5py: variable-length
    # UTF-8 strings, native numbers, h5py's enum for bools.
    if isinstance(value, str):
        tid, data = _UTF8_TYPE, np.array(value, dtype=_UTF8)
    elif isinstance(value, _SCALAR_TYPES):
        data = np.asarray(value)
        tid = h5t.py_create(data.dtype, logical=True)
    else:
        return False
    name = key.encode()
    if h5a.exists(obj.id, name):
        return False
    h5a.create(obj.id, name, tid, _SCALAR).write(data)
    return True


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


def _filters(compression_level: int | None) -> dict:
    filters = dict(COMPRESSION)
    if compression_level is not None:
        if compression_level == 0:
            filters.pop("compression")
            filters.pop("compression_opts")
        else:
            filters["compression_opts"] = int(compression_level)
    return filters


_DCPL_CACHE: dict = {}


def _dcpl(dtype: np.dtype, chunks: tuple, level: int) -> h5p.PropDCID:
    key = (dtype.str, chunks, level)
    plist = _DCPL_CACHE.get(key)
    if plist is None:
        plist = h5p.create(h5p.DATASET_CREATE)
        plist.set_chunk(chunks)
        plist.set_fill_value(np.array(fill_value(dtype), dtype=dtype))
        # The order of COMPRESSION (h5py's): shuffle, deflate, then the checksum of what is
        # stored, so a flipped stored byte fails the checksum before inflate sees it.
        plist.set_shuffle()
        if level:
            plist.set_deflate(level)
        plist.set_fletcher32()
        if len(_DCPL_CACHE) > 256:
            _DCPL_CACHE.clear()
        _DCPL_CACHE[key] = plist
    return plist


def column_level(compression_level: int | None) -> int:
    """Return the gzip level a column gets: COMPRESSION's for None, 0 for none [dimensionless]."""
    return int(_filters(compression_level).get("compression_opts", 0))


def deflate_level(dataset: h5py.Dataset) -> int:
    """Return the gzip level of a dataset's deflate filter, 0 without one [dimensionless]."""
    return int(dataset.compression_opts or 0) if dataset.compression == "gzip" else 0


def create_column(
    group: h5py.Group,
    name: str,
    dtype: np.dtype,
    shape: tuple,
    compression_level: int | None = None,
    chunks: tuple | None = None,
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
    chunks : tuple of int, optional
        Chunk shape; default :func:`~mocklens.io.layout.chunk_shape`.

    Returns
    -------
    h5py.Dataset
        The new dataset (fixed shape), filters shuffle, deflate (unless level 0), fletcher32.
    """
    dtype = np.dtype(dtype)
    shape = tuple(int(n) for n in shape)
    chunks = tuple(chunks or chunk_shape(dtype, shape))
    plist = _dcpl(dtype, chunks, column_level(compression_level))
    space = h5s.create_simple(shape, shape)
    dsid = h5d.create(group.id, name.encode(), h5t.py_create(dtype), space, dcpl=plist)
    return h5py.Dataset(dsid)


def write_chunks(
    dataset: h5py.Dataset, array: np.ndarray, row_offset: int = 0, *, level: int | None = None
) -> None:
    """Encode rows and write them as whole chunks (``H5Dwrite_chunk``), bypassing HDF5's filters.

    Parameters
    ----------
    dataset : h5py.Dataset
        A column made by :func:`create_column`, large enough for the rows.
    array : ndarray, shape (n, *dataset.shape[1:])
        Rows to store at ``[row_offset, row_offset + n)``, of the dataset's dtype.
    row_offset : int, optional
        First row [dimensionless]; a multiple of the chunk rows. The rows must end at a chunk
        boundary or at the end of the dataset (a partial last chunk is padded with the fill
        value, as HDF5 pads it).
    level : int, optional
        The dataset's gzip level (0 = no deflate filter), if the caller knows it; read from
        the dataset otherwise.
    """
    rows = dataset.chunks[0]
    if level is None:
        level = deflate_level(dataset)
    zeros = (0,) * (array.ndim - 1)
    array = np.ascontiguousarray(array, dtype=dataset.dtype)
    for start in range(0, array.shape[0], rows):
        block = array[start : start + rows]
        if block.shape[0] < rows:
            padded = np.full((rows, *array.shape[1:]), fill_value(array.dtype), array.dtype)
            padded[: block.shape[0]] = block
            block = padded
        dataset.id.write_direct_chunk((row_offset + start, *zeros), encode_chunk(block, level))


def _write_column(
    group: h5py.Group, name: str, array: np.ndarray, attrs: dict, level: int | None
) -> None:
    dataset = create_column(group, name, array.dtype, array.shape, compression_level=level)
    if array.size:
        write_chunks(dataset, array, level=column_level(level))
    set_attrs(dataset, attrs)


def table_image(table: Table, *, compression_level: int | None = None, libver=LIBVER) -> bytes:
    """Build in memory the bytes of the HDF5 file that :func:`write_table` writes.

    Parameters
    ----------
    table : Table
        Columns and attributes; checked with :meth:`Table.validate` first.
    compression_level : int, optional
        gzip level 1-9, or 0 for no gzip (shuffle and fletcher32 stay); default 4.
    libver : str or tuple of str, optional
        HDF5 library version bounds.

    Returns
    -------
    bytes
        A complete file (``complete = 1``) built in memory.
    """
    table.validate()
    attrs = root_attrs_with_format(table.root_attrs)
    with memory_file(libver) as handle:
        groups = {}
        for group_name in table.groups:
            groups[group_name] = handle.create_group(group_name)
            set_attrs(groups[group_name], table.group_attrs.get(group_name, {}))
        for key, array in table.columns.items():
            group_name, name = split_column_name(key)
            _write_column(
                groups[group_name], name, array, table.column_attrs.get(key, {}), compression_level
            )
        set_attrs(handle, attrs)
        handle.attrs[COMPLETE_ATTR] = 1
        handle.flush()
        return handle.id.get_file_image()


def write_table(
    path: str | os.PathLike,
    table: Table,
    *,
    overwrite: bool = False,
    compression_level: int | None = None,
) -> Path:
    """Write a table to an HDF5 file atomically.

    The file is built in memory (:func:`table_image`) and written with
    :func:`write_bytes_atomically`.

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
        If the disk is full (the message names ``path`` and the free space) or the directory
        is not writable; no file is left behind.
    ValueError
        If the table is malformed.
    """
    path = Path(path)
    _check_target(path, overwrite)
    image = table_image(table, compression_level=compression_level)
    return write_bytes_atomically(path, image, overwrite=overwrite)


