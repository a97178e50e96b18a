"""What a run prints when nobody watches a terminal (nohup, SLURM logs): real CLI, pipes.

- before the numba warm-up a line says whether kernels are compiled (first run, 30-40 s) or
  loaded, and after it how long that took;
- with stderr not a terminal, a ``progress:`` line at least every 10% of the work (done of
  total, lenses/s, ETA), the same helper as the MPI driver's lines.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from mocklens.config import dump_json
from tests.conftest import small_config

#: Any command must end within this long; a cold compile takes 30-40 s [s].
COMMAND_TIMEOUT_S = 600
PROGRESS = re.compile(
    r"^progress: ([\d,]+) of ([\d,]+) lenses \((\d+)%\), [\d,]+ lenses/s, ETA \d+ (s|min)"
)


def generate(tmp_path, out, n, shard_size, env=None):
    cfg = tmp_path / f"cfg-{n}.json"
    cfg.write_text(dump_json(small_config(n=n, shard_size=shard_size, seed=2)))
    proc = subprocess.run(
        [sys.executable, "-m", "mocklens", "generate", "--config", cfg, "--out", out],
        capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, stdin=subprocess.DEVNULL,
        env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout.splitlines()


def test_progress_lines_without_a_terminal(tmp_path):
    lines = generate(tmp_path, tmp_path / "run", n=4_000, shard_size=200)
    found = [PROGRESS.match(line) for line in lines]
    found = [m for m in found if m]
    percents = [int(m[3]) for m in found]
    assert len(found) >= 10, lines  # 20 shards: one line per 10%
    assert percents == sorted(percents) and percents[-1] == 100, lines
    assert all(m[2] == "4,000" for m in found)
    steps = [b - a for a, b in zip([0, *percents], percents, strict=False)]
    assert max(steps) <= 10, lines


@pytest.mark.slow
def test_warm_up_says_compiling_then_loading(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba-cache"))
    first = generate(tmp_path, tmp_path / "a.h5", n=40, shard_size=20, env=env)
    assert "compiling kernels (first run only, ~40 s) ..." in first, first
    assert any(re.match(r"kernels compiled in [\d.]+ s", ln) for ln in first), first
    assert first.index("compiling kernels (first run only, ~40 s) ...") < next(
        i for i, ln in enumerate(first) if ln.startswith("progress:")
    )
    second = generate(tmp_path, tmp_path / "b.h5", n=40, shard_size=20, env=env)
    assert "loading compiled kernels ..." in second, second
    assert any(re.match(r"kernels ready in [\d.]+ s", ln) for ln in second), second
