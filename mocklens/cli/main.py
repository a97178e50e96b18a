"""``mocklens`` command line: parse, build a RunConfig, call the pipeline. No numerics here.

Every user error is a :class:`~mocklens.errors.MockLensError`; it is printed as one line
``error: ...`` on stderr and the process exits with the error's code (config errors 2,
existing output 3, bad dataset 4, resources 5, stop requested 99).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mocklens._version import __version__
from mocklens.errors import ConfigError, MockLensError


class _Group(click.Group):
    """Click group that turns MockLensError into a one-line message and its exit code."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except MockLensError as exc:
            # MPI runs raise the same error on every rank; ranks other than 0 mark it quiet.
            if not getattr(exc, "quiet", False):
                click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mocklens")
def cli():
    """Generate reproducible simulated strong-lens datasets for machine learning."""


def _load(config: str | None, preset: str | None):
    from mocklens.config import get_preset, load_config

    if config and preset:
        raise ConfigError("give either --config or --preset, not both")
    if config:
        if not Path(config).exists():
            raise ConfigError(f"--config: {config}: no such file")
        return load_config(config)
    return get_preset(preset or "default")


@cli.command()
@click.option("--config", "config", type=str, default=None, help="YAML or JSON run config.")
@click.option(
    "--preset",
    type=str,
    default=None,
    help="Built-in config: default, both, shear, ellipticity (default: default).",
)
@click.option("--n", "n_samples", type=int, default=None, help="Number of lenses (overrides).")
@click.option("--seed", type=int, default=None, help="Root seed (overrides the config).")
@click.option(
    "--out",
    "out",
    type=str,
    required=True,
    help="FILE.h5 for one merged file, or a directory for shards + virtual master.",
)
@click.option("--overwrite", is_flag=True, help="Replace existing output.")
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Progress bar (default: when stderr is a terminal).",
)
@click.option(
    "--task-id",
    type=int,
    default=None,
    help="SLURM-array mode: this task's index (e.g. $SLURM_ARRAY_TASK_ID); needs --n-tasks.",
)
@click.option(
    "--n-tasks",
    type=int,
    default=None,
    help="SLURM-array mode: number of tasks; the task computes shards task-id::n-tasks and "
    "does not finalize (run `mocklens finalize DIR` after all tasks).",
)
def generate(config, preset, n_samples, seed, out, overwrite, progress, task_id, n_tasks):
    """Generate a dataset of point-source lenses (resumes an interrupted run).

    Under mpiexec (``mpiexec -n 4 python -m mpi4py -m mocklens generate ...``) or
    ``srun --mpi=pmi2`` every rank computes shards; the rank count is detected.
    """
    from mocklens.config import resolve
    from mocklens.pipeline.launch import generate as run_generate

    cfg = resolve(_load(config, preset), n_samples=n_samples, seed=seed)
    if progress is None:
        progress = sys.stderr.isatty()
    run_generate(
        cfg,
        out,
        overwrite=overwrite,
        progress=progress,
        echo=click.echo,
        task_id=task_id,
        n_tasks=n_tasks,
    )


