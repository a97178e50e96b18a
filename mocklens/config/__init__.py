"""Typed run configuration (layer L1).

Import rule: ``mocklens.config`` may import pydantic, yaml, numpy, ``mocklens.models.params``
and ``mocklens.errors``; it never imports ``io``, ``priors``, ``pipeline``, ``cli``, h5py,
click or mpi4py (and not astropy: known cosmologies are a fixed table in ``model.py``).

The pydantic model :class:`RunConfig` is the single source of truth for a run: YAML/JSON
files are validated into it (:func:`load_config`), every failure is a
:class:`mocklens.errors.ConfigError` with one line per problem, and its canonical JSON
(:func:`dump_json`) is stored with every dataset. JSON Schemas in ``schemas/`` are exported
from it by :mod:`mocklens.config.schema` (not imported here, so that
``python -m mocklens.config.schema schemas`` runs cleanly).
"""

from mocklens.config.distributions import (
    DISTRIBUTIONS,
    DistModel,
    Distribution,
    Fixed,
    LogNormal,
    LogUniform,
    Normal,
    TruncNorm,
    Uniform,
)
from mocklens.config.load import config_from_dict, dump_json, load_config, resolve
from mocklens.config.model import (
    COSMOLOGIES,
    Z_GAP,
    Component,
    Cosmology,
    Ellipticity,
    LensConfig,
    Output,
    Redshifts,
    RunConfig,
    Selection,
    ShearPolar,
    Solver,
    Source,
)
from mocklens.config.presets import PRESETS, config_yaml, get_preset, preset_yaml

__all__ = [
    "COSMOLOGIES",
    "DISTRIBUTIONS",
    "PRESETS",
    "Z_GAP",
    "Component",
    "Cosmology",
    "DistModel",
    "Distribution",
    "Ellipticity",
    "Fixed",
    "LensConfig",
    "LogNormal",
    "LogUniform",
    "Normal",
    "Output",
    "Redshifts",
    "RunConfig",
    "Selection",
    "ShearPolar",
    "Solver",
    "Source",
    "TruncNorm",
    "Uniform",
    "config_from_dict",
    "config_yaml",
    "dump_json",
    "get_preset",
    "load_config",
    "preset_yaml",
    "resolve",
]
