"""mocklens.io: HDF5 layout, atomic writing, checked reading, shard merging, manifests.

Layer rule: this is the only package that imports h5py. It knows arrays and layout, not
models: it imports only numpy, h5py, jsonschema, isal (optional, a faster deflate), the
standard library, ``mocklens.errors`` and ``mocklens.constants``; never
``mocklens.models``, ``config``, ``priors``, ``pipeline``, ``cli``, click or mpi4py.
Catalogues cross this boundary as a :class:`Table` of ``"group/name"`` columns plus
attribute dicts.
"""

from mocklens.io.atomic import free_bytes, remove_stale_temporaries, remove_stale_temporaries_of
from mocklens.io.layout import COMPLETE_ATTR, COMPRESSION, chunk_rows, estimate_bytes_per_row
from mocklens.io.manifest import describe, validate_manifest
from mocklens.io.merge import build_virtual, merge_copy
from mocklens.io.reader import check_complete, read_root_attrs, read_table
from mocklens.io.table import Table
from mocklens.io.writer import write_table

__all__ = [
    "COMPLETE_ATTR",
    "COMPRESSION",
    "Table",
    "build_virtual",
    "check_complete",
    "chunk_rows",
    "describe",
    "estimate_bytes_per_row",
    "free_bytes",
    "merge_copy",
    "read_root_attrs",
    "read_table",
    "remove_stale_temporaries",
    "remove_stale_temporaries_of",
    "validate_manifest",
    "write_table",
]
