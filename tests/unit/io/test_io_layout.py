import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mocklens.io.layout import (
    MIN_ALIGNED_FRACTION,
    TARGET_CHUNK_BYTES,
    chunk_rows,
    chunk_shape,
    fill_value,
    split_column_name,
    virtual_fill_value,
)

row_bytes = st.integers(min_value=1, max_value=64 * 1024 * 1024)
rows = st.integers(min_value=0, max_value=10**9)
targets = st.integers(min_value=1, max_value=64 * 1024 * 1024)


@given(row_nbytes=row_bytes, n_rows=rows, target=targets)
def test_chunk_rows_within_byte_bounds(row_nbytes, n_rows, target):
    r = chunk_rows(row_nbytes, n_rows, target)
    assert 1 <= r <= max(n_rows, 1)
    if r > 1:
        assert r * row_nbytes <= target
    if n_rows * row_nbytes <= target:
        assert r == max(n_rows, 1), "one chunk when everything fits"
    elif n_rows % r == 0:
        # Aligned: every chunk full, not wastefully small.
        assert r >= max(1, int(MIN_ALIGNED_FRACTION * target) // row_nbytes)
    else:
        assert r & (r - 1) == 0, "power of two when no divisor fits"
        if 2 * row_nbytes <= target:
            assert r * row_nbytes > target // 2


def test_chunk_rows_examples():
    assert TARGET_CHUNK_BYTES == 512 * 1024
    assert chunk_rows(40, 10_000) == 10_000  # (N, 5) float64 of a 10,000-lens shard: one chunk
    assert chunk_rows(8, 10**6) == 62_500  # divides 10**6: shards of 10**6 rows stay aligned
    assert chunk_rows(8, 1_000_003) == 65_536  # a prime row count: power of two
    assert chunk_rows(8, 100) == 100  # small file: one chunk
    assert chunk_rows(64 * 64 * 4, 1000) == 25  # 64x64 float32 cutouts: 40 full chunks
    assert chunk_rows(10**7, 1000) == 1  # row larger than the target
    assert chunk_rows(8, 0) == 1


def test_chunk_rows_rejects_bad_input():
    with pytest.raises(ValueError):
        chunk_rows(0, 10)
    with pytest.raises(ValueError):
        chunk_rows(8, -1)


def test_chunk_shape_keeps_trailing_dimensions():
    assert chunk_shape(np.float64, (10**6, 4)) == (15_625, 4)
    assert chunk_shape(np.int8, (0,)) == (1,)


def test_fill_values():
    assert np.isnan(fill_value(np.float32))
    assert fill_value(np.int8) == 0
    assert np.isnan(virtual_fill_value(np.float64))
    assert virtual_fill_value(np.int64) == -1
    assert virtual_fill_value(np.uint8) == 255


@pytest.mark.parametrize("key", ["x", "a/b/c", "/x", "a/"])
def test_split_column_name_rejects(key):
    with pytest.raises(ValueError, match="group/name"):
        split_column_name(key)
