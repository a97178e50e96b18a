"""``mocklens status``, ``finalize`` and ``merge``: operations on an existing run."""

from __future__ import annotations

import sys

import click


@click.command()
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


@click.command()
@click.argument("run_dir", type=str)
def finalize(run_dir):
    """Build the run's master file (HDF5 virtual datasets over the shards) once all exist."""
    from mocklens.pipeline.manage import finalize_run, load_run

    final = finalize_run(load_run(run_dir))
    click.echo(f"wrote {final}")


@click.command()
@click.argument("run_dir", type=str)
@click.option("--out", "dest", type=str, required=True, help="Merged FILE.h5 to write.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --out.")
def merge(run_dir, dest, overwrite):
    """Copy every shard of a complete run into one self-contained HDF5 file."""
    from mocklens.pipeline.manage import load_run, merge_run

    final = merge_run(load_run(run_dir), dest, overwrite=overwrite)
    click.echo(f"wrote {final}")
