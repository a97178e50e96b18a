import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mocklens.io.layout import (
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
    assert r & (r - 1) == 0 or r == n_rows, "power of two unless clipped to n_rows"
    if r > 1:
        assert r * row_nbytes <= target
    # Not wastefully small: half the target or more, unless clipped by n_rows or one row
    # already exceeds half the target.
    if r < n_rows and 2 * row_nbytes <= target:
        assert r * row_nbytes > target // 2


def test_chunk_rows_examples():
    assert chunk_rows(8, 10**6) == 32768  # float64 column: 256 KiB chunks
    assert chunk_rows(8, 100) == 100  # small file: one chunk
    assert chunk_rows(64 * 64 * 4, 1000) == 16  # 64x64 float32 cutouts
    assert chunk_rows(10**7, 1000) == 1  # row larger than the target
    assert chunk_rows(8, 0) == 1


def test_chunk_rows_rejects_bad_input():
    with pytest.raises(ValueError):
        chunk_rows(0, 10)
    with pytest.raises(ValueError):
        chunk_rows(8, -1)


def test_chunk_shape_keeps_trailing_dimensions():
    assert chunk_shape(np.float64, (10**6, 4)) == (TARGET_CHUNK_BYTES // 32, 4)
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
