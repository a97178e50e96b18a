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
def generate(config, preset, n_samples, seed, out, overwrite, progress):
    """Generate a dataset of point-source lenses (resumes an interrupted run)."""
    from mocklens.config import resolve
    from mocklens.pipeline.launch import generate as run_generate

    cfg = resolve(_load(config, preset), n_samples=n_samples, seed=seed)
    if progress is None:
        progress = sys.stderr.isatty()
    run_generate(cfg, out, overwrite=overwrite, progress=progress, echo=click.echo)


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