@cli.command()
@click.argument("run_dir", type=str)
@click.option("--quick", is_flag=True, help="Check markers and config only, not every chunk.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status(run_dir, quick, as_json):
    """Show done, missing, corrupt and foreign shards of a run (exit 0 complete, 1 not).

    Shards are read in full to find corrupt chunks unless --quick is given. Exit code 1
    means "not complete yet" (rerun the generate command or resubmit the array).
    """
    import json

    from mocklens.pipeline.manage import format_ids, load_run, run_status

    plan = load_run(run_dir)
    st = run_status(plan, verify=not quick)
    if as_json:
        click.echo(json.dumps(st, indent=2))
    else:
        click.echo(
            f"{plan.layout.out}: {st['n_samples']:,} lenses in {st['n_shards']} shards of "
            f"{plan.cfg.output.shard_size}"
        )
        for key in ("done", "missing", "corrupt", "foreign"):
            ids = st[key]
            click.echo(f"  {key:<8} {len(ids):>6}" + (f"  ({format_ids(ids)})" if ids else ""))
        if st["in_progress"]:
            click.echo(f"  being written: {len(st['in_progress'])} temporary file(s)")
        click.echo(f"  final    {st['final'] or '(not built: run mocklens finalize)'}")
    sys.exit(0 if st["complete"] else 1)


@cli.command()
@click.argument("run_dir", type=str)
def finalize(run_dir):
    """Build the run's master file (HDF5 virtual datasets over the shards) once all exist."""
    from mocklens.pipeline.manage import finalize_run, load_run

    final = finalize_run(load_run(run_dir))
    click.echo(f"wrote {final}")


@cli.command()
@click.argument("run_dir", type=str)
@click.option("--out", "dest", type=str, required=True, help="Merged FILE.h5 to write.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --out.")
def merge(run_dir, dest, overwrite):
    """Copy every shard of a complete run into one self-contained HDF5 file."""
    from mocklens.pipeline.manage import load_run, merge_run

    final = merge_run(load_run(run_dir), dest, overwrite=overwrite)
    click.echo(f"wrote {final}")


@cli.group()
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
    help="NUMBA_CACHE_DIR of the tasks (default: node-local, per array job).",
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
    script_out,
):
    """Write a SLURM array job, its finalize job and a submit script for a run."""
    from mocklens.config import resolve
    from mocklens.pipeline.jobs import SlurmJob, array_plan, write_slurm
    from mocklens.pipeline.run import make_plan, write_run_config
    from mocklens.pipeline.shards import RunLayout

    cfg = resolve(_load(config, preset), n_samples=n_samples, seed=seed)
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
        numba_cache_dir=numba_cache_dir,
    )
    job.check()
    plan = make_plan(cfg, run_dir)
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


@cli.command("config")
@click.option(
    "--preset",
    type=str,
    default="default",
    show_default=True,
    help="default, both, shear or ellipticity.",
)
def config_cmd(preset):
    """Print a complete, commented config to edit."""
    from mocklens.config import PRESETS, preset_yaml

    if preset not in PRESETS:
        raise ConfigError(f"--preset: unknown preset {preset!r}; choose from {', '.join(PRESETS)}")
    click.echo(preset_yaml(preset), nl=False)


@cli.command()
@click.argument("path", type=str)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def info(path, as_json):
    """Summarise a dataset: counts, doubles/quads, parameter ranges, provenance."""
    import json

    from mocklens.pipeline.inspect import format_summary, summarize
    from mocklens.pipeline.shards import RunLayout

    p = Path(path)
    if p.is_dir():
        p = RunLayout.for_output(p).final_path
    s = summarize(p)
    click.echo(json.dumps(s, indent=2, default=str) if as_json else format_summary(s))


@cli.command()
@click.argument("path", type=str)
def validate(path):
    """Check a config (.yaml/.yml/.json) or a dataset (.h5) and say exactly what is wrong."""
    from mocklens.errors import DatasetError

    p = Path(path)
    if not p.exists():
        raise ConfigError(f"{path}: no such file")
    if p.suffix.lower() in (".yaml", ".yml", ".json"):
        from mocklens.config import load_config

        cfg = load_config(p)
        click.echo(f"{path}: valid config ({cfg.n_samples} samples, family {cfg.family})")
        return
    from mocklens.pipeline.inspect import validate_dataset

    target = p
    if p.is_dir():
        from mocklens.pipeline.shards import RunLayout

        target = RunLayout.for_output(p).final_path
    problems = validate_dataset(target)
    if problems:
        for line in problems[:20]:
            click.echo(line, err=True)
        raise DatasetError(f"{target}: {len(problems)} problem(s) found")
    click.echo(f"{target}: valid dataset")


def main():  # pragma: no cover - entry point for python -m mocklens
    """Run the command line."""
    cli(prog_name="mocklens")
