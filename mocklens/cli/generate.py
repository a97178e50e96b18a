"""``mocklens generate``: compute (or finish) a run."""

from __future__ import annotations

import sys

import click

from mocklens.cli.options import load_config_or_preset


@click.command()
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
    "--min-images",
    type=int,
    default=None,
    help="Keep only lenses with at least this many images (overrides selection.min_images; "
    "the default recipe keeps singly imaged systems, 2 keeps only multiply imaged ones).",
)
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
def generate(
    config, preset, n_samples, seed, min_images, out, overwrite, progress, task_id, n_tasks
):
    """Generate a dataset of point-source lenses (resumes an interrupted run).

    Under mpiexec (``mpiexec -n 4 python -m mpi4py -m mocklens generate ...``) or
    ``srun --mpi=pmi2`` every rank computes shards; the rank count is detected.

    Ctrl-C, SIGTERM and SIGUSR1 finish the shard in hand (a second Ctrl-C abandons it),
    keep every finished shard and exit 99; rerunning the same command finishes the run.
    Another process writing the same run is refused (exit 3).
    """
    from mocklens.pipeline.signals import command_signals, startup

    with command_signals():
        with startup():
            from mocklens.config import resolve
            from mocklens.pipeline.launch import generate as run_generate

            cfg = resolve(
                load_config_or_preset(config, preset),
                n_samples=n_samples,
                seed=seed,
                min_images=min_images,
            )
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
