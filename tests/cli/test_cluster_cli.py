"""CLI of cluster runs: status, finalize, merge, array mode and ``jobs slurm`` rendering."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from mocklens.cli.main import cli
from mocklens.config import config_from_dict, dump_json
from mocklens.io import read_table
from mocklens.pipeline import jobs as jobs_mod

ROOT = Path(__file__).resolve().parents[2]


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def assert_same(a, b):
    ca, cb = read_table(a).columns, read_table(b).columns
    assert ca.keys() == cb.keys()
    for key in ca:
        assert ca[key].tobytes() == cb[key].tobytes(), key


@pytest.fixture
def run_dir(tmp_path, write_config):
    cfg = write_config(n=120, shard_size=30)
    out = tmp_path / "run"
    assert run("generate", "--config", cfg, "--out", out).exit_code == 0
    return cfg, out


def test_status_done_missing_corrupt(run_dir):
    cfg, out = run_dir
    r = run("status", out)
    assert r.exit_code == 0, r.output
    assert re.search(r"done\s+4\s+\(0-3\)", r.output)
    (out / "shards" / "shard-000001.h5").unlink()
    shard = out / "shards" / "shard-000002.h5"
    shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])
    r = run("status", out)
    assert r.exit_code == 1
    assert re.search(r"done\s+2\s+\(0, 3\)", r.output)
    assert re.search(r"missing\s+1\s+\(1\)", r.output)
    assert re.search(r"corrupt\s+1\s+\(2\)", r.output)
    r = run("status", out, "--json")
    assert '"complete": false' in r.output
    # finalize refuses, generate redoes exactly the two bad shards
    r = run("finalize", out)
    assert r.exit_code == 4 and "2 of 4 shards not done" in r.output
    r = run("generate", "--config", cfg, "--out", out)
    assert r.exit_code == 0 and "resuming: 2 of 4" in r.output
    assert run("status", out).exit_code == 0


def test_merge_and_finalize(run_dir, tmp_path):
    _, out = run_dir
    r = run("merge", out, "--out", tmp_path / "m.h5")
    assert r.exit_code == 0, r.output
    assert_same(out / "dataset.h5", tmp_path / "m.h5")
    assert run("merge", out, "--out", tmp_path / "m.h5").exit_code == 3
    assert (
        run("merge", out / "dataset.h5", "--out", tmp_path / "m.h5", "--overwrite").exit_code == 0
    )
    (out / "dataset.h5").unlink()
    assert run("finalize", out).exit_code == 0
    assert_same(out / "dataset.h5", tmp_path / "m.h5")
    # plain h5py reads both without mocklens
    code = (
        "import h5py, sys; f = h5py.File(sys.argv[1]); "
        "print(f['point/x'].shape, float(f['lens/theta_E'][:].sum()))"
    )
    outs = [
        subprocess.run(
            [sys.executable, "-I", "-c", code, str(p)], capture_output=True, text=True, check=True
        ).stdout
        for p in (out / "dataset.h5", tmp_path / "m.h5")
    ]
    assert outs[0] == outs[1] and "(120, 5)" in outs[0]


def test_array_mode_refusals(tmp_path, write_config):
    cfg = write_config(n=60, shard_size=30)
    r = run("generate", "--config", cfg, "--out", tmp_path / "x.h5", "--task-id", 0, "--n-tasks", 2)
    assert r.exit_code == 2 and "directory --out" in r.output
    r = run("generate", "--config", cfg, "--out", tmp_path / "d", "--task-id", 0)
    assert r.exit_code == 2 and "--n-tasks" in r.output
    r = run("generate", "--config", cfg, "--out", tmp_path / "d", "--task-id", 2, "--n-tasks", 2)
    assert r.exit_code == 2
    r = run(
        "generate", "--config", cfg, "--out", tmp_path / "d", "--task-id", 0, "--n-tasks", 2,
        "--overwrite",
    )  # fmt: skip
    assert r.exit_code == 3 and "--overwrite" in r.output


def test_status_of_a_rendered_but_unstarted_run(tmp_path, write_config):
    cfg = write_config(n=100, shard_size=10)
    out = tmp_path / "run"
    r = run("jobs", "slurm", "--config", cfg, "--n", 90, "--tasks", 3, "--out", out)
    assert r.exit_code == 0, r.output
    r = run("status", out)
    assert r.exit_code == 1 and re.search(r"missing\s+9\s+\(0-8\)", r.output)


@pytest.mark.parametrize("ranks", [1, 4])
def test_jobs_slurm_fills_every_placeholder(tmp_path, write_config, ranks):
    cfg = write_config(n=100_000, shard_size=1_000)
    out = tmp_path / "run"
    r = run(
        "jobs", "slurm", "--config", cfg, "--n", 50_000, "--tasks", 7, "--out", out,
        "--ranks-per-task", ranks, "--cpus-per-task", 2, "--time", "2:00:00",
        "--partition", "short", "--account", "lens",
        "--script-out", tmp_path / "s" / "gen.sbatch",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "50 shards" in r.output and "up to 8 shards" in r.output
    gen = (tmp_path / "s" / "gen.sbatch").read_text()
    fin = (tmp_path / "s" / "finalize.sbatch").read_text()
    sub = (tmp_path / "s" / "submit.sh").read_text()
    for text in (gen, fin, sub):
        assert "{{" not in text and "}}" not in text
    for line in (
        "#SBATCH --array=0-6",
        f"#SBATCH --ntasks={ranks}",
        "#SBATCH --cpus-per-task=2",
        "#SBATCH --time=2:00:00",
        "#SBATCH --signal=B:USR1@300",
        "#SBATCH --requeue",
        "#SBATCH --open-mode=append",
        "#SBATCH --partition=short",
        "#SBATCH --account=lens",
        'scontrol requeue "${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"',
        "NUMBA_NUM_THREADS=${SLURM_CPUS_PER_TASK",
        f"CONFIG={out.resolve() / 'config.json'}",
        f"PYTHON={sys.executable}",
        '--n-tasks "$N_TASKS"',
    ):
        assert line in gen, line
    assert ("srun --mpi=pmi2" in gen) == (ranks > 1)
    assert '$SLURM_JOB_ID"' not in gen.replace("SLURM_JOB_ID}", "")
    assert "mocklens finalize" in fin and "mocklens validate" in fin
    assert "--dependency=afterok:" in sub
    assert '"n_samples":50000' in (out / "config.json").read_text().replace(" ", "")
    for script in (tmp_path / "s" / "gen.sbatch", tmp_path / "s" / "submit.sh"):
        assert subprocess.run(["bash", "-n", str(script)]).returncode == 0


@pytest.mark.parametrize(
    "args, message",
    [
        (("--tasks", 11), "exceeds the run's 10 shards"),
        (("--tasks", 2, "--time", "10:00", "--stop-margin", 900), "--stop-margin"),
        (("--tasks", 2, "--time", "soon"), "--time"),
        (("--tasks", 0), "--tasks must be >= 1"),
    ],
)
def test_jobs_slurm_refuses(tmp_path, write_config, args, message):
    cfg = write_config(n=100, shard_size=10)
    r = run("jobs", "slurm", "--config", cfg, "--out", tmp_path / "run", *args)
    assert r.exit_code == 2 and message in r.output, r.output


def test_templates_found_in_checkout_and_shipped_in_wheel(tmp_path):
    assert jobs_mod.template_dir() == ROOT / "jobs"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (wheel,) = tmp_path.glob("mocklens-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        zf.extractall(tmp_path / "site")
    for name in jobs_mod.TEMPLATES.values():
        assert f"mocklens/_jobs/{name}" in names
    code = "from mocklens.pipeline.jobs import template_dir; print(template_dir())"
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True,
        env={"PYTHONPATH": str(tmp_path / "site"), "PATH": "/usr/bin:/bin"}, cwd=tmp_path,
    ).stdout.strip()  # fmt: skip
    assert found == str(tmp_path / "site" / "mocklens" / "_jobs")


def rendered(out):
    return {p.name: p.read_text() for p in sorted((out / "jobs").iterdir())}


def test_jobs_slurm_setup_lines_mem_and_python_in_every_script(tmp_path, write_config):
    cfg = write_config(n=100, shard_size=10)
    setup_file = tmp_path / "env.sh"
    setup_file.write_text("module purge\nmodule load gcc/12 python/3.11\n\n")
    out = tmp_path / "run"
    python = tmp_path / "shared" / "venv" / "bin" / "python"
    r = run(
        "jobs", "slurm", "--config", cfg, "--tasks", 2, "--out", out,
        "--setup-file", setup_file, "--setup", "source /opt/venv/bin/activate",
        "--setup", "export OMPI_MCA_btl=^openib", "--mem", "4G", "--python", python,
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    setup = [
        "module purge",
        "module load gcc/12 python/3.11",
        "source /opt/venv/bin/activate",
        "export OMPI_MCA_btl=^openib",
    ]
    scripts = rendered(out)
    assert set(scripts) == {
        "warm.sbatch", "generate.sbatch", "finalize.sbatch", "numba-cache.sh", "submit.sh",
    }  # fmt: skip
    for name, text in scripts.items():
        assert "{{" not in text and "}}" not in text, name
        assert subprocess.run(["bash", "-n", str(out / "jobs" / name)]).returncode == 0, name
    for name in ("warm.sbatch", "generate.sbatch", "finalize.sbatch"):
        lines = scripts[name].splitlines()
        at = [lines.index(line) for line in setup]
        assert at == sorted(at) and at[-1] - at[0] == len(setup) - 1, name  # in order, together
        first_python = min(i for i, line in enumerate(lines) if '"$PYTHON"' in line)
        assert at[-1] < first_python, name
        assert "#SBATCH --mem=4G" in lines, name
        # the #SBATCH block must come before the first command, or sbatch ignores the rest
        sbatch = [i for i, line in enumerate(lines) if line.startswith("#SBATCH")]
        assert max(sbatch) < at[0], name
        assert f"PYTHON={python}" in lines, name


@pytest.mark.parametrize(
    "args, message",
    [
        (("--mem", "4GB"), "--mem '4GB': expected a whole number"),
        (("--mem", "-1G"), "--mem '-1G'"),
        (("--mem", "lots"), "--mem 'lots'"),
        (("--setup-file", "/nonexistent/env.sh"), "--setup-file /nonexistent/env.sh: no such file"),
        (("--python", "python3"), "--python python3: must be an absolute path"),
    ],
)
def test_jobs_slurm_refuses_bad_environment_options(tmp_path, write_config, args, message):
    cfg = write_config(n=100, shard_size=10)
    out = tmp_path / "run"
    r = CliRunner().invoke(
        cli, ["jobs", "slurm", "--config", str(cfg), "--out", str(out), "--tasks", "2", *args]
    )
    assert r.exit_code == 2, r.output
    assert r.stderr.strip().count("\n") == 0 and message in r.stderr, r.stderr
    assert not out.exists()


def test_jobs_slurm_warm_job_and_shared_cache(tmp_path, write_config):
    """submit.sh runs a warm-up job first; the array waits for it and reads its cache."""
    cfg = write_config(n=100, shard_size=10)
    out = tmp_path / "run"
    assert run("jobs", "slurm", "--config", cfg, "--tasks", 2, "--out", out).exit_code == 0
    scripts = rendered(out)
    cache = out.resolve() / ".numba-cache"
    assert f"export NUMBA_CACHE_DIR={cache}" in scripts["warm.sbatch"]
    assert "-m mocklens jobs warm" in scripts["warm.sbatch"]
    assert f"SHARED_NUMBA_CACHE={cache}" in scripts["generate.sbatch"]
    assert "TMPDIR" not in scripts["warm.sbatch"]  # the shared cache is not per job
    submit = scripts["submit.sh"]
    warm_at, array_at = submit.index("warm.sbatch"), submit.index("generate.sbatch")
    assert warm_at < array_at
    assert '--dependency=afterok:"${warm}"' in submit
    other = tmp_path / "cache"
    r = run(
        "jobs", "slurm", "--config", cfg, "--tasks", 2, "--out", out, "--numba-cache-dir", other
    )
    assert r.exit_code == 0, r.output
    assert f"SHARED_NUMBA_CACHE={other}" in rendered(out)["generate.sbatch"]


def test_jobs_warm_needs_a_cache_dir(tmp_path, write_config, monkeypatch):
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    r = CliRunner().invoke(
        cli, ["jobs", "warm", "--config", str(write_config(n=10, shard_size=10))]
    )
    assert r.exit_code == 2 and "NUMBA_CACHE_DIR is not set" in r.stderr


def test_jobs_slurm_on_a_run_with_shards(tmp_path, write_config):
    """Another seed is refused with the scripts left as they were; a larger --n grows."""
    cfg = write_config(n=40, shard_size=10, seed=3)
    out = tmp_path / "run"
    assert run("jobs", "slurm", "--config", cfg, "--tasks", 2, "--out", out).exit_code == 0
    assert run("generate", "--config", out / "config.json", "--out", out).exit_code == 0
    before = rendered(out)
    config_before = (out / "config.json").read_text()
    r = CliRunner().invoke(
        cli, ["jobs", "slurm", "--config", str(cfg), "--seed", "4", "--tasks", "2",
              "--out", str(out), "--setup", "module load other"],
    )  # fmt: skip
    assert r.exit_code == 3, r.output
    assert "seed: 3 -> 4" in r.stderr and r.stderr.strip().count("\n") == 0
    assert rendered(out) == before and (out / "config.json").read_text() == config_before
    r = run("jobs", "slurm", "--config", cfg, "--n", 60, "--tasks", 2, "--out", out)
    assert r.exit_code == 0, r.output
    assert "growing the run from 40 to 60 lenses" in r.output
    assert json.loads((out / "config.json").read_text())["n_samples"] == 60


def test_array_task_refuses_an_edited_config_json_beside_shards(tmp_path, write_config):
    cfg = write_config(n=40, shard_size=10, seed=3)
    out = tmp_path / "run"
    assert run("jobs", "slurm", "--config", cfg, "--tasks", 2, "--out", out).exit_code == 0
    task = ("--config", out / "config.json", "--out", out, "--n-tasks", 2, "--no-progress")
    assert run("generate", *task, "--task-id", 0).exit_code == 0
    data = json.loads((out / "config.json").read_text())
    data["seed"] = 4  # what a task sees when config.json is edited after shards exist
    (out / "config.json").write_text(dump_json(config_from_dict(data)))
    shards_before = sorted(p.name for p in (out / "shards").glob("shard-*.h5"))
    r = CliRunner().invoke(cli, ["generate", *map(str, task), "--task-id", "1"])
    assert r.exit_code == 3, r.output
    assert "seed: 3 -> 4" in r.stderr
    assert sorted(p.name for p in (out / "shards").glob("shard-*.h5")) == shards_before
