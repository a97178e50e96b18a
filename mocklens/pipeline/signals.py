"""Stop requests: SIGINT (Ctrl-C), SIGTERM and SIGUSR1 all mean "stop, keep finished work".

SLURM's ``--signal=B:USR1@<seconds>``, a preemption's SIGTERM and a user's Ctrl-C arrive
here, and the command ends with :class:`~mocklens.errors.StopRequested` (exit 99, which the
job templates treat as "requeue me"). A signal is acted on in one of two ways:

- **finish the shard in hand** (the shard loop, the default): the handler only records the
  signal; ``run_shards`` checks :func:`stop_requested` between shards.
- **abandon at once** (inside :func:`abandon_on_stop`: imports, numba warm-up, the final
  merge, ``mocklens merge``/``finalize``): the handler raises :class:`Abandon`, so the io
  writer's ``except BaseException`` removes its temporary and nothing half-written remains.
  A second signal (at least :data:`REPEAT_S` after the first, so that one Ctrl-C delivered
  twice by a terminal and by ``mpiexec`` counts once) abandons the shard in hand too.

Why :class:`Abandon` is a BaseException: ``except Exception`` blocks in numba and h5py must
not swallow it. Why :func:`_unraisable` exists: Python runs a signal handler at the next
bytecode, and after a long C call (an HDF5 write) that is often inside a weakref callback of
h5py's object registry, where an exception cannot propagate; it is printed as ``Exception
ignored in ...`` and lost. That is how Ctrl-C used to be ignored. The hook recognises a lost
:class:`Abandon`, prints nothing, and re-delivers the stop a moment later with a one-shot
``SIGALRM`` timer, until it lands in ordinary code.

Python's default SIGINT handler (``KeyboardInterrupt``) is replaced for as long as
:func:`stop_signals` is active; the CLI enters it first thing in each writing command.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from pathlib import Path

from mocklens.errors import StopRequested

#: Signals that request a stop.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1)
#: A further stop signal at least this long after the first abandons the shard in hand;
#: closer ones are the same request delivered twice (terminal + mpiexec forwarding) [s].
REPEAT_S = 0.5
#: Delay before a stop whose exception was swallowed by a finalizer is re-delivered [s].
REDELIVER_S = 0.002


class Abandon(BaseException):
    """Raised by the stop handler where work in hand is to be abandoned, not finished."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


class _State:
    depth = 0  # nesting of stop_signals()
    signal: int | None = None  # first stop signal received
    first_at = 0.0  # time.monotonic() of the first stop signal [s]
    repeated = False  # a second, deliberate stop signal arrived
    modes: list = []  # innermost last: "abandon", "finish" or "shield"
    raised = False  # an Abandon is on its way up (raise it once)
    in_hook = False
    previous_hook = staticmethod(sys.unraisablehook)


_S = _State()


def signal_name(signum: int | None) -> str:
    """``"SIGINT"`` for 2, etc. (``"signal N"`` for unknown numbers)."""
    try:
        return signal.Signals(signum).name
    except (TypeError, ValueError):
        return f"signal {signum}"


def _raise_now() -> bool:
    mode = _S.modes[-1] if _S.modes else "finish"
    wanted = mode == "abandon" or (_S.repeated and mode == "finish")
    return wanted and _S.depth > 0 and not _S.raised


def _handler(signum, frame):  # noqa: ARG001
    if signum == signal.SIGALRM:  # a re-delivery scheduled by _unraisable
        signum = _S.signal
    elif _S.signal is None:
        _S.signal, _S.first_at = signum, time.monotonic()
    elif time.monotonic() - _S.first_at >= REPEAT_S:
        _S.repeated = True
    if not _raise_now():
        return
    if _S.in_hook:  # raising here would be lost too: try again shortly
        signal.setitimer(signal.ITIMER_REAL, REDELIVER_S)
        return
    _S.raised = True
    raise Abandon(signum)


def _unraisable(unraisable) -> None:
    if not isinstance(unraisable.exc_value, Abandon):
        _S.previous_hook(unraisable)
        return
    _S.in_hook = True
    try:
        _S.raised = False
        signal.setitimer(signal.ITIMER_REAL, REDELIVER_S)
    finally:
        _S.in_hook = False


def stop_requested() -> int | None:
    """Return the number of the stop signal received, or None."""
    return _S.signal


def request_stop(signum: int = signal.SIGUSR1) -> None:
    """Set the stop flag as if ``signum`` had arrived (used when another rank saw it)."""
    if _S.signal is None:
        _S.signal, _S.first_at = signum, time.monotonic()


