"""Encoding chunks for the standard HDF5 filter pipeline outside HDF5: shuffle, deflate, fletcher32.

mocklens writes chunks with ``H5Dwrite_chunk`` (h5py ``DatasetID.write_direct_chunk``)
after encoding them here, byte for byte as HDF5's own filters would lay them out, so any
HDF5 reader decodes them with its built-in shuffle, deflate and fletcher32 filters. Two
reasons: HDF5 can only deflate with the zlib it was built with, which was ~10 us per lens
of the 15 us it takes to compute one; and a merge can then copy encoded chunks between
files untouched (:mod:`mocklens.io.merge`).

The deflate stream is a standard zlib stream (RFC 1950). It is produced by ISA-L
(``isal``, ~7x faster than zlib at the same size on mocklens columns, measured in
``benchmarks/bench_write.py``) when installed, else by the standard library's zlib. The
stream differs between the two, the decoded data never do.
"""

from __future__ import annotations

import zlib

import numpy as np

try:  # pragma: no cover - which branch runs depends on the installation
    from isal import isal_zlib as _isal
except ImportError:  # pragma: no cover
    _isal = None

#: Name of the deflate implementation in use (recorded nowhere in files; for benchmarks).
DEFLATE_ENGINE = "isal" if _isal is not None else "zlib"

#: ISA-L effort for a requested gzip level 1-9. ISA-L has levels 0-3; on mocklens columns
#: its level 1 is as small as zlib level 1-4 (2.2x) at ~1.4 us per lens, level 3 is 2% smaller
#: at twice the time, level 0 12% larger for no gain in time (benchmarks/README.md).
_ISAL_LEVEL = {1: 1, 2: 1, 3: 1, 4: 1, 5: 1, 6: 1, 7: 3, 8: 3, 9: 3}

#: Words summed per block by :func:`fletcher32`; keeps every int64 partial sum of a block
#: exact (65535 * B**2 / 2 < 2**63 for B = 2**22 words, an 8 MiB block).
_FLETCHER_BLOCK = 1 << 22
_index = np.arange(0, dtype=np.int64)


def deflate(data: bytes, level: int) -> bytes:
    """Compress bytes to a zlib stream, as HDF5's deflate filter stores a chunk.

    Parameters
    ----------
    data : bytes
        Bytes to compress.
    level : int
        gzip level 1-9 [dimensionless]; mapped onto ISA-L's levels when ISA-L is used.

    Returns
    -------
    bytes
        A zlib (RFC 1950) stream that ``zlib.decompress`` and HDF5 decode to ``data``.
    """
    if _isal is not None:
        return _isal.compress(data, _ISAL_LEVEL[int(level)])
    return zlib.compress(data, int(level))


def fletcher32(data: bytes) -> int:
    """HDF5's Fletcher-32 checksum of a byte string (``H5_checksum_fletcher32``).

    Parameters
    ----------
    data : bytes
        Bytes to checksum (any length).

    Returns
    -------
    int
        The 32-bit checksum HDF5's fletcher32 filter appends (little-endian) to a chunk.

    Notes
    -----
    HDF5 sums big-endian 16-bit words ``w_j`` (an odd last byte is the high byte of a last
    word) with end-around-carry folding: ``s1 = sum w_j`` and ``s2 = sum_j (m - j) w_j``
    over ``m`` words, both modulo 65535, where a non-zero multiple of 65535 is kept as
    65535 (ones' complement: folding a positive sum never yields 0). The sums are exact
    int64 sums over blocks of words, combined in Python integers.
    """
    global _index
    buf = np.frombuffer(data, dtype=np.uint8)
    if buf.size % 2:
        buf = np.concatenate([buf, np.zeros(1, np.uint8)])
    words = buf.view(">u2").astype(np.int64)
    m = words.size
    if _index.size < min(m, _FLETCHER_BLOCK):
        _index = np.arange(min(m, _FLETCHER_BLOCK), dtype=np.int64)
    s1 = jw = 0
    for start in range(0, m, _FLETCHER_BLOCK):
        block = words[start : start + _FLETCHER_BLOCK]
        total = int(block.sum())
        s1 += total
        jw += start * total + int(block @ _index[: block.size])
    s2 = m * s1 - jw
    f1 = 0 if s1 == 0 else 1 + (s1 - 1) % 65535
    f2 = 0 if s2 == 0 else 1 + (s2 - 1) % 65535
    return (f2 << 16) | f1


def shuffle(block: np.ndarray) -> bytes:
    """HDF5's shuffle filter: byte ``k`` of every element, for ``k`` = 0 .. itemsize - 1.

    Parameters
    ----------
    block : ndarray
        One whole chunk (C order).

    Returns
    -------
    bytes
        The shuffled bytes (unchanged for 1-byte elements).
    """
    block = np.ascontiguousarray(block)
    size = block.dtype.itemsize
    if size == 1 or block.size < 2:
        return block.tobytes()
    return np.ascontiguousarray(block.reshape(-1).view(np.uint8).reshape(-1, size).T).tobytes()


def encode_chunk(block: np.ndarray, level: int) -> bytes:
    """Encode one whole chunk for the pipeline shuffle, deflate (if level > 0), fletcher32.

    Parameters
    ----------
    block : ndarray
        The chunk, of exactly the dataset's chunk shape (pad a partial last chunk with the
        fill value first) and its dtype in native byte order.
    level : int
        gzip level 1-9, or 0 when the dataset has no deflate filter [dimensionless].

    Returns
    -------
    bytes
        What HDF5 stores for the chunk with filter mask 0; the last 4 bytes are the
        little-endian Fletcher-32 checksum of the rest.
    """
    data = shuffle(block)
    if level:
        data = deflate(data, level)
    return data + fletcher32(data).to_bytes(4, "little")
