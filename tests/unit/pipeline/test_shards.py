from hypothesis import given
from hypothesis import strategies as st

from mocklens.pipeline.shards import RunLayout, plan_shards


@given(st.integers(1, 10_000), st.integers(1, 3_000))
def test_shards_cover_range_exactly_once(n, size):
    shards = plan_shards(n, size)
    covered = [i for s in shards for i in range(s.start, s.stop)]
    assert covered == list(range(n))
    assert all(1 <= s.size <= size for s in shards)
    assert [s.id for s in shards] == list(range(len(shards)))


def test_layout_file_vs_directory(tmp_path):
    f = RunLayout.for_output(tmp_path / "x.h5")
    assert f.single_file and f.final_path == tmp_path / "x.h5"
    assert f.shard_dir == tmp_path / "x.h5.parts"
    d = RunLayout.for_output(tmp_path / "run")
    assert not d.single_file and d.final_path == tmp_path / "run" / "dataset.h5"
