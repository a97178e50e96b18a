import h5py
import numpy as np
import pytest

from mocklens.constants import FORMAT_VERSION
from mocklens.errors import DatasetError
from mocklens.io.reader import check_complete, read_root_attrs, read_table
from mocklens.io.writer import write_table


@pytest.fixture
def written(tmp_path, table_factory):
    return write_table(tmp_path / "cat.h5", table_factory(0, 20_000))


def one_line(excinfo):
    message = str(excinfo.value)
    assert "\n" not in message
    return message


def test_complete_file_passes(written):
    attrs = check_complete(written, verify_data=True)
    assert attrs["complete"] == 1 and attrs["sample_stop"] == 20_000


def test_missing_file(tmp_path):
    with pytest.raises(DatasetError, match="no such file") as excinfo:
        check_complete(tmp_path / "absent.h5")
    assert "absent.h5" in one_line(excinfo)


def test_not_hdf5(tmp_path):
    path = tmp_path / "text.h5"
    path.write_text("hello\n")
    with pytest.raises(DatasetError, match="not a readable HDF5 file") as excinfo:
        check_complete(path)
    one_line(excinfo)


def test_truncated_file(written):
    size = written.stat().st_size
    with open(written, "r+b") as f:
        f.truncate(size // 2)
    with pytest.raises(DatasetError, match="truncated or corrupt") as excinfo:
        check_complete(written)
    assert "cat.h5" in one_line(excinfo)
    with pytest.raises(DatasetError):
        read_table(written)


def test_flipped_bytes_in_chunk_caught_by_checksum(written):
    with h5py.File(written) as f:
        info = f["point/x"].id.get_chunk_info(0)
    with open(written, "r+b") as f:
        f.seek(info.byte_offset + info.size // 2)
        chunk = bytearray(f.read(16))
        f.seek(info.byte_offset + info.size // 2)
        f.write(bytes(b ^ 0xFF for b in chunk))
    # Metadata is intact, so only reading the data finds the damage.
    check_complete(written)
    with pytest.raises(DatasetError, match=r"/point/x is corrupt") as excinfo:
        check_complete(written, verify_data=True)
    one_line(excinfo)
    with pytest.raises(DatasetError, match="corrupt"):
        read_table(written, groups=["point"])


def test_missing_marker(written):
    with h5py.File(written, "r+") as f:
        del f.attrs["complete"]
    with pytest.raises(DatasetError, match="incomplete file .*'complete' marker") as excinfo:
        check_complete(written)
    one_line(excinfo)
    assert "complete" not in read_root_attrs(written)


def test_wrong_format(written):
    with h5py.File(written, "r+") as f:
        f.attrs["format"] = "somethingelse"
    with pytest.raises(DatasetError, match="not a mocklens file"):
        check_complete(written)


def test_newer_format_version(written):
    with h5py.File(written, "r+") as f:
        f.attrs["format_version"] = FORMAT_VERSION + 1
    with pytest.raises(DatasetError, match="newer than this mocklens reads"):
        check_complete(written)


def test_unknown_group(written):
    with pytest.raises(DatasetError, match="no group"):
        read_table(written, groups=["nope"])


def test_read_rows_matches_full_read(written):
    full = read_table(written)
    part = read_table(written, rows=slice(123, 4567))
    for key, column in full.columns.items():
        np.testing.assert_array_equal(part.columns[key], column[123:4567])
