"""What a run says while it works: the kernel warm-up notice and periodic progress lines.

Both the serial driver (``mocklens.pipeline.launch``) and the MPI driver
(``mocklens.pipeline.parallel``) use these, so a SLURM log or a ``nohup`` file reads the same
whatever the launch. With stderr on a terminal the drivers show a tqdm bar instead of lines.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

#: A progress line is printed each time this fraction of the work is done [fraction] ...
PROGRESS_STEP = 0.1
#: ... or when this long has passed since the last line, whichever comes first [s].
PROGRESS_INTERVAL_S = 30.0
#: Rounding margin when comparing fractions of the work [fraction].
_MARGIN = 1e-9


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class ProgressLog:
    """Print ``progress: done of total lenses (x%), rate, ETA`` lines as work completes.

    Parameters
    ----------
    total : int
        Lenses to compute in this run (pending ones only) [count].
    echo : callable
        Where lines go.
    ranks : int, optional
        Number of processes computing, named in the line when above 1.
    step : float, optional
        Fraction of ``total`` between lines [fraction].
    interval : float, optional
        Longest time between lines while work completes [s].
    clock : callable, optional
        Monotonic clock [s].
    """

    def __init__(
        self,
        total: int,
        echo: Callable[[str], None],
        *,
        ranks: int = 1,
        step: float = PROGRESS_STEP,
        interval: float = PROGRESS_INTERVAL_S,
        clock: Callable[[], float] = time.perf_counter,
    ):
        self.total, self.echo, self.ranks = total, echo, ranks
        self.step, self.interval, self.clock = step, interval, clock
        self.done = 0
        self.start()

    def start(self) -> None:
        """Restart the clock (call when the timed work begins)."""
        self.t0 = self.last = self.clock()
        self.next_line = 1  # the next line is due at next_line * step of the work

    def advance(self, n: int) -> None:
        """Record ``n`` more lenses done and print a line when one is due."""
        self.done += n
        now = self.clock()
        if not self.total:
            return
        fraction = self.done / self.total
        # compare with a margin: 3 * 0.1 is 0.30000000000000004, which 0.3 of the work is not
        if fraction + _MARGIN < self.next_line * self.step and now - self.last < self.interval:
            return
        while self.next_line * self.step <= fraction + _MARGIN:
            self.next_line += 1
        self.last = now
        wall = max(now - self.t0, 1e-9)
        rate = self.done / wall
        eta = (self.total - self.done) / rate if rate > 0 else float("inf")
        where = f" on {self.ranks} ranks" if self.ranks > 1 else ""
        self.echo(
            f"progress: {self.done:,} of {self.total:,} lenses ({100 * fraction:.0f}%), "
            f"{rate:,.0f} lenses/s{where}, ETA {_duration(eta)}"
        )


def _kernel_dispatchers() -> list:
    """Return the numba dispatchers defined in the loaded ``mocklens.kernels`` modules."""
    found = []
    for name, module in list(sys.modules.items()):
        if not name.startswith("mocklens.kernels.") or module is None:
            continue
        for obj in vars(module).values():
            if hasattr(obj, "py_func") and getattr(obj, "__module__", None) == name:
                found.append(obj)
    return found


def kernels_cached() -> bool | None:
    """Whether numba's on-disk cache holds a current copy of the solver's batch kernel.

    Every run calls ``solve_images_batch``, which calls the profile kernels; a valid index
    for it (source stamp matching the file) means the warm-up loads rather than compiles.

    Returns
    -------
    bool or None
        True: loads (~2 s); False: compiles (30-40 s); None: cannot tell (numba internals
        changed, or ``NUMBA_DISABLE_JIT``).
    """
    try:
        from mocklens.kernels.images import solve_images_batch

        # private numba API (IndexDataCacheFile): only the wording of one line depends on it
        return bool(solve_images_batch._cache._cache_file._load_index())
    except Exception:  # noqa: BLE001
        return None


def compiled_count() -> int:
    """Return how many kernel signatures numba compiled (cache misses) in this process."""
    total = 0
    for dispatcher in _kernel_dispatchers():
        stats = getattr(dispatcher, "stats", None)
        total += sum(getattr(stats, "cache_misses", {}).values()) if stats else 0
    return total


def warm_up_notice() -> str:
    """One line said before the numba warm-up, so the first run's silence is explained."""
    cached = kernels_cached()
    if cached is True:
        return "loading compiled kernels ..."
    if cached is False:
        return "compiling kernels (first run only, ~40 s) ..."
    return "compiling or loading kernels (up to ~40 s on the first run) ..."


def warm_up_done(seconds: float, compiled_before: int = 0) -> str:
    """One line said after the warm-up: how long it took and whether it compiled.

    Parameters
    ----------
    seconds : float
        Wall time of the warm-up [s].
    compiled_before : int, optional
        :func:`compiled_count` before the warm-up [count].
    """
    if compiled_count() > compiled_before:
        return f"kernels compiled in {seconds:.1f} s (cached for later runs)"
    return f"kernels ready in {seconds:.1f} s"
