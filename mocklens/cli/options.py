"""Helpers shared by the commands: loading a config from --config or --preset."""

from __future__ import annotations

from pathlib import Path

from mocklens.errors import ConfigError


def load_config_or_preset(config: str | None, preset: str | None):
    """Return the RunConfig named by ``--config`` (a file) or ``--preset`` (a built-in name).

    Raises
    ------
    ConfigError
        Both given, or the file does not exist / does not validate.
    """
    from mocklens.config import get_preset, load_config

    if config and preset:
        raise ConfigError("give either --config or --preset, not both")
    if config:
        if not Path(config).exists():
            raise ConfigError(f"--config: {config}: no such file")
        return load_config(config)
    return get_preset(preset or "default")
