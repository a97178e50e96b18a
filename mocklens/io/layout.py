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
#: (h5py, HDF5 1.10 tools, netCDF, Julia, MATLAB) decodes without plugins. fletcher32 is a
#: built-in checksum filter, so a corrupt chunk raises on read instead of returning garbage
#: (resume relies on it). The level is a gzip level; mocklens encodes the chunks itself
#: (:mod:`mocklens.io.chunks`), with ISA-L when installed, where levels 1-6 cost the same.
COMPRESSION = dict(compression="gzip", compression_opts=4, shuffle=True, fletcher32=True)

#: Largest uncompressed size of one chunk [bytes]. A shard of 10,000 lenses then stores each
#: column as one chunk (a (N, 5) float64 column is 400 kB), which is what makes writing and
#: merging cheap (benchmarks/README.md, "Write path"); HDF5's default chunk cache (1 MiB)
#: still holds two chunks per dataset, and a DataLoader batch decompresses one chunk.
TARGET_CHUNK_BYTES = 512 * 1024

#: A chunk that divides the rows evenly is preferred down to this fraction of the target;
#: below it the power-of-two rule applies (merges then re-encode the rows of such files).
MIN_ALIGNED_FRACTION = 0.25
#: Candidate chunk counts tried when looking for a divisor (bounds the search's time).
MAX_DIVISOR_TRIES = 20_000

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
        Rows per chunk, in ``[1, max(n_rows, 1)]``.

    Notes
    -----
    In order of preference:

    1. all rows, when they fit in ``target_bytes`` (one chunk per column per shard);
    2. the largest divisor ``r`` of ``n_rows`` with ``r * row_nbytes <= target_bytes`` and at
       least ``MIN_ALIGNED_FRACTION`` of the target: every chunk is then full, so shards of
       equal size whose rows are concatenated keep their chunk boundaries, and
       :func:`~mocklens.io.merge.merge_copy` copies their chunks without re-encoding;
    3. the largest power of two ``r`` with ``r * row_nbytes <= target_bytes`` (at least one
       row), which keeps power-of-two batches aligned with chunks.
    """
    if row_nbytes <= 0:
        raise ValueError(f"row_nbytes must be positive, got {row_nbytes}")
    if n_rows < 0:
        raise ValueError(f"n_rows must be non-negative, got {n_rows}")
    fit = max(1, target_bytes // row_nbytes)
    if n_rows <= fit:
        return max(1, n_rows)
    smallest = max(1, int(MIN_ALIGNED_FRACTION * target_bytes) // row_nbytes)
    first = -(-n_rows // fit)
    for parts in range(first, min(n_rows // smallest, first + MAX_DIVISOR_TRIES) + 1):
        if n_rows % parts == 0:
            return n_rows // parts
    return 1 << (fit.bit_length() - 1)


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


#: Uncompressed / stored bytes of the catalogue columns of a default-recipe shard (K = 5,
#: 62% single images, so much NaN padding) at gzip levels 1-6 with shuffle: 513 B/lens
#: stored in 231 (benchmarks/README.md, "Write path"). Recipes with more images per system
#: compress less (less padding): callers add their own safety factor.
MEASURED_COMPRESSION_RATIO = 2.2
#: Metadata of one file beyond its chunks (superblock, groups, attributes including the
#: config JSON) [bytes], and per dataset (object header, chunk index, fletcher32 tails)
#: [bytes]; measured 12-25 kB for a 31-column shard in the 1.10 format.
FILE_OVERHEAD_BYTES = 16 * 1024
DATASET_OVERHEAD_BYTES = 600


def estimate_bytes_per_row(
    columns,
    *,
    n_rows: int = 10_000,
    compression_level: int | None = None,
    ratio: float | None = None,
) -> float:
    """Estimate the disk bytes per row of a file of this layout (for free-space checks).

    Parameters
    ----------
    columns : mapping of str to (numpy.dtype, tuple of int) or to ndarray
        The file's columns: ``"group/name"`` -> ``(dtype, trailing shape)``, or the arrays
        themselves (``Table.columns``; only dtypes and trailing shapes are used).
    n_rows : int, optional
        Rows per file (``output.shard_size``), over which the fixed metadata is spread
        [count].
    compression_level : int, optional
        gzip level; 0 stores the data uncompressed. Default: ``COMPRESSION``'s level.
    ratio : float, optional
        Compression ratio to assume for compressed files [dimensionless]; default
        :data:`MEASURED_COMPRESSION_RATIO`.

    Returns
    -------
    float
        Estimated bytes per row [bytes]: uncompressed row size / ratio, plus the file's
        metadata divided by ``n_rows``. For the default recipe ~240 (measured 233).
    """
    raw = 0
    for value in columns.values():
        if isinstance(value, np.ndarray):
            dtype, trailing = value.dtype, value.shape[1:]
        else:
            dtype, trailing = value
        raw += np.dtype(dtype).itemsize * int(np.prod(trailing, dtype=np.int64))
    level = COMPRESSION["compression_opts"] if compression_level is None else compression_level
    factor = 1.0 if level == 0 else (MEASURED_COMPRESSION_RATIO if ratio is None else ratio)
    overhead = FILE_OVERHEAD_BYTES + DATASET_OVERHEAD_BYTES * len(columns)
    return raw / factor + overhead / max(int(n_rows), 1)
