import shutil
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest

from mocklens.errors import DatasetError, OutputExistsError
from mocklens.io.merge import build_virtual, merge_copy
from mocklens.io.reader import check_complete, read_table
from mocklens.io.writer import write_table

BOUNDS = [0, 40, 41, 100]  # uneven, including a one-row shard


@pytest.fixture
def run_dir(tmp_path, table_factory):
    run = tmp_path / "run"
    (run / "shards").mkdir(parents=True)
    for i, (start, stop) in enumerate(zip(BOUNDS[:-1], BOUNDS[1:], strict=True)):
        write_table(run / "shards" / f"shard-{i:03d}.h5", table_factory(start, stop))
    return run


def shards_of(run):
    return sorted((run / "shards").glob("shard-*.h5"))


def expected_columns(run):
    parts = [read_table(p).columns for p in shards_of(run)]
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


def assert_columns(table, expected):
    assert table.columns.keys() == expected.keys()
    for key, column in expected.items():
        assert table.columns[key].dtype == column.dtype
        np.testing.assert_array_equal(table.columns[key], column, err_msg=key)


ROOT = {"root_seed": 7, "n_samples": 100, "config": "{}"}


def test_merge_copy_equals_concatenation(run_dir):
    out = merge_copy(shards_of(run_dir), run_dir / "merged.h5", root_attrs=ROOT)
    merged = read_table(out)
    assert_columns(merged, expected_columns(run_dir))
    np.testing.assert_array_equal(merged.columns["sample/index"], np.arange(100))
    assert merged.root_attrs["sample_start"] == 0 and merged.root_attrs["sample_stop"] == 100
    assert merged.root_attrs["root_seed"] == 7
    assert merged.column_attrs["point/x"]["units"] == "arcsec"
    assert merged.group_attrs["lens"] == {"profile": "EPL"}
    check_complete(out, verify_data=True)
    with h5py.File(out) as f:
        assert not f["point/x"].is_virtual and f["point/x"].fletcher32


def test_merge_copy_streams_in_blocks(run_dir, monkeypatch):
    from mocklens.io import merge

    monkeypatch.setattr(merge, "COPY_BLOCK_BYTES", 64)  # force many small blocks
    out = merge_copy(shards_of(run_dir), run_dir / "merged.h5", root_attrs=ROOT)
    assert_columns(read_table(out), expected_columns(run_dir))


def test_build_virtual_matches_merge_copy(run_dir):
    copy = read_table(merge_copy(shards_of(run_dir), run_dir / "merged.h5", root_attrs=ROOT))
    master = build_virtual(shards_of(run_dir), run_dir / "master.h5", root_attrs=ROOT)
    virtual = read_table(master)
    assert_columns(virtual, copy.columns)
    assert virtual.column_attrs == copy.column_attrs
    assert virtual.group_attrs == copy.group_attrs
    assert virtual.root_attrs == copy.root_attrs
    with h5py.File(master) as f:
        sources = {vs.file_name for vs in f["point/x"].virtual_sources()}
        assert f["point/x"].is_virtual
    assert sources == {f"shards/shard-{i:03d}.h5" for i in range(3)}, "stored relative"


def test_virtual_survives_moving_the_run_directory(run_dir, tmp_path, monkeypatch):
    build_virtual(shards_of(run_dir), run_dir / "master.h5", root_attrs=ROOT)
    expected = expected_columns(run_dir)
    moved = tmp_path / "elsewhere" / "moved-run"
    moved.parent.mkdir()
    shutil.move(run_dir, moved)
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert_columns(read_table(moved / "master.h5"), expected)


