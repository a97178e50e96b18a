"""``mocklens jobs slurm``: render cluster job scripts for a run; ``jobs warm``: compile."""

from __future__ import annotations

from pathlib import Path

import click

from mocklens.cli.options import load_config_or_preset
from mocklens.errors import ConfigError


@click.group()
def jobs():
    """Write job scripts for clusters."""


@jobs.command("slurm")
@click.option("--config", "config", type=str, default=None, help="YAML or JSON run config.")
@click.option("--preset", type=str, default=None, help="Built-in config instead of --config.")
@click.option("--n", "n_samples", type=int, default=None, help="Number of lenses (overrides).")
@click.option("--seed", type=int, default=None, help="Root seed (overrides the config).")
@click.option("--tasks", "n_tasks", type=int, required=True, help="Array tasks.")
@click.option("--out", "out", type=str, required=True, help="Run directory (shards + master).")
@click.option("--ranks-per-task", type=int, default=1, show_default=True, help="MPI ranks.")
@click.option("--cpus-per-task", type=int, default=1, show_default=True, help="Threads/rank.")
@click.option("--time", "time_limit", type=str, default="01:00:00", show_default=True)
@click.option(
    "--stop-margin",
    type=int,
    default=300,
    show_default=True,
    help="Seconds before the time limit at which tasks stop and requeue [s].",
)
@click.option("--partition", type=str, default=None)
@click.option("--account", type=str, default=None)
@click.option("--mpi", type=str, default="pmi2", show_default=True, help="srun --mpi plugin.")
@click.option("--job-name", type=str, default="mocklens", show_default=True)
@click.option(
    "--numba-cache-dir",
    type=str,
    default=None,
    help="Shared numba cache of the run, compiled once by the warm-up job and copied to "
    "node-local disk by every task (default: OUT/.numba-cache). Must be on a filesystem "
    "every node sees.",
)
@click.option(
    "--setup",
    "setup_lines",
    type=str,
    multiple=True,
    help="Shell line run before Python in every job script (repeatable, kept in order; after "
    "the --setup-file lines), e.g. 'module load python/3.11' or 'source ~/venv/bin/activate'.",
)
@click.option(
    "--setup-file",
    type=str,
    default=None,
    help="File of shell set-up lines, run before the --setup lines.",
)
@click.option("--mem", type=str, default=None, help="SLURM memory per node of every job (4G).")
@click.option(
    "--python",
    "python",
    type=str,
    default=None,
    help="Interpreter the jobs run, absolute and on a shared filesystem (default: this one).",
)
@click.option(
    "--script-out",
    type=str,
    default=None,
    help="Path of the generate script (default OUT/jobs/generate.sbatch); the finalize and "
    "submit scripts go next to it.",
)
def jobs_slurm(
    config,
    preset,
    n_samples,
    seed,
    n_tasks,
    out,
    ranks_per_task,
    cpus_per_task,
    time_limit,
    stop_margin,
    partition,
    account,
    mpi,
    job_name,
    numba_cache_dir,
    setup_lines,
    setup_file,
    mem,
    python,
    script_out,
):
    """Write a SLURM warm-up job, array job, finalize job and a submit script for a run.

    The scripts run the interpreter that renders them (or --python) by its absolute path,
    so it must be on a filesystem the compute nodes see.
    """
    import sys

    from mocklens.config import resolve
    from mocklens.pipeline.jobs import SlurmJob, array_plan, read_setup_file, write_slurm
    from mocklens.pipeline.run import check_run_config, make_plan, write_run_config
    from mocklens.pipeline.shards import RunLayout

    cfg = resolve(load_config_or_preset(config, preset), n_samples=n_samples, seed=seed)
    run_dir = Path(out).resolve()
    if RunLayout.for_output(run_dir).single_file:
        raise ConfigError(f"--out {out}: array jobs need a run directory, not a file")
    plan_info = array_plan(cfg.n_samples, cfg.output.shard_size, max(n_tasks, 1))
    if n_tasks > plan_info["n_shards"]:
        raise ConfigError(
            f"--tasks {n_tasks} exceeds the run's {plan_info['n_shards']} shards; lower "
            "--tasks or output.shard_size"
        )
    job = SlurmJob(
        run_dir=run_dir,
        config_path=run_dir / "config.json",
        n_tasks=n_tasks,
        ranks_per_task=ranks_per_task,
        cpus_per_task=cpus_per_task,
        time=time_limit,
        stop_margin_s=stop_margin,
        partition=partition,
        account=account,
        mpi=mpi,
        job_name=job_name,
        numba_cache_dir=str(Path(numba_cache_dir).resolve()) if numba_cache_dir else None,
        python=python or sys.executable,
        setup=(*(read_setup_file(setup_file) if setup_file else ()), *setup_lines),
        mem=mem,
    )
    job.check()
    plan = make_plan(cfg, run_dir)
    # Refuse (exit 3, differences named) before writing anything when the run already has
    # shards of another config; a larger --n grows the run.
    for note in check_run_config(plan):
        click.echo(note)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_run_config(plan)
    if script_out:
        script = Path(script_out).resolve()
        paths = write_slurm(job, script.parent, script.name)
    else:
        paths = write_slurm(job, run_dir / "jobs")
    click.echo(
        f"{cfg.n_samples:,} lenses in {plan_info['n_shards']} shards of "
        f"{cfg.output.shard_size}; {n_tasks} tasks x {ranks_per_task} rank(s) x "
        f"{cpus_per_task} CPU(s), up to {plan_info['shards_per_task']} shards "
        f"({plan_info['lenses_per_task']:,} lenses) per task"
    )
    for name, path in paths.items():
        click.echo(f"wrote {path}  ({name})")
    click.echo(f"submit with: bash {paths['submit.sh']}")


@jobs.command("warm")
@click.option(
    "--config", "config", type=str, required=True, help="The run's config.json (or any config)."
)
def jobs_warm(config):
    """Compile every numba kernel of a run into NUMBA_CACHE_DIR (the warm-up job runs this)."""
    from mocklens.pipeline.jobs import warm_cache

    info = warm_cache(load_config_or_preset(config, None))
    what = (
        f"compiled ({info['written']} cache files written)"
        if info["written"]
        else "loaded from the cache (nothing compiled)"
    )
    click.echo(f"numba kernels {what} in {info['seconds']:.1f} s; cache {info['cache_dir']}")
