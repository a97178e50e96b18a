"""Named run configurations and their commented YAML.

``"both"`` is the originating recipe (see ``CONTEXT.md`` section 1): an isothermal EPL with
theta_E ~ U(1, 1.5) arcsec, ellipticity e = 1 - q ~ truncnorm(0.3, 0.16) on [0, 0.9] with a
uniform angle, external shear with a lognormal strength (median 0.05, 0.2 dex) and a uniform
angle, z_lens ~ U(0.2, 0.5), z_source ~ U(1, 3), Planck18, the source placed through an image
at radius sqrt(U(0, 16)) arcsec, images with |mu| < 1e-4 dropped. ``"default"`` is ``"both"``.

The single-effect families keep the same two components so that every family writes the same
columns: ``"shear"`` fixes the ellipticity to e = 0 (a round EPL, angle 0) and
``"ellipticity"`` keeps the SHEAR component with strength fixed to 0 (angle 0).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from pydantic import BaseModel

from mocklens.config.distributions import DISTRIBUTIONS, Fixed
from mocklens.config.model import Component, RunConfig
from mocklens.errors import ConfigError
from mocklens.models.params import PROFILES

_ANGLE = {"dist": "uniform", "min": 0.0, "max": math.pi}


def _recipe(family: str, ellipticity: bool, shear: bool) -> dict[str, Any]:
    e = (
        {"dist": "truncnorm", "mean": 0.3, "sd": 0.16, "min": 0.0, "max": 0.9}
        if ellipticity
        else 0.0
    )
    strength = {"dist": "lognormal", "median": 0.05, "sigma_dex": 0.2} if shear else 0.0
    return {
        "n_samples": 100000,
        "seed": 1,
        "family": family,
        "lens": {
            "components": [
                {
                    "type": "EPL",
                    "name": "lens",
                    "params": {
                        "theta_E": {"dist": "uniform", "min": 1.0, "max": 1.5},
                        "gamma": 2.0,
                        "center_x": 0.0,
                        "center_y": 0.0,
                    },
                    "ellipticity": {
                        "convention": "one_minus_q",
                        "e": e,
                        "angle": _ANGLE if ellipticity else 0.0,
                    },
                },
                {
                    "type": "SHEAR",
                    "name": "shear",
                    "polar": {"strength": strength, "angle": _ANGLE if shear else 0.0},
                },
            ]
        },
        "redshifts": {
            "z_lens": {"dist": "uniform", "min": 0.2, "max": 0.5},
            "z_source": {"dist": "uniform", "min": 1.0, "max": 3.0},
        },
        "cosmology": {"name": "Planck18"},
        "source": {"placement": "image_plane", "radius": 4.0, "center": [0.0, 0.0]},
        "selection": {"min_abs_mu": 1e-4, "min_images": 1},
    }


#: Named configurations; ``"default"`` is the originating recipe (``"both"``).
PRESETS: dict[str, RunConfig] = {
    "default": RunConfig.model_validate(_recipe("both", True, True)),
    "both": RunConfig.model_validate(_recipe("both", True, True)),
    "shear": RunConfig.model_validate(_recipe("shear", False, True)),
    "ellipticity": RunConfig.model_validate(_recipe("ellipticity", True, False)),
}


def get_preset(name: str) -> RunConfig:
    """Return the preset called ``name``.

    Parameters
    ----------
    name : str
        One of ``PRESETS``.

    Returns
    -------
    RunConfig
        The preset configuration.

    Raises
    ------
    ConfigError
        If there is no such preset.
    """
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r} (one of {', '.join(PRESETS)})")
    return PRESETS[name]


_HEADER = """\
# mocklens run configuration: preset {name!r}.
# A distribution is a bare number (fixed) or a mapping with a 'dist' key:
#   {{dist: uniform, min, max}}  {{dist: normal, mean, sd}}  {{dist: truncnorm, mean, sd, min, max}}
#   {{dist: lognormal, median, sigma_dex}} (sigma in log10)  {{dist: loguniform, min, max}}
#   {{dist: fixed, value}}
"""


def preset_yaml(name: str) -> str:
    """Return the commented YAML text of a preset; it loads back to exactly the preset.

    Parameters
    ----------
    name : str
        One of ``PRESETS``.

    Returns
    -------
    str
        YAML with a comment (meaning and unit) on every key.
    """
    return config_yaml(get_preset(name), title=name)


def config_yaml(cfg: RunConfig, title: str = "custom") -> str:
    """Return the commented YAML text of any configuration.

    Parameters
    ----------
    cfg : RunConfig
        The configuration to render.
    title : str, optional
        Name shown in the header comment.

    Returns
    -------
    str
        YAML text that :func:`mocklens.config.load.load_config` reads back to ``cfg``.
    """
    return _HEADER.format(name=title) + "\n".join(_model_lines(cfg, "")) + "\n"


def _model_lines(model: BaseModel, pad: str, first: str = "") -> list[str]:
    lines: list[str] = []
    for key, field in type(model).model_fields.items():
        value = getattr(model, key)
        if key in ("ellipticity", "polar") and value is None:
            continue
        if key == "params" and isinstance(model, Component) and not value:
            continue
        comment = f"  # {field.description}" if field.description else ""
        lead = (first if not lines else pad) if first else pad
        if isinstance(value, BaseModel) and not _is_dist(value):
            lines.append(f"{lead}{key}:{comment}")
            lines += _model_lines(value, pad + "  ")
        elif key == "components":
            lines.append(f"{lead}{key}:{comment}")
            for comp in value:
                lines += _model_lines(comp, pad + "    ", first=pad + "  - ")
        elif key == "params":
            lines.append(f"{lead}{key}:{comment}")
            specs = {p.name: p for p in PROFILES[model.type].params}
            for pname, dist in value.items():
                spec = specs.get(pname)
                note = f"  # {spec.description} [{spec.unit}]" if spec else ""
                lines.append(f"{pad}  {pname}: {_scalar(dist)}{note}")
        else:
            lines.append(f"{lead}{key}: {_scalar(value)}{comment}")
    return lines


def _is_dist(value: Any) -> bool:
    return type(value) in DISTRIBUTIONS.values()


_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_YAML_WORDS = {"null", "true", "false", "yes", "no", "on", "off", "y", "n", "~"}


def _scalar(value: Any) -> str:
    """Render a value as YAML flow text."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = repr(value)
        mant, _, exp = text.partition("e")
        if exp and "." not in mant:
            text = f"{mant}.0e{exp}"  # "1e-10" would be a string to YAML 1.1 readers
        return text
    if isinstance(value, str):
        return (
            value if _PLAIN.match(value) and value.lower() not in _YAML_WORDS else json.dumps(value)
        )
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_scalar(v) for v in value) + "]"
    if isinstance(value, Fixed):
        return _scalar(value.value)
    if _is_dist(value):
        items = ", ".join(f"{k}: {_scalar(getattr(value, k))}" for k in type(value).model_fields)
        return "{" + items + "}"
    raise TypeError(f"cannot render {type(value).__name__} as YAML")
