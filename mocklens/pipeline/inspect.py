"""Summaries (``mocklens info``) and checks (``mocklens validate``) of written datasets.

Both read the file in blocks of rows, so they work on datasets larger than memory.
"""

from __future__ import annotations

import json
import os

import numpy as np

from mocklens.config.catalog_schema import catalog_schema
from mocklens.io import check_complete, describe, read_table, validate_manifest

#: Rows read per block.
BLOCK_ROWS = 200_000
#: Largest lens-equation residual a valid dataset may report [arcsec]; the solver's default
#: acceptance is 1e-10, this leaves room for user settings up to 1e-8.
MAX_RESIDUAL = 1e-8


def _blocks(n: int):
    for start in range(0, n, BLOCK_ROWS):
        yield slice(start, min(n, start + BLOCK_ROWS))


def row_range(root: dict) -> tuple[int, int]:
    """Global sample indices ``[start, stop)`` held by a file, from its root attributes.

    A shard holds ``[sample_start, sample_stop)`` of its run (its ``n_samples`` is the whole
    run's); a merged file or master holds ``[0, n_samples)``.
    """
    if "sample_start" in root and "sample_stop" in root:
        return int(root["sample_start"]), int(root["sample_stop"])
    return 0, int(root["n_samples"])


#: Multiplicity classes reported by ``info``, by number of stored images.
MULTIPLICITY = (("singles", (1,)), ("doubles", (2,)), ("triples", (3,)), ("quads", (4, 5)))


def summarize(path: str | os.PathLike) -> dict:
    """Summarise counts, image multiplicities, parameter ranges and provenance of a dataset.

    Parameters
    ----------
    path : str or os.PathLike
        A merged file, a virtual master, or one shard of a run.

    Returns
    -------
    dict
        ``n_samples`` (rows in this file), ``run_samples`` and ``sample_range`` (for a shard),
        ``by_n_images`` (count per image number), ``singles``, ``doubles``, ``triples``,
        ``quads`` (4 or 5 images), ``other`` (0 or more than 5), ``ranges`` (min, max per
        1-D float column), ``provenance`` and the root attributes of interest.
    """
    root = check_complete(path)
    start, stop = row_range(root)
    n = stop - start
    counts = np.zeros(64, dtype=np.int64)
    ranges: dict = {}
    units: dict = {}
    for rows in _blocks(n):
        table = read_table(path, rows=rows)
        counts += np.bincount(table.columns["point/n_images"].astype(np.int64), minlength=64)[:64]
        for key, col in table.columns.items():
            if col.ndim != 1 or col.dtype.kind != "f":
                continue
            lo, hi = float(np.nanmin(col)), float(np.nanmax(col))
            old = ranges.get(key, (lo, hi))
            ranges[key] = (min(lo, old[0]), max(hi, old[1]))
            units[key] = table.column_attrs[key].get("units", "")
    by_n = {int(k): int(v) for k, v in enumerate(counts) if v}
    classes = {name: sum(by_n.get(k, 0) for k in ks) for name, ks in MULTIPLICITY}
    return {
        "path": str(path),
        "n_samples": n,
        "run_samples": int(root["n_samples"]),
        "sample_range": [start, stop] if "shard_id" in root else None,
        "by_n_images": by_n,
        **classes,
        "other": n - sum(classes.values()),
        "ranges": ranges,
        "units": units,
        "root_seed": root.get("root_seed"),
        "mocklens_version": root.get("mocklens_version"),
        "format_version": root.get("format_version"),
        "cosmology": json.loads(root.get("cosmology", "{}")),
        "provenance": json.loads(root.get("provenance", "{}")),
        "family": json.loads(root.get("config", "{}")).get("family"),
    }


