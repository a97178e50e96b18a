import pytest
from hypothesis import given
from hypothesis import strategies as st

from mocklens.errors import ConfigError, ResourceError
from mocklens.pipeline.jobs import array_plan, render, time_seconds
from mocklens.pipeline.manage import format_ids
from mocklens.pipeline.run import check_slurm_size, task_shards
from mocklens.pipeline.shards import plan_shards


@given(st.integers(1, 500), st.integers(1, 40))
def test_task_shards_partition_the_run(n_shards, n_tasks):
    shards = plan_shards(n_shards * 3, 3)
    owned = [s.id for t in range(n_tasks) for s in task_shards(shards, t, n_tasks)]
    assert sorted(owned) == list(range(n_shards))


def test_task_shards_refuses_bad_ids():
    shards = plan_shards(10, 1)
    for task_id, n_tasks in ((3, 3), (-1, 3), (0, 0)):
        with pytest.raises(ConfigError):
            task_shards(shards, task_id, n_tasks)


def test_format_ids():
    assert format_ids([]) == ""
    assert format_ids([0, 1, 2, 5, 7, 8]) == "0-2, 5, 7-8"


@pytest.mark.parametrize(
    "text, seconds",
    [("30", 1800), ("10:00", 600), ("01:00:00", 3600), ("2-00", 172800), ("1-02:03:04", 93784)],
)
def test_time_seconds(text, seconds):
    assert time_seconds(text) == seconds


def test_render_refuses_missing_values():
    assert render("a {{X}} b", {"X": "1"}) == "a 1 b"
    with pytest.raises(ConfigError, match="Y"):
        render("{{X}} {{Y}}", {"X": "1"})


def test_array_plan():
    assert array_plan(10**8, 10_000, 1000) == {
        "n_shards": 10_000,
        "shards_per_task": 10,
        "lenses_per_task": 100_000,
    }


def test_slurm_size_check(monkeypatch):
    monkeypatch.delenv("SLURM_STEP_ID", raising=False)
    monkeypatch.setenv("SLURM_NTASKS", "4")
    check_slurm_size(1)  # batch shell, not a step: nothing to compare
    monkeypatch.setenv("SLURM_STEP_ID", "0")
    check_slurm_size(4)
    with pytest.raises(ResourceError, match="SLURM_NTASKS=4"):
        check_slurm_size(1)
