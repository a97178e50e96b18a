"""Strong scaling of ``mocklens generate`` under mpiexec, and a 10^8-lens array plan.

Runs the default recipe (1,000,000 point-source lenses, shards of ``output.shard_size``)
with ``mpiexec -n 1`` and ``mpiexec -n 2`` (one numba thread per rank), reads wall times and
the per-rank provenance (busy time in compute_range + write, driver overhead per shard) from
the output, and writes the "Scaling" section of ``benchmarks/README.md``.

    PYTHONPATH=. python benchmarks/bench_scaling.py            # ~5 min on 2 cores
    PYTHONPATH=. python benchmarks/bench_scaling.py --n 200000 --no-readme
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py

from mocklens.config import dump_json, get_preset, resolve

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "benchmarks" / "README.md"
SECTION = "## Scaling"


def mpiexec() -> str:
    beside = Path(sys.executable).parent / "mpiexec"
    return str(beside) if beside.exists() else (shutil.which("mpiexec") or "mpiexec")


def run(n_ranks: int, cfg: Path, out: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "PMI_"))}
    env.update(NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    cmd = [mpiexec(), "-n", str(n_ranks), sys.executable, "-m", "mpi4py", "-m", "mocklens"]
    cmd += ["generate", "--config", str(cfg), "--out", str(out), "--no-progress"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr}")
    with h5py.File(out / "dataset.h5") as f:
        prov = json.loads(f.attrs["provenance"])
    shard_bytes = sum(p.stat().st_size for p in (out / "shards").glob("shard-*.h5"))
    return {
        "ranks": n_ranks,
        "process_wall_s": wall,
        "loop_wall_s": prov["wall_s"],
        "warmup_s": prov["warmup_s"],
        "per_rank": prov["per_rank"],
        "shard_bytes": shard_bytes,
        "log": proc.stdout.strip().splitlines()[-1],
    }


def run_two_tasks(cfg: Path, out: Path) -> dict:
    """Two single-process array tasks (no MPI) at once: the machine's own 2-core ceiling."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "PMI_"))}
    env.update(NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    base = [sys.executable, "-m", "mocklens", "generate", "--config", str(cfg), "--out", str(out)]
    procs = [
        subprocess.Popen(
            [*base, "--task-id", str(i), "--n-tasks", "2", "--no-progress"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for i in range(2)
    ]
    walls = []
    for proc in procs:
        stdout, stderr = proc.communicate()
        if proc.returncode != 0:
            raise SystemExit(f"array task failed:\n{stderr}")
        walls.append(float(stdout.split("computed in ")[1].split(" s")[0]))
    return {"loop_wall_s": max(walls), "task_walls_s": walls}


def plan_1e8(bytes_per_sample: float, lenses_per_s_core: float, shard_size: int) -> dict:
    n, tasks = 10**8, 1000
    n_shards = math.ceil(n / shard_size)
    per_task = math.ceil(n_shards / tasks)
    lenses_task = per_task * shard_size
    return {
        "n": n,
        "tasks": tasks,
        "shard_size": shard_size,
        "n_shards": n_shards,
        "shards_per_task": per_task,
        "lenses_per_task": lenses_task,
        "files": n_shards + 2,  # shards + master + config.json
        "bytes_total": bytes_per_sample * n,
        "bytes_per_shard": bytes_per_sample * shard_size,
        "task_compute_s_1cpu": lenses_task / lenses_per_s_core,
    }


def render(n: int, shard_size: int, r1: dict, r2: dict, pair: dict, plan: dict) -> str:
    eff_loop = r1["loop_wall_s"] / (2 * r2["loop_wall_s"])
    eff_proc = r1["process_wall_s"] / (2 * r2["process_wall_s"])
    eff_pair = r1["loop_wall_s"] / (2 * pair["loop_wall_s"])
    overhead = max(r["overhead_s_per_shard"] for r in r2["per_rank"])
    busy = [r["busy_s"] for r in r2["per_rank"]]
    rate1 = n / r1["loop_wall_s"]
    shard_s = r2["loop_wall_s"] / max(x["shards"] for x in r2["per_rank"])
    bps = r1["shard_bytes"] / n
    cpu = platform.processor() or platform.machine()
    lines = [
        SECTION,
        "",
        "`benchmarks/bench_scaling.py` runs `mpiexec -n 1` and `mpiexec -n 2` (MPICH from PyPI,",
        "`python -m mpi4py -m mocklens generate`, one numba thread per rank) on the default",
        f"recipe with {n:,} point-source lenses in shards of {shard_size:,}, into a run directory",
        '(shards + virtual master). "Loop" is the shard loop after start-up and numba warm-up',
        '(provenance `wall_s`); "process" is the whole mpiexec command (imports, cache load,',
        "finalize). Driver overhead per shard = loop wall time not spent in `compute_range` or",
        "writing (stop checks, progress messages), the maximum over ranks.",
        "",
        "```",
        "PYTHONPATH=. python benchmarks/bench_scaling.py",
        "```",
        "",
        "| ranks | loop wall [s] | process wall [s] | numba warm-up [s] | lenses/s | "
        "shards per rank |",
        "|---|---|---|---|---|---|",
    ]
    for r in (r1, r2):
        lines.append(
            f"| {r['ranks']} | {r['loop_wall_s']:.1f} | {r['process_wall_s']:.1f} | "
            f"{r['warmup_s']:.1f} | "
            f"{n / r['loop_wall_s']:,.0f} | "
            f"{', '.join(str(x['shards']) for x in r['per_rank'])} |"
        )
    lines += [
        "",
        f"- Parallel efficiency on 2 cores: **{100 * eff_loop:.1f}%** (shard loop), "
        f"{100 * eff_proc:.1f}% (whole command, including the fixed start-up).",
        f"- Ceiling of this machine: two independent single-process array tasks (no MPI, "
        f"`--task-id 0/1 --n-tasks 2`) at once reach {100 * eff_pair:.1f}% "
        f"(task loops {', '.join(f'{w:.1f}' for w in pair['task_walls_s'])} s). The MPI "
        f"run is {abs(100 * (eff_pair - eff_loop)):.1f} points "
        f"{'below' if eff_pair >= eff_loop else 'above'} it: what is lost on 2 cores is the "
        "per-core speed when both cores are busy (a KVM guest on a shared host), not the "
        "driver or the split.",
        f"- Driver overhead: {1e3 * overhead:.2f} ms per shard "
        f"({100 * overhead / shard_s:.3f}% of a shard's {shard_s:.1f} s); busy time per rank "
        f"{', '.join(f'{b:.1f}' for b in busy)} s.",
        f"- Output: {bps:,.0f} bytes per lens on disk (gzip + shuffle + fletcher32, K = 5).",
        f"- Machine: {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        "shared with other work while measured, so expect ~10% noise.",
        "",
        "### Plan: 10^8 lenses as a 1,000-task SLURM array",
        "",
        "```",
        "mocklens jobs slurm --config cfg.yaml --n 100000000 --tasks 1000 --out run/ \\",
        "    --ranks-per-task 1 --cpus-per-task 1 --time 01:00:00",
        "bash run/jobs/submit.sh",
        "```",
        "",
        "| quantity | value |",
        "|---|---|",
        f"| shard size (`output.shard_size`) | {plan['shard_size']:,} lenses |",
        f"| shards | {plan['n_shards']:,} (+ `dataset.h5` master + `config.json`: "
        f"{plan['files']:,} files) |",
        f"| shards per task | {plan['shards_per_task']} ({plan['lenses_per_task']:,} lenses) |",
        f"| size per shard | {plan['bytes_per_shard'] / 1e6:.1f} MB |",
        f"| total size | {plan['bytes_total'] / 1e9:.0f} GB (the master is a few MB; "
        "`mocklens merge` doubles it) |",
        f"| compute per task, 1 core | {plan['task_compute_s_1cpu']:.0f} s "
        f"(at the measured {rate1:,.0f} lenses/s/core) + ~5 s start-up with a warm numba "
        "cache, ~40 s to fill an empty one |",
        f"| CPU time in total | {1e8 / rate1 / 3600:.0f} core-hours |",
        "",
        "At this solver speed a 1,000-task split is finer than useful: each task computes for",
        "seconds, so its start-up (interpreter, numba cache: 5-40 s) and queue wait dominate.",
        "The same 10,000 shards as `--tasks 100` (100 shards, ~1 M lenses, about a minute per",
        "task) or with `output.shard_size: 100000` cost less overhead; 1,000 tasks pay off for",
        "slower recipes (broad EPL family ~4x, images). Any `--time` well above the compute",
        "time works; a task stopped by the time limit (SIGUSR1 `--stop-margin` seconds before) or",
        "by preemption finishes the shard in hand, exits 99 and requeues itself, and the rerun",
        "skips its finished shards. Shard time (~0.5 s here) must stay below the stop margin.",
        "",
    ]
    return "\n".join(lines)


def write_readme(section: str) -> None:
    text = README.read_text()
    if SECTION in text:
        head, _, rest = text.partition(SECTION)
        nxt = rest.find("\n## ")
        text = head + section + (rest[nxt + 1 :] if nxt >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    README.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--no-readme", action="store_true")
    args = parser.parse_args()
    cfg = resolve(get_preset("default"), n_samples=args.n, seed=2024)
    shard_size = cfg.output.shard_size
    with tempfile.TemporaryDirectory(prefix="mocklens-scaling-") as tmp:
        cfg_path = Path(tmp) / "cfg.json"
        cfg_path.write_text(dump_json(cfg))
        warm = Path(tmp) / "warm.json"
        warm.write_text(dump_json(resolve(cfg, n_samples=2000)))
        run(1, warm, Path(tmp) / "warm")  # fill numba's cache once (not timed)
        results = {}
        for n_ranks in (1, 2):
            results[n_ranks] = run(n_ranks, cfg_path, Path(tmp) / f"n{n_ranks}")
            print(json.dumps({k: v for k, v in results[n_ranks].items() if k != "per_rank"}))
        pair = run_two_tasks(cfg_path, Path(tmp) / "pair")
        print(json.dumps(pair))
    r1, r2 = results[1], results[2]
    plan = plan_1e8(r1["shard_bytes"] / args.n, args.n / r1["loop_wall_s"], shard_size)
    section = render(args.n, shard_size, r1, r2, pair, plan)
    print(section)
    if not args.no_readme:
        write_readme(section)


if __name__ == "__main__":
    main()
