"""The free-space check estimates bytes per lens from the format, close to what is written."""

from __future__ import annotations

from mocklens.config import dump_json
from mocklens.io import read_table
from mocklens.pipeline.catalog import column_layout
from mocklens.pipeline.launch import generate
from mocklens.pipeline.run import DISK_SAFETY, bytes_per_sample
from tests.conftest import small_config


def test_estimate_is_the_real_size_with_its_margin(tmp_path):
    cfg = small_config(n=4000, shard_size=2000)
    generate(cfg, str(tmp_path / "run"), echo=lambda line: None)
    shards = sorted((tmp_path / "run" / "shards").glob("shard-*.h5"))
    measured = sum(p.stat().st_size for p in shards) / cfg.n_samples
    estimate = bytes_per_sample(cfg) / DISK_SAFETY
    # the old constant (1,500 B) was 6.5x the real size; within 25% either way is a format
    # estimate, and the safety margin then keeps the check on the safe side
    assert 0.75 * measured < estimate < 1.25 * measured, (estimate, measured)
    assert bytes_per_sample(cfg) > measured


def test_column_layout_is_the_written_layout(tmp_path):
    cfg = small_config(n=50, shard_size=50)
    out = tmp_path / "one.h5"
    generate(cfg, str(out), echo=lambda line: None)
    written = {k: (v.dtype, v.shape[1:]) for k, v in read_table(out).columns.items()}
    assert column_layout(cfg) == written, dump_json(cfg)