def test_plain_h5py_reads_both_without_mocklens(run_dir, tmp_path):
    merge_copy(shards_of(run_dir), run_dir / "merged.h5", root_attrs=ROOT)
    build_virtual(shards_of(run_dir), run_dir / "master.h5", root_attrs=ROOT)
    script = textwrap.dedent(
        """
        import sys, h5py, numpy as np
        assert "mocklens" not in sys.modules
        with h5py.File(sys.argv[1]) as a, h5py.File(sys.argv[2]) as b:
            assert a.attrs["complete"] == 1 and b.attrs["complete"] == 1
            np.testing.assert_array_equal(a["point/x"][:], b["point/x"][:])
            print(int(b["sample/index"][-1]))
        """
    )
    # -I: isolated mode, so no PYTHONPATH and no cwd on sys.path.
    result = subprocess.run(
        [sys.executable, "-I", "-c", script, str(run_dir / "merged.h5"), "master.h5"],
        cwd=run_dir,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "99"


def test_build_virtual_refuses_missing_shard(run_dir):
    paths = shards_of(run_dir)
    paths[1].unlink()
    with pytest.raises(DatasetError, match=r"shard-001\.h5: no such file"):
        build_virtual(paths, run_dir / "master.h5", root_attrs=ROOT)
    assert not (run_dir / "master.h5").exists()


def test_shard_removed_after_build_is_detected(run_dir):
    master = build_virtual(shards_of(run_dir), run_dir / "master.h5", root_attrs=ROOT)
    shards_of(run_dir)[2].unlink()
    with h5py.File(master) as f:
        tail = f["sample/index"][41:]
        assert (tail == -1).all(), "a missing shard reads as the fill value"
        assert np.isnan(f["lens/theta_e"][41:]).all()
    with pytest.raises(DatasetError, match=r"refers to missing file .*shard-002\.h5"):
        check_complete(master)


def test_build_virtual_refuses_incomplete_shard(run_dir):
    paths = shards_of(run_dir)
    with h5py.File(paths[0], "r+") as f:
        del f.attrs["complete"]
    with pytest.raises(DatasetError, match=r"shard-000\.h5: incomplete"):
        build_virtual(paths, run_dir / "master.h5", root_attrs=ROOT)


def test_mismatched_dtype_names_the_shard(run_dir, table_factory):
    bad = table_factory(100, 110)
    bad.columns["point/parity"] = bad.columns["point/parity"].astype(np.int16)
    extra = write_table(run_dir / "shards" / "shard-003.h5", bad)
    with pytest.raises(DatasetError, match=r"shard-003\.h5: column point/parity is int16"):
        merge_copy([*shards_of(run_dir)], run_dir / "merged.h5", root_attrs=ROOT)
    assert extra.exists() and not (run_dir / "merged.h5").exists()


def test_missing_column_names_the_shard(run_dir, table_factory):
    bad = table_factory(100, 110)
    del bad.columns["lens/theta_e"], bad.column_attrs["lens/theta_e"]
    write_table(run_dir / "shards" / "shard-003.h5", bad)
    with pytest.raises(DatasetError, match=r"shard-003\.h5: columns differ .*lens/theta_e"):
        build_virtual(shards_of(run_dir), run_dir / "master.h5", root_attrs=ROOT)


def test_non_contiguous_ranges_refused(run_dir):
    paths = shards_of(run_dir)
    with pytest.raises(DatasetError, match="contiguous"):
        merge_copy([paths[0], paths[2]], run_dir / "merged.h5", root_attrs=ROOT)
    with pytest.raises(DatasetError, match="contiguous"):
        build_virtual([paths[1], paths[0], paths[2]], run_dir / "m.h5", root_attrs=ROOT)


def test_merge_refuses_existing_output(run_dir):
    (run_dir / "merged.h5").write_bytes(b"x")
    with pytest.raises(OutputExistsError, match="--overwrite"):
        merge_copy(shards_of(run_dir), run_dir / "merged.h5", root_attrs=ROOT)
    merge_copy(shards_of(run_dir), run_dir / "merged.h5", root_attrs=ROOT, overwrite=True)
    check_complete(run_dir / "merged.h5")


def write_equal_shards(directory, table_factory, sizes):
    directory.mkdir(parents=True, exist_ok=True)
    paths, start = [], 0
    for i, n in enumerate(sizes):
        paths.append(write_table(directory / f"shard-{i:03d}.h5", table_factory(start, start + n)))
        start += n
    return paths


def stored_chunks(path, key):
    with h5py.File(path) as f:
        sid = f[key].id
        return [sid.read_direct_chunk(sid.get_chunk_info(i).chunk_offset)[1]
                for i in range(sid.get_num_chunks())]  # fmt: skip


def test_merge_copies_stored_chunks_without_recompressing(tmp_path, table_factory):
    # Three full shards and a short last one (its own chunking: re-encoded, alone).
    paths = write_equal_shards(tmp_path / "s", table_factory, [3000, 3000, 3000, 1234])
    calls = []
    out = merge_copy(paths, tmp_path / "m.h5", root_attrs=ROOT, progress=lambda *a: calls.append(a))
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]
    for key in ("point/x", "lens/theta_e", "sample/index"):
        merged = stored_chunks(out, key)
        copied = [c for p in paths[:3] for c in stored_chunks(p, key)]
        assert merged[: len(copied)] == copied, f"{key}: chunks copied byte for byte"
    merged = read_table(out)
    expected = np.concatenate([read_table(p).columns["point/x"] for p in paths])
    np.testing.assert_array_equal(merged.columns["point/x"], expected)
    np.testing.assert_array_equal(merged.columns["sample/index"], np.arange(10_234))
    check_complete(out, verify_data=True)