@contextlib.contextmanager
def stop_signals(final: bool = False):
    """Install the stop handlers (SIGINT, SIGTERM, SIGUSR1) for the duration of a command.

    Nested use keeps the outer installation and its state. Outside the main thread (where
    Python cannot install handlers) this does nothing.

    Parameters
    ----------
    final : bool, optional
        The process ends after this block: then ignore the stop signals on exit, since
        they come too late to stop anything. Otherwise a Ctrl-C during the interpreter's
        shutdown is a ``KeyboardInterrupt`` in an atexit hook, or (once Python has reset
        its handlers) kills the process. For the mocklens process itself, never inside a
        host program.
    """
    if _S.depth:
        _S.depth += 1
        try:
            yield
        finally:
            _S.depth -= 1
        return
    previous = {}
    try:
        for sig in (*STOP_SIGNALS, signal.SIGALRM):
            previous[sig] = signal.signal(sig, _handler)
    except ValueError:  # not the main thread: leave the defaults
        for sig, old in previous.items():
            signal.signal(sig, old)
        yield
        return
    _S.signal, _S.repeated, _S.raised, _S.modes = None, False, False, []
    _S.previous_hook = sys.unraisablehook
    sys.unraisablehook = _unraisable
    _S.depth = 1
    try:
        yield
    finally:
        _S.depth = 0
        signal.setitimer(signal.ITIMER_REAL, 0)
        sys.unraisablehook = _S.previous_hook
        for sig, old in previous.items():
            signal.signal(sig, signal.SIG_IGN if final and sig in STOP_SIGNALS else old)


def is_mocklens_process() -> bool:
    """Whether this interpreter runs the mocklens command line (not pytest, not a notebook)."""
    argv0 = Path(sys.argv[0]) if sys.argv and sys.argv[0] else Path()
    return argv0.name == "mocklens" or (
        argv0.name == "__main__.py" and argv0.parent.name == "mocklens"
    )


@contextlib.contextmanager
def command_signals():
    """Stop handlers for one CLI command (see :func:`stop_signals`, ``final``).

    Raises
    ------
    StopRequested
        A second stop signal interrupted the command outside the places that report it
        themselves (exit code 99).
    """
    try:
        with stop_signals(final=is_mocklens_process()):
            yield
    except Abandon as stop:
        raise _quiet_off_rank0(
            StopRequested(
                f"stopped by {signal_name(stop.signum)}; finished shards are kept, rerun the "
                "same command to finish"
            )
        ) from None


#: Variables in which MPI launchers give a process its rank (before mpi4py is imported).
RANK_VARIABLES = ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK")


def _quiet_off_rank0(error: StopRequested) -> StopRequested:
    """Under an MPI launcher, mark the error quiet except on rank 0: one line per job."""
    for var in RANK_VARIABLES:
        value = os.environ.get(var, "")
        if value.isdigit():
            error.quiet = int(value) != 0
            break
    return error


@contextlib.contextmanager
def startup():
    """Abandon on a stop while a command starts (imports, config); nothing is written yet.

    Raises
    ------
    StopRequested
        A stop signal arrived while the block ran (exit code 99).
    """
    try:
        with abandon_on_stop():
            yield
    except Abandon as stop:
        raise _quiet_off_rank0(
            StopRequested(
                f"stopped by {signal_name(stop.signum)} while starting; nothing was written, "
                "rerun the same command"
            )
        ) from None


@contextlib.contextmanager
def _mode(name: str):
    _S.modes.append(name)
    try:
        if _S.signal is not None and _raise_now():
            _S.raised = True
            raise Abandon(_S.signal)
        yield
    finally:
        _S.modes.pop()
    # a stop that arrived inside an inner shield is raised once the shield ends
    if _S.signal is not None and _raise_now():
        _S.raised = True
        raise Abandon(_S.signal)


def abandon_on_stop():
    """Context manager: inside it a stop signal raises :class:`Abandon` at once.

    A stop already requested on entry raises at entry. Use around work that has no useful
    partial state (imports, warm-up, one merge); the caller turns :class:`Abandon` into
    :class:`~mocklens.errors.StopRequested` with its own message. The innermost of
    :func:`abandon_on_stop`, :func:`finishing` and :func:`shielded` decides.

    Raises
    ------
    Abandon
        When a stop signal arrives (or had arrived) while the block runs.
    """
    return _mode("abandon")


def finishing():
    """Context manager: a first stop signal is only recorded; a second one abandons."""
    return _mode("finish")


def shielded():
    """Context manager: never raise :class:`Abandon` inside (short bookkeeping, MPI messages)."""
    return _mode("shield")
