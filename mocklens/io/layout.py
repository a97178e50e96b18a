"""On-disk layout of mocklens HDF5 files: filters, chunk shapes, fill values, marker names.

Everything here is a constant or a pure function of array metadata, so the writer, the
merger and the tests agree on one definition. Nothing in this module touches a file.

A mocklens file holds one group per catalogue component (``lens``, ``shear``, ``point``,
``sample`` ...) with one dataset per column, all sharing the first dimension (the sample
axis). The root attribute :data:`COMPLETE_ATTR` is written last, after every dataset and
attribute, so a file without it was interrupted.
"""

from __future__ import annotations

import numpy as np

#: Dataset creation filters. gzip and shuffle are the only filters every HDF5 reader
#: (h5py, HDF5 1.10 tools, netCDF, Julia, MATLAB) decodes without plugins; level 4 is
#: within a few per cent of level 9 in size at a fraction of the time. fletcher32 is a
#: built-in checksum filter, so a corrupt chunk raises on read instead of returning garbage.
COMPRESSION = dict(compression="gzip", compression_opts=4, shuffle=True, fletcher32=True)

#: Default uncompressed size of one chunk [bytes]. A DataLoader batch of a few hundred
#: catalogue rows then decompresses one or two chunks; HDF5's default chunk cache (1 MiB)
#: still holds several chunks per dataset.
TARGET_CHUNK_BYTES = 256 * 1024

#: Root attribute set to 1 after everything else has been written.
COMPLETE_ATTR = "complete"
#: Root attributes owned by the I/O layer (callers may not set them to other values).
FORMAT_ATTR = "format"
FORMAT_VERSION_ATTR = "format_version"
#: Root attributes giving the half-open sample range ``[sample_start, sample_stop)`` of a file.
SAMPLE_START_ATTR = "sample_start"
SAMPLE_STOP_ATTR = "sample_stop"

#: Separator between group and column name in :class:`~mocklens.io.table.Table` keys.
SEP = "/"

#: dtype kinds a column may have: bool, signed and unsigned integers, floats.
SUPPORTED_KINDS = frozenset("biuf")


def chunk_rows(row_nbytes: int, n_rows: int, target_bytes: int = TARGET_CHUNK_BYTES) -> int:
    """Choose the number of rows in one chunk of a column.

    Parameters
    ----------
    row_nbytes : int
        Uncompressed size of one row of the column (itemsize times the product of the
        trailing shape) [bytes]. Must be positive.
    n_rows : int
        Number of rows of the column (first dimension) [dimensionless]. May be 0.
    target_bytes : int, optional
        Largest uncompressed chunk size wanted [bytes]. Pass ``row_nbytes`` to store one row
        per chunk, which is fastest for shuffled single-image access.

    Returns
    -------
    int
        Rows per chunk, a power of two clipped to ``[1, max(n_rows, 1)]``.

    Notes
    -----
    The result is the largest power of two ``r`` with ``r * row_nbytes <= target_bytes``,
    so an unclipped chunk holds between ``target_bytes / 2`` and ``target_bytes`` bytes.
    Powers of two keep batch boundaries (batch sizes are usually powers of two) aligned with
    chunk boundaries, so a batch never decompresses a chunk it only partly needs. A row
    larger than ``target_bytes`` gets one row per chunk. Clipping to ``n_rows`` avoids
    padding a small file with a mostly empty chunk.
    """
    if row_nbytes <= 0:
        raise ValueError(f"row_nbytes must be positive, got {row_nbytes}")
    if n_rows < 0:
        raise ValueError(f"n_rows must be non-negative, got {n_rows}")
    fit = max(1, target_bytes // row_nbytes)
    rows = 1 << (fit.bit_length() - 1)
    return max(1, min(rows, n_rows))


def chunk_shape(dtype: np.dtype, shape: tuple[int, ...], target_bytes: int = TARGET_CHUNK_BYTES):
    """Chunk shape of a column: whole trailing dimensions, :func:`chunk_rows` rows.

    Parameters
    ----------
    dtype : numpy.dtype
        Element type of the column.
    shape : tuple of int
        Full shape ``(n_rows, *trailing)`` of the column [dimensionless].
    target_bytes : int, optional
        Largest uncompressed chunk size wanted [bytes].

    Returns
    -------
    tuple of int
        ``(rows, *trailing)``; trailing dimensions are never split because a reader always
        wants whole rows (all images of a system, a whole cutout).
    """
    trailing = tuple(int(d) for d in shape[1:])
    row_nbytes = np.dtype(dtype).itemsize * int(np.prod(trailing, dtype=np.int64))
    return (chunk_rows(max(row_nbytes, 1), int(shape[0]), target_bytes), *trailing)


def fill_value(dtype: np.dtype):
    """Fill value of a stored column (read for never-written elements).

    Parameters
    ----------
    dtype : numpy.dtype
        Element type of the column.

    Returns
    -------
    float, int or bool
        NaN for floats (the padding of ragged columns such as ``point/x``), 0 for integers,
        False for booleans.
    """
    kind = np.dtype(dtype).kind
    if kind == "f":
        return np.nan
    if kind == "b":
        return False
    return 0


def virtual_fill_value(dtype: np.dtype):
    """Fill value of a virtual column, read where a shard is missing.

    Parameters
    ----------
    dtype : numpy.dtype
        Element type of the column.

    Returns
    -------
    float, int or bool
        NaN for floats and -1 for signed integers, values a real ``sample/index`` or count
        never takes, so a missing shard is detectable. Unsigned integers get their maximum
        (the bit pattern of -1); booleans get False, as no other value exists.
    """
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return np.nan
    if dtype.kind == "i":
        return -1
    if dtype.kind == "u":
        return int(np.iinfo(dtype).max)
    return False


def split_column_name(key: str) -> tuple[str, str]:
    """Split a ``"group/name"`` column key.

    Parameters
    ----------
    key : str
        Column key, exactly one separator, both parts non-empty.

    Returns
    -------
    tuple of str
        ``(group, name)``.

    Raises
    ------
    ValueError
        If the key is not of the form ``group/name``.
    """
    parts = key.split(SEP)
    if len(parts) != 2 or not all(parts):
        raise ValueError(f"column key {key!r} is not of the form 'group/name'")
    return parts[0], parts[1]
