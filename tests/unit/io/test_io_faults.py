"""Real faults at the io layer: a full (real, small tmpfs) disk, a merge killed with SIGKILL."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from mocklens.errors import ResourceError
from mocklens.io import merge_copy, read_table, remove_stale_temporaries_of, write_table
from mocklens.io.atomic import temporary_name

REPO = Path(__file__).resolve().parents[3]
#: Size of the test filesystem [MiB]: a few shards of the test tables.
TMPFS_MIB = 8


@pytest.fixture
def small_disk(tmp_path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_MIB}m", "tmpfs", str(mnt)],
        capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(directory: Path, leave: int = 0) -> None:
    """Fill the filesystem of ``directory`` up to ``leave`` free bytes, as dd would."""
    with open(directory / "filler", "wb") as handle:
        block = b"\0" * (1 << 20)
        while True:
            free = os.statvfs(directory).f_bavail * os.statvfs(directory).f_frsize
            want = free - leave
            if want <= 0:
                break
            try:
                handle.write(block[: min(len(block), want)])
                handle.flush()
            except OSError:
                break


def names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_write_table_on_full_disk_names_file_and_free_space(small_disk, table_factory):
    fill(small_disk, leave=20_000)
    with pytest.raises(ResourceError) as info:
        write_table(small_disk / "shard.h5", table_factory(0, 20_000))
    message = str(info.value)
    assert "\n" not in message
    assert f"disk full while writing {small_disk / 'shard.h5'}" in message
    assert "bytes free" in message
    assert names(small_disk) == ["filler"], "no temporary, no partial file"


MERGE_ON_FULL_DISK = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from mocklens.errors import ResourceError
    from mocklens.io import merge_copy
    shards = sorted(Path(sys.argv[1]).glob("shard-*.h5"))
    try:
        merge_copy(shards, Path(sys.argv[2]), root_attrs={})
    except ResourceError as exc:
        print("error:", exc)
    """
)


def test_merge_on_full_disk_fails_cleanly_and_the_process_exits_cleanly(
    small_disk, table_factory
):
    shards = small_disk / "shards"
    shards.mkdir()
    start = 0
    for i in range(4):
        write_table(shards / f"shard-{i:03d}.h5", table_factory(start, start + 5000))
        start += 5000
    fill(small_disk, leave=200_000)  # less than the merged file needs
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = small_disk / "merged.h5"
    done = subprocess.run(
        [sys.executable, "-c", MERGE_ON_FULL_DISK, str(shards), str(out)],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]  # no segfault at exit (was 139)
    assert done.stderr == ""
    lines = done.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: disk full while writing {out}")
    assert "bytes free" in lines[0]
    assert names(small_disk) == ["filler", "shards"]
    assert len(list(shards.glob("shard-*.h5"))) == 4


SLOW_MERGE = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from mocklens.io import merge_copy
    shards = sorted(Path(sys.argv[1]).glob("shard-*.h5"))
    def slow(done, total):
        print("merged", done, "of", total, flush=True)
        time.sleep(60)
    merge_copy(shards, Path(sys.argv[2]), root_attrs={}, progress=slow)
    """
)


def test_killed_merge_leaves_a_temporary_that_is_removed_for_its_final_name(
    tmp_path, table_factory
):
    shards = tmp_path / "shards"
    shards.mkdir()
    for i in range(2):
        write_table(shards / f"shard-{i:03d}.h5", table_factory(i * 20_000, (i + 1) * 20_000))
    final = tmp_path / "merged.h5"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_MERGE, str(shards), str(final)],
        stdout=subprocess.PIPE, env=env,
    )  # fmt: skip
    try:
        assert proc.stdout.readline().startswith(b"merged 1 of 2")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    left = [p for p in tmp_path.iterdir() if p.name.startswith(".merged.h5.tmp-")]
    assert len(left) == 1 and left[0].stat().st_size > 1_000_000, "a large temporary stays"
    # Temporaries that must stay: a live writer's of the same name, a dead writer's of
    # another name (with a name that contains glob characters), another host's.
    live = temporary_name(final)
    live.write_bytes(b"")
    other_name = tmp_path / (left[0].name.replace(".merged.h5.", ".merged[1].h5.", 1))
    other_name.write_bytes(b"")
    other_host = tmp_path / ".merged.h5.tmp-some_other_node-1-0123abcd"
    other_host.write_bytes(b"")
    assert remove_stale_temporaries_of(final) == [left[0]]
    assert not left[0].exists()
    assert live.exists() and other_name.exists() and other_host.exists()
    assert remove_stale_temporaries_of(tmp_path / "merged[1].h5") == [other_name]
    live.unlink()
    # A rerun of the merge cleans up after a killed one by itself.
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_MERGE, str(shards), str(final)],
        stdout=subprocess.PIPE, env=env,
    )  # fmt: skip
    try:
        assert proc.stdout.readline().startswith(b"merged 1 of 2")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    deadline = time.time() + 5
    while time.time() < deadline and not list(tmp_path.glob(".merged.h5.tmp-*")):
        time.sleep(0.05)
    merge_copy(sorted(shards.glob("shard-*.h5")), final, root_attrs={})
    assert read_table(final).n_rows == 40_000
    assert sorted(p.name for p in tmp_path.glob(".merged.h5.tmp-*")) == [other_host.name]
