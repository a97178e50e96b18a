"""Cost of writing and merging shards: CPU per lens and bytes per lens, per storage setting.

Builds real shard tables with the pipeline (``compute_range`` + ``build_table``, the default
recipe, shards of 10,000 lenses), then writes them with:

- ``old``: the writer before the "Write path" change, kept here as the baseline: HDF5's own
  filter pipeline (``dataset[...] = array``), power-of-two chunks of at most 256 KiB,
  h5py's default library version bounds (earliest), written to disk through HDF5;
- ``new``: :func:`mocklens.io.write_table` (file built in memory, chunks encoded by
  :mod:`mocklens.io.chunks` and written with ``H5Dwrite_chunk``, 1.10 format), at gzip
  levels 0-4, with ISA-L and with the standard library's zlib, and with other chunk sizes
  and library versions for comparison.

Every setting keeps shuffle and fletcher32. CPU time is ``time.process_time`` of this
process (user + system) per lens, median over repeats; compute is timed the same way on the
same shards. Then it merges 10 shards (100,000 lenses) into one file with
:func:`mocklens.io.merge_copy` (chunk copy) and with the old decode-and-recompress loop.

    PYTHONPATH=. python benchmarks/bench_write.py              # ~1 min; prints a table
    PYTHONPATH=. python benchmarks/bench_write.py --readme     # also refresh benchmarks/README.md
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

from mocklens.config import get_preset, resolve
from mocklens.io import atomic, chunks, layout, merge_copy, read_table, write_table
from mocklens.io.writer import root_attrs_with_format
from mocklens.pipeline.catalog import build_table
from mocklens.pipeline.generate import compute_range

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "benchmarks" / "README.md"
SECTION = "## Write path"
SHARD = 10_000


def make_tables(n_shards: int) -> tuple[list, float]:
    """Real shard tables and the compute CPU time per lens [us]."""
    cfg = resolve(get_preset("default"), n_samples=n_shards * SHARD, seed=1)
    compute_range(cfg, 0, 2)  # load or compile the kernels outside the timing
    tables, cpu = [], 0.0
    for i in range(n_shards):
        t0 = time.process_time()
        r = compute_range(cfg, i * SHARD, (i + 1) * SHARD)
        cpu += time.process_time() - t0
        root = {
            "config": json.dumps({"seed": 1}),
            "sample_start": i * SHARD,
            "sample_stop": (i + 1) * SHARD,
            "provenance": json.dumps({"host": platform.node(), "pid": os.getpid()}),
        }
        tables.append(build_table(cfg, r.params, r.system, r.source, r.images, r.sample, root))
    return tables, 1e6 * cpu / (n_shards * SHARD)


def old_write(path: Path, table, level: int = 4) -> None:
    """The writer as it was: HDF5 filters, 256 KiB power-of-two chunks, on disk."""
    attrs = root_attrs_with_format(table.root_attrs)
    tmp = path.with_name("." + path.name + ".tmp")
    filters = dict(shuffle=True, fletcher32=True)
    if level:
        filters.update(compression="gzip", compression_opts=level)
    with h5py.File(tmp, "w") as f:
        for g in table.groups:
            grp = f.require_group(g)
            for k, v in table.group_attrs.get(g, {}).items():
                grp.attrs[k] = v
        for key, a in table.columns.items():
            row = a.dtype.itemsize * int(np.prod(a.shape[1:]))
            fit = max(1, 256 * 1024 // row)
            rows = max(1, min(1 << (fit.bit_length() - 1), a.shape[0]))
            d = f.create_dataset(
                key, shape=a.shape, dtype=a.dtype, chunks=(rows, *a.shape[1:]),
                maxshape=(None, *a.shape[1:]), fillvalue=layout.fill_value(a.dtype), **filters,
            )  # fmt: skip
            d[...] = a
            for k, v in table.column_attrs.get(key, {}).items():
                d.attrs[k] = v
        for k, v in attrs.items():
            f.attrs[k] = v
        f.attrs["complete"] = 1
    fd = os.open(tmp, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)
    os.replace(tmp, path)


@contextlib.contextmanager
def setting(engine: str = "isal", target: int | None = None):
    """Temporarily switch the deflate engine or the chunk size target."""
    saved = (chunks._isal, layout.TARGET_CHUNK_BYTES)
    if engine == "zlib":
        chunks._isal = None
    if target is not None:
        layout.TARGET_CHUNK_BYTES = target
        layout.chunk_shape.__defaults__ = (target,)
    try:
        yield
    finally:
        chunks._isal, layout.TARGET_CHUNK_BYTES = saved
        layout.chunk_shape.__defaults__ = (saved[1],)


def time_writes(write, tables, directory: Path, repeats: int) -> tuple[float, float]:
    """Median CPU per lens [us] and bytes per lens of the files written."""
    per_lens, sizes = [], []
    for rep in range(repeats):
        for i, table in enumerate(tables):
            path = directory / f"w{i}.h5"
            path.unlink(missing_ok=True)
            t0 = time.process_time()
            write(path, table)
            per_lens.append(1e6 * (time.process_time() - t0) / table.n_rows)
            if rep == 0:
                sizes.append(path.stat().st_size / table.n_rows)
    return statistics.median(per_lens), statistics.mean(sizes)


def new_writer(level: int, libver="default"):
    def write(path, table):
        if libver == "default":
            write_table(path, table, compression_level=level)
        else:
            from mocklens.io.writer import table_image

            atomic.write_bytes_atomically(
                path, table_image(table, compression_level=level, libver=libver)
            )

    return write


def old_merge(paths, out: Path) -> None:
    """The merge as it was: decode every row, let HDF5 recompress it."""
    total = sum(h5py.File(p)["sample/index"].shape[0] for p in paths)
    with h5py.File(out, "w") as f, h5py.File(paths[0]) as first:
        keys = []
        first.visititems(lambda n, o: keys.append(n) if isinstance(o, h5py.Dataset) else None)
        for key in keys:
            src = first[key]
            f.create_dataset(
                key, shape=(total, *src.shape[1:]), dtype=src.dtype, chunks=src.chunks,
                compression="gzip", compression_opts=4, shuffle=True, fletcher32=True,
            )  # fmt: skip
        offset = 0
        for p in paths:
            with h5py.File(p) as src:
                n = src["sample/index"].shape[0]
                for key in keys:
                    f[key][offset : offset + n] = src[key][...]
            offset += n


def measure(n_shards: int, repeats: int) -> dict:
    tables, compute_us = make_tables(n_shards)
    rows = []
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as tmp:
        d = Path(tmp)

        def add(label, write, **kw):
            with setting(**kw):
                us, size = time_writes(write, tables, d, repeats)
            rows.append({"setting": label, "us_per_lens": us, "bytes_per_lens": size})
            print(f"{label:58s} {us:6.2f} us/lens {size:7.1f} B/lens", flush=True)

        add("old: HDF5 filters, gzip 4, 256 KiB chunks, earliest", old_write)
        add("old: HDF5 filters, gzip 1, 256 KiB chunks, earliest",
            lambda p, t: old_write(p, t, 1))  # fmt: skip
        for level in (0, 1, 2, 3, 4):
            add(f"new: ISA-L, gzip {level}, 512 KiB chunks, v110", new_writer(level))
        add("new: ISA-L, gzip 7 (ISA-L level 3), 512 KiB chunks, v110", new_writer(7))
        for level in (1, 4):
            add(f"new: zlib, gzip {level}, 512 KiB chunks, v110", new_writer(level),
                engine="zlib")  # fmt: skip
        add("new: ISA-L, gzip 4, 128 KiB chunks, v110", new_writer(4), target=128 * 1024)
        add("new: ISA-L, gzip 4, 256 KiB chunks, v110", new_writer(4), target=256 * 1024)
        add("new: ISA-L, gzip 4, 512 KiB chunks, earliest", new_writer(4, libver=None))

        paths = []
        for i, table in enumerate(tables):
            paths.append(write_table(d / f"shard-{i:03d}.h5", table))
        merges = {}
        for label, fn in (
            ("new: chunk copy (merge_copy)", lambda o: merge_copy(paths, o, root_attrs={})),
            ("old: decode + HDF5 gzip 4", lambda o: old_merge(paths, o)),
        ):
            out = d / "merged.h5"
            out.unlink(missing_ok=True)
            t0, w0 = time.process_time(), time.perf_counter()
            fn(out)
            merges[label] = {
                "cpu_s_per_100k": (time.process_time() - t0) * 100_000 / (n_shards * SHARD),
                "wall_s_per_100k": (time.perf_counter() - w0) * 100_000 / (n_shards * SHARD),
                "bytes_per_lens": out.stat().st_size / (n_shards * SHARD),
            }
            print(label, merges[label], flush=True)
            if label.startswith("new"):
                assert read_table(out).n_rows == n_shards * SHARD
    return {
        "compute_us_per_lens": compute_us,
        "rows": rows,
        "merge": merges,
        "engine": chunks.DEFLATE_ENGINE,
        "n_lenses": n_shards * SHARD,
    }


NOTES = """\
Choices, from these figures:

