"""The one place numba compilation flags live.

``fastmath`` stays off: the solver's bracketing and the lens-equation residuals rely on IEEE
semantics (NaN propagation, no reassociation that changes results between machines).
``cache=True`` keeps compiled kernels on disk; on clusters the job templates point
``NUMBA_CACHE_DIR`` at node-local storage (numba issues #7952, #10128). Setting
``NUMBA_DISABLE_JIT=1`` runs every kernel as plain Python (used for coverage).
"""

from __future__ import annotations

import numba

#: Flags for scalar kernels that are inlined into other kernels.
SCALAR_FLAGS = dict(cache=True, fastmath=False, error_model="numpy", nogil=True)
#: Flags for batch drivers that own a ``prange`` loop.
PARALLEL_FLAGS = dict(SCALAR_FLAGS, parallel=True)


def jit(func):
    """Compile a scalar kernel with the project's flags.

    Parameters
    ----------
    func : callable
        Python function written in the numba-supported subset.

    Returns
    -------
    numba.core.registry.CPUDispatcher
        The compiled dispatcher (or ``func`` itself when ``NUMBA_DISABLE_JIT=1``).
    """
    return numba.njit(**SCALAR_FLAGS)(func)


def jit_parallel(func):
    """Compile a batch driver (``prange`` loop over systems) with the project's flags.

    Parameters
    ----------
    func : callable
        Python function written in the numba-supported subset.

    Returns
    -------
    numba.core.registry.CPUDispatcher
        The compiled dispatcher.
    """
    return numba.njit(**PARALLEL_FLAGS)(func)


prange = numba.prange