def test_merge_of_misaligned_shards_is_still_exact(tmp_path, table_factory):
    # 3000 rows of (N, 4) float64 make one chunk; shards of 3000 + 1000 + 3000 rows leave
    # the third shard starting mid-chunk: HDF5 merges the shared chunk.
    paths = write_equal_shards(tmp_path / "s", table_factory, [3000, 1000, 3000])
    out = merge_copy(paths, tmp_path / "m.h5", root_attrs=ROOT)
    merged = read_table(out)
    for key in merged.columns:
        expected = np.concatenate([read_table(p).columns[key] for p in paths])
        np.testing.assert_array_equal(merged.columns[key], expected, err_msg=key)
    check_complete(out, verify_data=True)


def test_merge_refuses_a_flipped_byte_without_leaving_a_file(tmp_path, table_factory):
    paths = write_equal_shards(tmp_path / "s", table_factory, [2000, 2000])
    with h5py.File(paths[1]) as f:
        info = f["point/x"].id.get_chunk_info(0)
    raw = bytearray(paths[1].read_bytes())
    raw[info.byte_offset + 7] ^= 0x01
    paths[1].write_bytes(bytes(raw))
    with pytest.raises(DatasetError, match=r"shard-001\.h5 /point/x: chunk at row 0 is corrupt"):
        merge_copy(paths, tmp_path / "m.h5", root_attrs=ROOT)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s"]


def test_build_virtual_reports_progress(run_dir):
    calls = []
    build_virtual(shards_of(run_dir), run_dir / "master.h5", root_attrs=ROOT,
                  progress=lambda *a: calls.append(a))  # fmt: skip
    assert calls == [(1, 3), (2, 3), (3, 3)]


def test_merge_of_shards_in_the_previous_layout(tmp_path, table_factory):
    # Shards written before the write-path change (HDF5's own filters, power-of-two chunks,
    # extensible datasets, earliest format) are resumed, not recomputed: merge re-encodes
    # their rows into the new layout.
    paths = write_equal_shards(tmp_path / "s", table_factory, [5000, 5000])
    legacy = tmp_path / "s" / "shard-000.h5"
    table = read_table(legacy)
    legacy.unlink()
    with h5py.File(legacy, "w") as f:
        for key, a in table.columns.items():
            ds = f.create_dataset(
                key, data=a, chunks=(4096, *a.shape[1:]), maxshape=(None, *a.shape[1:]),
                compression="gzip", compression_opts=4, shuffle=True, fletcher32=True,
            )  # fmt: skip
            ds.attrs.update(table.column_attrs[key])
        for group, attrs in table.group_attrs.items():
            f.require_group(group).attrs.update(attrs)
        f.attrs.update(table.root_attrs)
        f.attrs["complete"] = 1
    out = merge_copy(paths, tmp_path / "m.h5", root_attrs=ROOT)
    merged = read_table(out)
    for key in merged.columns:
        expected = np.concatenate([read_table(p).columns[key] for p in paths])
        np.testing.assert_array_equal(merged.columns[key], expected, err_msg=key)
    check_complete(out, verify_data=True)
