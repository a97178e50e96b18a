"""In-memory catalogue: named columns sharing a first (sample) dimension, plus attributes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mocklens.io.layout import COMPLETE_ATTR, SUPPORTED_KINDS, split_column_name


@dataclass
class Table:
    """A catalogue of N samples as named columns, with the attributes stored beside them.

    Parameters
    ----------
    columns : dict of str to ndarray
        Columns keyed by ``"group/name"`` (one level of grouping). Every array has shape
        ``(N, *trailing)``, e.g. ``"lens/theta_e"`` float64 (N,) or ``"point/x"`` float64
        (N, K) NaN-padded. Dtypes are bool, integer or float.
    column_attrs : dict of str to dict
        Attributes of each column, keyed like ``columns``; always ``"units"``, usually also
        ``"description"``. Values are str, int, float or bool.
    group_attrs : dict of str to dict
        Attributes of each group, e.g. ``{"lens": {"profile": "EPL"}}``.
    root_attrs : dict
        File-level attributes (``config`` JSON text, ``root_seed``, ``sample_start`` ...).
        ``format``, ``format_version`` and ``complete`` are managed by the writer.
    """

    columns: dict[str, np.ndarray]
    column_attrs: dict[str, dict] = field(default_factory=dict)
    group_attrs: dict[str, dict] = field(default_factory=dict)
    root_attrs: dict = field(default_factory=dict)

    @property
    def n_rows(self) -> int:
        """Number of rows N (0 for a table without columns) [dimensionless]."""
        for array in self.columns.values():
            return int(array.shape[0])
        return 0

    @property
    def groups(self) -> list[str]:
        """Names of the groups holding at least one column or having attributes, sorted."""
        names = {split_column_name(key)[0] for key in self.columns}
        return sorted(names | set(self.group_attrs))

    def validate(self) -> None:
        """Check keys, dtypes and first dimensions; raise ValueError on the first problem.

        Raises
        ------
        ValueError
            If a key is not ``group/name``, a column is 0-d, has an unsupported dtype or a
            first dimension different from the others, or attributes name an unknown
            column, or ``complete`` is among the root attributes.
        """
        n = None
        for key, array in self.columns.items():
            split_column_name(key)
            if not isinstance(array, np.ndarray) or array.ndim == 0:
                raise ValueError(f"column {key!r} must be an ndarray with ndim >= 1")
            if array.dtype.kind not in SUPPORTED_KINDS:
                raise ValueError(f"column {key!r} has unsupported dtype {array.dtype}")
            if n is None:
                n = array.shape[0]
            elif array.shape[0] != n:
                raise ValueError(f"column {key!r} has {array.shape[0]} rows, expected {n}")
        unknown = set(self.column_attrs) - set(self.columns)
        if unknown:
            raise ValueError(f"column_attrs names unknown columns {sorted(unknown)}")
        if COMPLETE_ATTR in self.root_attrs:
            raise ValueError(f"root attribute {COMPLETE_ATTR!r} is reserved for the writer")