- **Encode chunks in Python, write them with `H5Dwrite_chunk`.** HDF5 can only deflate
  with the zlib it was built with (the `zlib` rows: 12-19 us/lens, as slow as compute);
  ISA-L (`isal`, PyPI wheels) makes the same zlib stream format 7x faster at the same
  size. Shuffle and fletcher32 are computed in numpy, byte for byte as HDF5's filters, so
  plain h5py and the HDF5 1.10.8 tools decode the files (tested). Without `isal` installed
  the standard library's zlib is used (the `zlib` rows).
- **gzip levels.** With ISA-L, levels 1-6 are one setting (ISA-L level 1: as small as zlib
  level 4 within 4%); 7-9 use ISA-L level 3 (2% smaller, +30% time). Level 0 (no deflate)
  saves ~2 us/lens and doubles the size: not worth it.
- **One chunk per column per shard** (512 KiB target; a (N, 5) float64 column of a
  10,000-lens shard is 400 kB): chunk size hardly changes the write cost here, but whole
  shards as chunks let a merge copy them as stored. Chunk rows divide the rows of a file
  when possible (`chunk_rows`), so equal shards stay aligned when concatenated.
- **1.10 format** (`libver=("v110", "v110")`): a one-chunk dataset needs no B-tree; 12 kB of
  metadata per shard instead of 88 kB (~7 bytes/lens at 10,000 lenses per shard) and a
  third of the time per chunk written. Readable by HDF5 >= 1.10, not 1.8.
