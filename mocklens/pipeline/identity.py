"""A run's identity: what must stay fixed once a run has output, and what may grow.

Every sample's random stream is keyed by (root seed, variable name) and counted by sample
index, so the rows of sample ``i`` depend on the config but never on ``n_samples``. A run's
*identity* is therefore the digest of its canonical config JSON without ``n_samples``:
shards of the same identity are interchangeable however many samples the run asks for, which
lets a run grow (``--n`` larger, everything else equal, computes only the new shards).
Anything else that differs (seed, priors, solver, shard size ...) is another run, and is
refused once the run directory holds shards, with the differences named.
"""

from __future__ import annotations

import hashlib
import json

#: The one config key that may change in a run with output (it may only grow).
GROWABLE_KEY = "n_samples"
#: Differences listed in a refusal message before "..." [count].
MAX_LISTED_DIFFERENCES = 4


def _canonical(data: dict) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)


def run_identity(config_json: str) -> str:
    """SHA-256 of the canonical config without ``n_samples``.

    Parameters
    ----------
    config_json : str
        A run's resolved config JSON (``dump_json`` output or the ``config`` attribute).

    Returns
    -------
    str
        Hex digest; equal for two configs that differ at most in ``n_samples``.
    """
    data = json.loads(config_json)
    data.pop(GROWABLE_KEY, None)
    return hashlib.sha256(_canonical(data).encode()).hexdigest()


def _flatten(value, prefix: str, out: dict) -> dict:
    if isinstance(value, dict):
        for key in sorted(value):
            _flatten(value[key], f"{prefix}.{key}" if prefix else str(key), out)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _flatten(item, f"{prefix}[{i}]", out)
        if not value:
            out[prefix] = []
    else:
        out[prefix] = value
    return out


def config_differences(old_json: str, new_json: str) -> list[str]:
    """Name every leaf of two config JSON texts that differs, ``key: old -> new``.

    Parameters
    ----------
    old_json, new_json : str
        Config JSON texts.

    Returns
    -------
    list of str
        One entry per differing leaf in key order (dotted paths, ``[i]`` for list items;
        ``(absent)`` for a key only one side has); empty if the configs are equal.
    """
    old = _flatten(json.loads(old_json), "", {})
    new = _flatten(json.loads(new_json), "", {})
    missing = "(absent)"
    return [
        f"{key}: {json.dumps(old.get(key, missing))} -> {json.dumps(new.get(key, missing))}"
        for key in sorted(set(old) | set(new))
        if old.get(key, missing) != new.get(key, missing)
    ]


def describe_differences(old_json: str, new_json: str) -> str:
    """One-line summary of :func:`config_differences` (the first few, then a count)."""
    diffs = config_differences(old_json, new_json)
    shown = "; ".join(diffs[:MAX_LISTED_DIFFERENCES])
    if len(diffs) > MAX_LISTED_DIFFERENCES:
        shown += f"; and {len(diffs) - MAX_LISTED_DIFFERENCES} more"
    return shown
