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
    """Build the run's master file (HDF5 virtual datasets over the shards) once all exist.

    Refused (exit 3) while another mocklens process writes the run. Ctrl-C or SIGTERM
    abandons the master, leaves the shards as they are and exits 99.
    """
    from mocklens.pipeline.signals import command_signals, startup

    with command_signals():
        with startup():
            from mocklens.pipeline.manage import finalize_run, load_run

        plan = load_run(run_dir)
        final = _locked_write(plan, lambda: finalize_run(plan), plan.layout.final_path, True)
    click.echo(f"wrote {final}")


@click.command()
@click.argument("run_dir", type=str)
@click.option("--out", "dest", type=str, required=True, help="Merged FILE.h5 to write.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --out.")
def merge(run_dir, dest, overwrite):
    """Copy every shard of a complete run into one self-contained HDF5 file.

    Refused (exit 3) while another mocklens process writes the run. Ctrl-C or SIGTERM
    abandons the copy (no partial file is left) and exits 99.
    """
    from mocklens.pipeline.signals import command_signals, startup

    with command_signals():
        with startup():
            from mocklens.pipeline.manage import load_run, merge_run

        plan = load_run(run_dir)
        final = _locked_write(plan, lambda: merge_run(plan, dest, overwrite=overwrite), dest)
    click.echo(f"wrote {final}")


def _locked_write(plan, work, dest, finalizing=False):
    """Run ``work`` holding the run's exclusive lock; a stop signal abandons it (exit 99)."""
    from mocklens.errors import StopRequested
    from mocklens.pipeline.launch import finish_parts, write_final
    from mocklens.pipeline.lock import run_lock
    from mocklens.pipeline.signals import Abandon, shielded, signal_name

    with run_lock(plan.layout):
        try:
            final = write_final(work, dest)
        except Abandon as stop:
            raise StopRequested(
                f"stopped by {signal_name(stop.signum)}: {dest} not written, the run's shards "
                "are untouched; rerun the same command"
            ) from None
        if finalizing:
            with shielded():
                finish_parts(plan)  # a stop landed after the merged file was in place
    return final
