"""Cooperative stop on SIGUSR1 / SIGTERM: finish the shard in hand, then stop.

SLURM's ``--signal=B:USR1@<seconds>`` and a preemption's SIGTERM both arrive here; the
handler only sets a flag (signal handlers must not do I/O), the run loop checks it between
shards and raises :class:`~mocklens.errors.StopRequested`, whose exit code (99) the job
templates treat as "requeue me". Finished shards are safe on disk; a shard being written is
abandoned (its temporary file is removed by the writer or on the next start).
"""

from __future__ import annotations

import contextlib
import signal

_STOP = {"signal": None}


def _handler(signum, frame):  # noqa: ARG001
    _STOP["signal"] = signum


def stop_requested() -> int | None:
    """Return the number of the stop signal received, or None."""
    return _STOP["signal"]


def request_stop(signum: int = signal.SIGUSR1) -> None:
    """Set the stop flag as if ``signum`` had arrived (used when another rank saw it)."""
    _STOP["signal"] = signum


@contextlib.contextmanager
def stop_signals():
    """Install the stop handlers for SIGUSR1 and SIGTERM for the duration of a run."""
    _STOP["signal"] = None
    previous = {}
    for sig in (signal.SIGUSR1, signal.SIGTERM):
        try:
            previous[sig] = signal.signal(sig, _handler)
        except ValueError:  # not the main thread: leave the defaults
            pass
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