def format_summary(s: dict) -> str:
    """Human-readable text of :func:`summarize`."""
    head = f"{s['path']}: {s['n_samples']} lenses"
    if s.get("sample_range"):
        lo, hi = s["sample_range"]
        head += f" (one shard: samples {lo}-{hi - 1} of a run of {s['run_samples']})"
    counts = ", ".join(
        f"{name} {s[name]}" for name in ("singles", "doubles", "triples", "quads") if s[name]
    )
    lines = [
        head + f" (family {s['family']}, seed {s['root_seed']}, "
        f"mocklens {s['mocklens_version']}, format v{s['format_version']})",
        f"  {counts or 'no lenses'}" + (f", other {s['other']}" if s["other"] else "")
        + "  (quads = 4 or 5 images)",
        "  images per lens: " + ", ".join(f"{k}: {v}" for k, v in sorted(s["by_n_images"].items())),
        f"  cosmology: {s['cosmology'].get('name')} H0={s['cosmology'].get('H0')} "
        f"Om0={s['cosmology'].get('Om0')}",
    ]
    prov = s["provenance"]
    if prov:
        lines.append(
            f"  attempts {prov.get('attempts')}, acceptance {prov.get('acceptance_rate', 0):.4f}, "
            f"shards {prov.get('n_shards')}"
        )
        t = prov.get("cpu_timings_s", {})
        if t:
            lines.append("  cpu seconds: " + ", ".join(f"{k} {v:.2f}" for k, v in t.items()))
    lines.append("  ranges:")
    for key, (lo, hi) in sorted(s["ranges"].items()):
        lines.append(f"    {key:<22} {lo:>12.6g} .. {hi:<12.6g} [{s['units'][key]}]")
    return "\n".join(lines)


def validate_dataset(path: str | os.PathLike) -> list[str]:
    """Check a dataset against the catalogue schema and the physics invariants.

    Parameters
    ----------
    path : str or os.PathLike
        A merged file, a virtual master, or one shard of a run.

    Returns
    -------
    list of str
        One line per problem; empty if the dataset is valid.

    Notes
    -----
    Besides the schema: every chunk reads (fletcher32 checksums), rows beyond ``n_images``
    are NaN/0 and rows within are finite, residuals are below ``MAX_RESIDUAL``, time delays
    start at 0 and never decrease, ``parity`` is the sign of ``mu``, and sample indices are
    ``0 .. n-1`` in order.
    """
    root = check_complete(path, verify_data=True)
    problems = validate_manifest(describe(path), catalog_schema())
    if problems:
        return problems
    start, stop = row_range(root)
    for rows in _blocks(stop - start):
        t = read_table(path, rows=rows, groups=["point", "sample"]).columns
        k = t["point/x"].shape[1]
        n_img = t["point/n_images"].astype(np.int64)
        mask = np.arange(k)[None, :] < n_img[:, None]
        first = start + rows.start

        def bad(cond, what, first=first):
            idx = np.flatnonzero(cond)
            if idx.size:
                problems.append(
                    f"{path}: sample row {first + idx[0]}: {what} ({idx.size} rows in block)"
                )

        for name in ("x", "y", "mu", "dt", "fermat", "residual"):
            col = t[f"point/{name}"]
            bad(np.any(mask & ~np.isfinite(col), axis=1), f"point/{name} not finite for an image")
            bad(np.any(~mask & ~np.isnan(col), axis=1), f"point/{name} padding is not NaN")
        bad(
            np.any(mask & (t["point/residual"] > MAX_RESIDUAL), axis=1),
            f"lens-equation residual above {MAX_RESIDUAL} arcsec",
        )
        dt = np.where(mask, t["point/dt"], 0.0)
        bad((n_img > 0) & (dt[:, 0] != 0.0), "first time delay is not 0")
        both = mask[:, 1:] & mask[:, :-1]
        bad(np.any(both & (np.diff(dt, axis=1) < 0.0), axis=1), "time delays not sorted by arrival")
        sign = np.where(mask, np.sign(t["point/mu"]), 0).astype(np.int8)
        bad(np.any(sign != t["point/parity"], axis=1), "parity differs from the sign of mu")
        bad(
            t["sample/index"] != np.arange(first, start + rows.stop),
            f"sample/index not {start}..{stop - 1}",
        )
        if len(problems) > 20:
            break
    return problems
