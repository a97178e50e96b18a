"""Comparing mocklens files the way the README promises: identical data.

"Identical data" means every dataset has the same dtype, shape and bytes, every dataset and
group attribute is equal, and every root attribute is equal except ``provenance`` (host, pid,
timings: what a run measured about itself, which no two runs share).
"""

from __future__ import annotations

import h5py
import numpy as np

#: Root attributes that describe the run that made a file, not its data.
RUN_DEPENDENT_ATTRS = frozenset({"provenance"})


def _attrs(obj, skip=frozenset()):
    out = {}
    for key, value in obj.attrs.items():
        if key in skip:
            continue
        out[key] = value.tolist() if isinstance(value, np.ndarray) else value
    return out


def data_fingerprint(path, skip_root=RUN_DEPENDENT_ATTRS):
    """Return {name: (dtype, shape, bytes, attrs)} for every object, plus root attributes."""
    with h5py.File(path, "r") as handle:
        found = {"/": _attrs(handle, skip_root)}

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                found[name] = (str(obj.dtype), obj.shape, obj[()].tobytes(), _attrs(obj))
            else:
                found[name] = _attrs(obj)

        handle.visititems(visit)
    return found


def assert_identical_data(a, b, skip_root=RUN_DEPENDENT_ATTRS):
    """Assert two files hold identical data (see the module notes)."""
    fa, fb = data_fingerprint(a, skip_root), data_fingerprint(b, skip_root)
    assert fa.keys() == fb.keys(), sorted(set(fa) ^ set(fb))
    for key in fa:
        assert fa[key] == fb[key], f"{key} differs between {a} and {b}"