- **Build the shard in memory** (core driver, no backing store), then one `os.write`:
  cheaper than HDF5's many small writes, and HDF5 never meets a full disk (see
  `tests/faults/test_disk_full.py`).
- What remains of ~7 us/lens is about 1/3 deflate, 1/3 HDF5 object creation (31 datasets,
  ~90 attributes at ~0.1-0.3 ms each in HDF5 2.0 on this machine) and 1/3 shuffle,
  checksum, copy and fsync."""


def render(result: dict) -> str:
    c = result["compute_us_per_lens"]
    lines = [
        SECTION,
        "",
        "`benchmarks/bench_write.py` writes real shard tables (default recipe, "
        f"{result['n_lenses']:,} lenses in shards of {SHARD:,}, K = 5) with each storage "
        "setting; shuffle and fletcher32 are always on. CPU = `time.process_time` per lens "
        "(median over repeats), measured in one process with the compute of the same shards.",
        "",
        "```",
        "PYTHONPATH=. python benchmarks/bench_write.py --readme",
        "```",
        "",
        f"Compute (`compute_range`, 2 numba threads, CPU time): **{c:.1f} us/lens**.",
        "",
        "| setting | write CPU [us/lens] | write / compute | bytes/lens |",
        "|---|---|---|---|",
    ]
    for row in result["rows"]:
        lines.append(
            f"| {row['setting']} | {row['us_per_lens']:.2f} | "
            f"{row['us_per_lens'] / c:.2f} | {row['bytes_per_lens']:.1f} |"
        )
    lines += [
        "",
        f"Merging {result['n_lenses']:,} lenses into one file (`--out x.h5`), per 100,000 lenses:",
        "",
        "| merge | CPU [s] | wall [s] | bytes/lens |",
        "|---|---|---|---|",
    ]
    for label, m in result["merge"].items():
        lines.append(
            f"| {label} | {m['cpu_s_per_100k']:.2f} | {m['wall_s_per_100k']:.2f} | "
            f"{m['bytes_per_lens']:.1f} |"
        )
    lines += ["", *NOTES.splitlines()]
    lines += [
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores (shared with other work while "
        f"measured), Python {platform.python_version()}, h5py {h5py.__version__}, HDF5 "
        f"{h5py.version.hdf5_version}, deflate engine {result['engine']}.",
        "",
    ]
    return "\n".join(lines)


def update_readme(text: str) -> None:
    old = README.read_text()
    if SECTION in old:
        start = old.index(SECTION)
        nxt = old.find("\n## ", start + len(SECTION))
        new = old[:start] + text + (old[nxt + 1 :] if nxt != -1 else "")
    else:
        new = old.rstrip("\n") + "\n\n" + text
    README.write_text(new)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shards", type=int, default=10, help="shards of 10,000 lenses")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--readme", action="store_true", help="refresh benchmarks/README.md")
    args = parser.parse_args(argv)
    result = measure(args.shards, args.repeats)
    text = render(result)
    print(text)
    if args.readme:
        update_readme(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
