"""Loading, overriding and canonical serialisation of :class:`RunConfig`.

Every validation failure becomes one :class:`mocklens.errors.ConfigError` whose message has
one line per problem, each starting with the dotted location of the offending key
(``lens.components[0].params.theta_e: unknown key; did you mean 'theta_E'?``).

A configuration may start from a preset: a top-level ``base: <preset>`` key makes the rest of
the mapping a set of changes deep-merged over that preset's resolved config (see
:func:`merge_over_base`), so a short file changes only what differs.
"""

from __future__ import annotations

import json
import os
import re
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from mocklens.config.distributions import DISTRIBUTIONS
from mocklens.config.model import RunConfig, did_you_mean
from mocklens.errors import ConfigError


class _Loader(yaml.SafeLoader):
    """Safe YAML loader that reads ``1e-4`` as a float and refuses duplicate keys."""


# PyYAML implements YAML 1.1, where "1e-4" (no dot) is a string; YAML 1.2 and JSON read it
# as a number, and so must we, or a bare "min_abs_mu: 1e-4" would be refused as a string.
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def _mapping_no_duplicates(loader: _Loader, node: yaml.MappingNode) -> dict:
    keys = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in keys:
            raise ConfigError(f"line {key_node.start_mark.line + 1}: duplicate key {key!r}")
        keys.add(key)
    return loader.construct_mapping(node, deep=True)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_no_duplicates)


def load_config(path_or_text: str | os.PathLike) -> RunConfig:
    """Read and validate a configuration from a YAML or JSON file or text.

    Parameters
    ----------
    path_or_text : str or os.PathLike
        A path to a YAML or JSON file, or the YAML/JSON text itself. A string is text if it
        contains a newline or starts with ``{``, or if it is neither an existing file nor
        ends in ``.yaml``/``.yml``/``.json``.

    Returns
    -------
    RunConfig
        The validated configuration.

    Raises
    ------
    ConfigError
        If the file is missing or unparsable, or the configuration is invalid.
    """
    text = _read(path_or_text)
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader derives from SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{where}cannot parse configuration: {problem}") from None
    return config_from_dict(data)


