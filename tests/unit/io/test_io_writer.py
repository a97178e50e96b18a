import errno
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import numpy as np
import pytest

from mocklens.constants import FORMAT_NAME, FORMAT_VERSION
from mocklens.errors import OutputExistsError, ResourceError
from mocklens.io import writer
from mocklens.io.layout import TARGET_CHUNK_BYTES
from mocklens.io.reader import check_complete, read_table
from mocklens.io.writer import remove_stale_temporaries, temporary_name, write_table

REPO = Path(__file__).resolve().parents[3]


def leftovers(directory):
    return sorted(p.name for p in Path(directory).iterdir() if ".tmp-" in p.name)


def assert_tables_equal(a, b):
    assert a.columns.keys() == b.columns.keys()
    for key in a.columns:
        assert a.columns[key].dtype == b.columns[key].dtype, key
        np.testing.assert_array_equal(a.columns[key], b.columns[key], err_msg=key)
    assert a.column_attrs == b.column_attrs
    assert {g: a.group_attrs.get(g, {}) for g in b.group_attrs} == b.group_attrs


def test_round_trip(tmp_path, table):
    path = write_table(tmp_path / "cat.h5", table)
    back = read_table(path)
    assert_tables_equal(table, back)
    assert np.isnan(back.columns["point/x"]).any(), "NaN padding survives"
    assert back.columns["point/parity"].dtype == np.int8
    assert back.group_attrs["shear"] == {"profile": "SHEAR", "ra_0": 0.0, "dec_0": 0.0}
    assert back.root_attrs == {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        **table.root_attrs,
    }
    assert type(back.root_attrs["flag"]) is bool
    assert type(back.root_attrs["root_seed"]) is int
    assert leftovers(tmp_path) == []


def test_strings_are_variable_length_utf8(tmp_path, table):
    table.root_attrs["config"] = '{"name": "Einstein ring \u00e9"}'
    path = write_table(tmp_path / "cat.h5", table)
    with h5py.File(path) as f:
        string_info = h5py.check_string_dtype(f.attrs.get_id("config").dtype)
        assert string_info.encoding == "utf-8" and string_info.length is None
    assert read_table(path).root_attrs["config"] == table.root_attrs["config"]


def test_rows_and_groups_selection(tmp_path, table):
    path = write_table(tmp_path / "cat.h5", table)
    part = read_table(path, rows=slice(10, 20), groups=["point"])
    assert sorted(part.columns) == ["point/n_images", "point/parity", "point/x"]
    np.testing.assert_array_equal(part.columns["point/x"], table.columns["point/x"][10:20])


def test_datasets_use_filters_and_bounded_chunks(tmp_path, table_factory):
    path = write_table(tmp_path / "big.h5", table_factory(0, 100_000))
    with h5py.File(path) as f:
        for name in ("lens/theta_e", "point/x", "point/parity"):
            ds = f[name]
            assert ds.compression == "gzip" and ds.shuffle and ds.fletcher32
            assert ds.chunks[1:] == ds.shape[1:]
            chunk_bytes = ds.dtype.itemsize * int(np.prod(ds.chunks))
            assert TARGET_CHUNK_BYTES // 2 < chunk_bytes <= TARGET_CHUNK_BYTES, name


def test_empty_table(tmp_path, table_factory):
    path = write_table(tmp_path / "empty.h5", table_factory(5, 5))
    back = read_table(path)
    assert back.columns["point/x"].shape == (0, 4)


def test_refuses_existing_file_without_overwrite(tmp_path, table):
    path = tmp_path / "cat.h5"
    path.write_bytes(b"precious")
    with pytest.raises(OutputExistsError, match=r"cat\.h5.*--overwrite"):
        write_table(path, table)
    assert path.read_bytes() == b"precious"
    write_table(path, table, overwrite=True)
    check_complete(path)


def test_malformed_table_creates_nothing(tmp_path, table):
    table.columns["lens/bad"] = np.array(["a"] * table.n_rows, dtype=object)
    with pytest.raises(ValueError, match="unsupported dtype"):
        write_table(tmp_path / "cat.h5", table)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("exc", [RuntimeError("boom"), KeyboardInterrupt()])
def test_failure_mid_write_leaves_nothing(tmp_path, table, monkeypatch, exc):
    real = writer._write_column
    calls = []

    def failing(group, name, array, attrs, level=None):
        calls.append(name)
        if len(calls) == 3:
            assert list(tmp_path.iterdir()) == [], "the file is built in memory"
            raise exc
        real(group, name, array, attrs, level)

    monkeypatch.setattr(writer, "_write_column", failing)
    with pytest.raises(type(exc)):
        write_table(tmp_path / "cat.h5", table)
    assert list(tmp_path.iterdir()) == []


def test_hdf5_errno_in_message_is_recognised():
    exc = OSError("Can't write data (file write failed: errno = 28, error message = 'x')")
    assert writer._errno_of(exc) == errno.ENOSPC


def test_missing_directory_is_resource_error(tmp_path, table):
    with pytest.raises(ResourceError, match="does not exist"):
        write_table(tmp_path / "nope" / "cat.h5", table)


SLOW_WRITER = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    from mocklens.io import writer
    from mocklens.io.table import Table

    real = writer._write_column
    def slow(group, name, array, attrs, level=None):
        real(group, name, array, attrs, level)
        print("wrote", name, flush=True)
        time.sleep(60)
    writer._write_column = slow
    n = 200_000
    table = Table(columns={f"g/c{i}": np.random.default_rng(i).normal(size=n) for i in range(4)})
    writer.write_table(sys.argv[1], table)
    """
)


def test_killed_writer_leaves_nothing(tmp_path):
    final = tmp_path / "cat.h5"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_WRITER, str(final)], stdout=subprocess.PIPE, env=env
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith(b"wrote"), line
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    # Killed while building the file in memory: not even a temporary exists.
    assert list(tmp_path.iterdir()) == []


def test_remove_stale_temporaries_spares_live_writers(tmp_path):
    live = temporary_name(tmp_path / "a.h5")  # this process: alive
    live.write_bytes(b"")
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    stale = tmp_path / live.name.replace(f"-{os.getpid()}-", f"-{dead.stdout.strip()}-")
    stale.write_bytes(b"")
    other_host = tmp_path / ".b.h5.tmp-some_other_node-1-0123abcd"
    other_host.write_bytes(b"")
    unrelated = tmp_path / ".hidden"
    unrelated.write_bytes(b"")
    assert remove_stale_temporaries(tmp_path) == [stale]
    assert sorted(remove_stale_temporaries(tmp_path, force=True)) == sorted([live, other_host])
    assert unrelated.exists()


def test_compression_level_is_applied(tmp_path, table):
    import h5py

    from mocklens.io import write_table as write

    for level, expected in ((0, None), (7, 7)):
        path = write(tmp_path / f"c{level}.h5", table, compression_level=level)
        with h5py.File(path) as f:
            name = next(iter(table.columns))
            ds = f[name]
            assert ds.compression_opts == expected
            assert ds.shuffle and ds.fletcher32


def test_zombie_writer_counts_as_dead():
    import subprocess
    import sys
    import time

    from mocklens.io.writer import _pid_alive

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.time() + 30
    # not reaped yet: a zombie; kill(pid, 0) would still succeed
    while _pid_alive(child.pid):
        assert time.time() < deadline, "exited child never reported dead"
        time.sleep(0.05)
    assert child.poll() == 0
