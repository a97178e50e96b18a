"""Chunks encoded by mocklens decode with HDF5's own filters, and HDF5's chunks match ours."""

import shutil
import subprocess

import h5py
import numpy as np
import pytest

from mocklens.errors import DatasetError
from mocklens.io import chunks, estimate_bytes_per_row
from mocklens.io.reader import check_complete, read_table
from mocklens.io.writer import write_table

SIZES = [0, 1, 2, 3, 719, 720, 721, 131_071, 131_072, 131_073, 400_001]


@pytest.mark.parametrize("n", SIZES)
def test_fletcher32_matches_hdf5(tmp_path, n):
    # HDF5 computes the checksum of what it stores; its stored chunk ends with it.
    rng = np.random.default_rng(n)
    for kind, data in (
        ("random", rng.integers(0, 256, n, dtype=np.uint8)),
        ("ones", np.full(n, 255, np.uint8)),  # sums that are multiples of 65535
        ("zeros", np.zeros(n, np.uint8)),
    ):
        if n == 0:
            continue
        with h5py.File(tmp_path / f"{kind}.h5", "w") as f:
            ds = f.create_dataset("a", data=data, chunks=(n,), fletcher32=True)
            _, stored = ds.id.read_direct_chunk((0,))
        assert chunks.fletcher32(stored[:-4]) == int.from_bytes(stored[-4:], "little"), kind
    assert chunks.fletcher32(b"") == 0


def test_fletcher32_blocks_combine_exactly(monkeypatch):
    data = np.random.default_rng(3).integers(0, 256, 10_001, dtype=np.uint8).tobytes()
    whole = chunks.fletcher32(data)
    monkeypatch.setattr(chunks, "_FLETCHER_BLOCK", 97)
    assert chunks.fletcher32(data) == whole


@pytest.mark.parametrize("dtype", ["f8", "f4", "i8", "i2", "i1", "?"])
@pytest.mark.parametrize("level", [0, 1, 4, 9])
def test_encoded_chunks_decode_with_hdf5_filters(tmp_path, dtype, level):
    rng = np.random.default_rng(0)
    block = (rng.normal(size=(300, 3)) * 100).astype(dtype)
    filters = dict(shuffle=True, fletcher32=True)
    if level:
        filters.update(compression="gzip", compression_opts=level)
    with h5py.File(tmp_path / "c.h5", "w") as f:
        ds = f.create_dataset("a", shape=block.shape, dtype=dtype, chunks=block.shape, **filters)
        ds.id.write_direct_chunk((0, 0), chunks.encode_chunk(block, level))
    with h5py.File(tmp_path / "c.h5") as f:
        np.testing.assert_array_equal(f["a"][...], block)


def test_flipped_byte_in_written_shard_is_detected(tmp_path, table_factory):
    path = write_table(tmp_path / "s.h5", table_factory(0, 2000))
    with h5py.File(path) as f:
        info = f["point/x"].id.get_chunk_info(0)
    raw = bytearray(path.read_bytes())
    raw[info.byte_offset + info.size // 2] ^= 0x10
    path.write_bytes(bytes(raw))
    check_complete(path)  # metadata intact
    with pytest.raises(DatasetError, match="corrupt"):
        check_complete(path, verify_data=True)


def test_shard_chunks_are_one_per_column_and_v110(tmp_path, table_factory):
    path = write_table(tmp_path / "s.h5", table_factory(0, 10_000))
    with h5py.File(path) as f:
        assert f.id.get_create_plist().get_version()[0] == 3, "superblock of the 1.10 format"
        for name in ("lens/theta_e", "point/x", "point/parity", "sample/index"):
            ds = f[name]
            assert ds.chunks == ds.shape, name
            assert ds.maxshape == ds.shape
            assert ds.compression == "gzip" and ds.shuffle and ds.fletcher32


@pytest.mark.skipif(shutil.which("h5dump") is None, reason="HDF5 command-line tools not installed")
def test_hdf5_1_10_tools_read_the_data(tmp_path, table_factory):
    table = table_factory(0, 300)
    path = write_table(tmp_path / "s.h5", table)
    version = subprocess.run(["h5dump", "--version"], capture_output=True, text=True).stdout
    out = subprocess.run(
        ["h5dump", "-d", "/sample/index", "-s", "298", "-c", "2", str(path)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "(298): 298, 299" in out.stdout, (version, out.stdout)


def test_estimate_bytes_per_row_matches_written_files(tmp_path, table_factory):
    # The test table is mostly random floats (compresses less than a real shard), so
    # compare at level 0, where the estimate is exact up to metadata, and bound level 4.
    table = table_factory(0, 5000)
    for level in (0, 4):
        path = write_table(tmp_path / f"l{level}.h5", table, compression_level=level)
        actual = path.stat().st_size / table.n_rows
        estimate = estimate_bytes_per_row(table.columns, n_rows=5000, compression_level=level)
        if level == 0:
            assert abs(estimate - actual) / actual < 0.05, (estimate, actual)
        else:
            assert actual < estimate * 1.6, (estimate, actual)
    spec = {key: (a.dtype, a.shape[1:]) for key, a in table.columns.items()}
    assert estimate_bytes_per_row(spec) == estimate_bytes_per_row(table.columns)
    assert read_table(path).n_rows == 5000