def _read(path_or_text: str | os.PathLike) -> str:
    if isinstance(path_or_text, os.PathLike):
        path = Path(path_or_text)
    else:
        text = str(path_or_text)
        if "\n" in text or text.lstrip().startswith("{"):
            return text
        path = Path(text)
        if not path.is_file() and path.suffix.lower() not in (".yaml", ".yml", ".json"):
            return text  # a one-line YAML document such as "seed: 1"
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: configuration file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read configuration ({exc.strerror})") from None
    if raw.startswith(b"\x89HDF"):
        raise ConfigError(
            f"{path}: is an HDF5 file, not a YAML/JSON config (a dataset's config is in its "
            "'config' attribute, and a run's in run/config.json)"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file (a config is YAML or JSON text)") from None
    if "\x00" in text:
        raise ConfigError(f"{path}: not a text file (a config is YAML or JSON text)")
    return text


def config_from_dict(data: Any) -> RunConfig:
    """Validate a plain mapping (as parsed from YAML/JSON) into a :class:`RunConfig`.

    Parameters
    ----------
    data : dict
        The configuration mapping.

    Returns
    -------
    RunConfig
        The validated configuration.

    Raises
    ------
    ConfigError
        With one line per problem.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"configuration must be a mapping, got {type(data).__name__}")
    if BASE_KEY in data:
        data = merge_over_base(data)
    try:
        return RunConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError("\n".join(format_errors(exc))) from None


#: Top-level key naming the preset a configuration starts from.
BASE_KEY = "base"


def merge_over_base(data: dict) -> dict:
    """Resolve ``base: <preset>``: deep-merge the other keys of ``data`` over the preset.

    Merge rules, applied recursively: a mapping merges key by key into the preset's mapping,
    except a mapping with a ``dist`` key, which replaces the preset's value whole (a new
    distribution); every other value, lists such as ``lens.components`` included, replaces
    the preset's value. A partial distribution without ``dist`` (``z_lens: {max: 0.7}``)
    changes only the keys it gives.

    Parameters
    ----------
    data : dict
        A configuration mapping with a ``base`` key.

    Returns
    -------
    dict
        The merged mapping, without ``base``, ready for validation.

    Raises
    ------
    ConfigError
        If ``base`` is not the name of a preset.
    """
    from mocklens.config.presets import PRESETS

    data = dict(data)
    name = data.pop(BASE_KEY)
    if not isinstance(name, str):
        raise ConfigError(
            f"{BASE_KEY}: expected a preset name ({', '.join(PRESETS)}), got "
            f"{type(name).__name__}"
        )
    if name not in PRESETS:
        raise ConfigError(
            f"{BASE_KEY}: unknown preset {name!r}{did_you_mean(name, PRESETS)} "
            f"(one of {', '.join(PRESETS)})"
        )
    return _deep_merge(json.loads(dump_json(PRESETS[name])), data)


def _deep_merge(base: Any, change: Any) -> Any:
    if not isinstance(base, dict) or not isinstance(change, dict) or "dist" in change:
        return change
    out = dict(base)
    for key, value in change.items():
        out[key] = _deep_merge(base[key], value) if key in base else value
    return out


def resolve(
    cfg: RunConfig,
    n_samples: int | None = None,
    seed: int | None = None,
    min_images: int | None = None,
) -> RunConfig:
    """Apply command-line overrides and re-validate.

    Parameters
    ----------
    cfg : RunConfig
        Configuration from the file.
    n_samples : int, optional
        ``--n`` override [count].
    seed : int, optional
        ``--seed`` override.
    min_images : int, optional
        ``--min-images`` override of ``selection.min_images`` [count].

    Returns
    -------
    RunConfig
        The configuration with the overrides applied (``cfg`` itself if none).
    """
    update = {k: v for k, v in (("n_samples", n_samples), ("seed", seed)) if v is not None}
    if not update and min_images is None:
        return cfg
    data = {**cfg.model_dump(mode="json"), **update}
    if min_images is not None:
        data["selection"] = {**data["selection"], "min_images": min_images}
    return config_from_dict(data)


def dump_json(cfg: RunConfig, indent: int | None = None) -> str:
    """Return the canonical JSON text of ``cfg`` (sorted keys; the HDF5 ``config`` attribute).

    Parameters
    ----------
    cfg : RunConfig
        The configuration.
    indent : int, optional
        Pretty-print indent; ``None`` (default) gives the compact canonical form.

    Returns
    -------
    str
        JSON text; ``config_from_dict(json.loads(text))`` dumps back to the same text.
    """
    seps = (",", ":") if indent is None else (",", ": ")
    data = cfg.model_dump(mode="json")
    return json.dumps(data, sort_keys=True, indent=indent, separators=seps, allow_nan=False)


_DIST_TAGS = frozenset(DISTRIBUTIONS)


def _dotted(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in _DIST_TAGS or str(part).startswith("function-"):
            continue  # union branch labels add nothing for a reader
        else:
            out += ("." if out else "") + str(part)
    return out or "<root>"


def format_errors(exc: ValidationError) -> list[str]:
    """Turn a pydantic ``ValidationError`` into one readable line per problem.

    Parameters
    ----------
    exc : pydantic.ValidationError
        The error raised while validating a :class:`RunConfig`.

    Returns
    -------
    list of str
        ``"<dotted location>: <problem>"`` lines, without pydantic URLs.
    """
    lines: list[str] = []
    for err in exc.errors(include_url=False):
        loc, kind = tuple(err["loc"]), err["type"]
        msg = err["msg"]
        if kind == "value_error":
            msg = str(err.get("ctx", {}).get("error", msg.removeprefix("Value error, ")))
            if not loc:  # cross-field checks already carry their locations
                lines.extend(msg.splitlines())
                continue
        elif kind == "extra_forbidden":
            msg = "unknown key" + did_you_mean(str(loc[-1]), _allowed_keys(loc[:-1]))
        elif kind == "missing":
            msg = "missing key"
        elif kind == "union_tag_invalid":
            tag = str(err["ctx"]["tag"])
            msg = f"unknown distribution {tag!r}{did_you_mean(tag, _DIST_TAGS)}"
            msg += f" (one of {', '.join(DISTRIBUTIONS)})" if "did you" not in msg else ""
        elif kind == "union_tag_not_found":
            msg = "a distribution is a number or a mapping with a 'dist' key (one of "
            msg += ", ".join(DISTRIBUTIONS) + ")"
        lines.append(f"{_dotted(loc)}: {msg}")
    return lines


def _allowed_keys(loc: tuple) -> list[str]:
    """Return the keys a mapping at ``loc`` (a pydantic error location) may hold."""
    t: Any = RunConfig
    for part in loc:
        t = _unwrap(t, part)
        if part in _DIST_TAGS and t is DISTRIBUTIONS[part]:
            continue
        if isinstance(t, type) and issubclass(t, BaseModel):
            field = t.model_fields.get(part)
            if field is None:
                return []
            t = field.annotation
        elif typing.get_origin(t) in (list, tuple) and isinstance(part, int):
            t = typing.get_args(t)[0]
        elif typing.get_origin(t) is dict:
            t = typing.get_args(t)[1]
        elif part not in _DIST_TAGS:
            return []
    t = _unwrap(t, None)
    if isinstance(t, type) and issubclass(t, BaseModel):
        return list(t.model_fields)
    return []


def _unwrap(t: Any, part: Any) -> Any:
    """Strip Annotated/Optional; pick a distribution model by its tag."""
    while True:
        origin = typing.get_origin(t)
        if origin is typing.Annotated:
            t = typing.get_args(t)[0]
        elif origin is typing.Union or type(t).__name__ == "UnionType":
            args = [a for a in typing.get_args(t) if a is not type(None)]
            if part in _DIST_TAGS:
                return DISTRIBUTIONS[part]
            if len(args) != 1:
                return t
            t = args[0]
        else:
            return t
