"""``mocklens config``, ``info`` and ``validate``: look at configs and datasets."""

from __future__ import annotations

from pathlib import Path

import click

from mocklens.errors import ConfigError


@click.command("config")
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


@click.command()
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


@click.command()
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
