"""MPI driver of ``mocklens generate``: every rank computes shards, rank 0 plans and finalizes.

This is the only module that imports mpi4py, and only inside functions, so that importing
mocklens never initialises MPI. The protocol, chosen to keep the driver's cost per shard
small (measured in the provenance as ``overhead_s_per_shard``):

1. Rank 0 plans the run and checks the output (``prepare_output``: moves corrupt shards aside,
   refuses foreign ones, checks disk space), then broadcasts the pending shard ids, or the
   error it met, which every rank then raises: all ranks exit with the same code.
2. Rank 0 warms numba's on-disk cache by computing two samples while the others wait at a
   barrier; then the first rank of every other node does the same, so each node compiles
   once; then all other ranks load the cache, before the timed shard loop.
3. Pending shards are split statically, ``pending[rank::size]`` (equal-size shards whose
   cost is an average over thousands of random systems, so the split is balanced; see
   ``benchmarks/README.md``). Ranks send a small message to rank 0 after each shard, which
   drives the progress bar or log lines.
4. A stop signal (SIGINT, SIGTERM, SIGUSR1; mpiexec forwards Ctrl-C to every rank) on any
   rank is forwarded to all others by a point-to-point message that every rank polls between
   shards; each finishes the shard in hand (a second signal abandons it). A stop during the
   warm-up abandons the warm-up but not the protocol: the barriers are still met. When every
   rank is done, rank 0 finalizes if all shards exist (a stop abandons the merge), and
   broadcasts the outcome: the path, or :class:`~mocklens.errors.StopRequested` (exit 99) on
   every rank, whose message only rank 0 prints. Everything between those steps runs
   :func:`~mocklens.pipeline.signals.shielded`, so no signal interrupts a message exchange.
   Rank 0 holds the run's lock (``mocklens.pipeline.lock``) from before ``prepare_output``
   to the end.
5. An error only one rank sees (a bug, a full disk) prints its message and calls
   ``MPI_Abort`` with the error's exit code, so no rank waits forever, with or without
   ``python -m mpi4py``.
"""

from __future__ import annotations

import contextlib
import sys
import time
import traceback
from collections.abc import Callable

from mocklens import errors
from mocklens.config.model import RunConfig
from mocklens.errors import MockLensError, StopRequested
from mocklens.pipeline.launch import finish_parts, stopped_message, write_final
from mocklens.pipeline.lock import run_lock
from mocklens.pipeline.progress import ProgressLog, compiled_count, warm_up_done, warm_up_notice
from mocklens.pipeline.run import (
    configure_threads,
    finalize,
    make_plan,
    prepare_output,
    rank_summary,
    run_shards,
    task_shards,
    warm_up,
)
from mocklens.pipeline.signals import (
    Abandon,
    abandon_on_stop,
    finishing,
    is_mocklens_process,
    request_stop,
    shielded,
    stop_requested,
    stop_signals,
)

#: Pause between a failing rank's error line and MPI_Abort, so the line reaches the user [s].
ABORT_GRACE_S = 0.5
#: Message tags (any values unused elsewhere on COMM_WORLD).
TAG_PROGRESS = 7101
TAG_STOP = 7102
#: Sleep of rank 0 between polls while it waits for the other ranks [s].
POLL_S = 0.02


class _Shared(Exception):
    """An error every rank raises identically (no abort needed)."""

    def __init__(self, error: MockLensError):
        super().__init__(str(error))
        self.error = error


def _rebuild(name: str, message: str) -> MockLensError:
    cls = getattr(errors, name, None)
    if not (isinstance(cls, type) and issubclass(cls, MockLensError)):
        cls = MockLensError
    return cls(message)


def run_parallel(
    cfg: RunConfig,
    out: str,
    *,
    overwrite: bool = False,
    progress: bool = False,
    echo: Callable[[str], None] = print,
    task: tuple[int, int] | None = None,
) -> str | None:
    """Generate a run with all ranks of ``MPI.COMM_WORLD``; collective.

    Parameters
    ----------
    cfg : RunConfig
        Resolved configuration (the same on every rank).
    out : str
        ``FILE.h5`` or a run directory.
    overwrite : bool, optional
        Replace existing output (rank 0 deletes it before any rank writes).
    progress : bool, optional
        tqdm bar on rank 0 (otherwise a log line every 10% of the work).
    echo : callable, optional
        Where rank 0's one-line messages go (other ranks are silent).
    task : tuple of int, optional
        ``(task_id, n_tasks)``: SLURM-array mode, compute only this task's shards and do not
        finalize.

    Returns
    -------
    str or None
        Path of the final dataset (every rank), or None in array mode.

    Raises
    ------
    StopRequested
        On every rank when a stop signal stopped the run before all shards were written.
    MockLensError
        On every rank, when rank 0's start-up checks fail (same message and exit code).
    """
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    try:
        return _Driver(comm, cfg, out, overwrite, progress, echo, task).run()
    except _Shared as shared:
        # Every rank raises the same error; only rank 0's is printed by the CLI.
        shared.error.quiet = comm.Get_rank() != 0
        if is_mocklens_process():
            # All ranks agree and the process now exits with the error's code: end MPI here,
            # or `python -m mpi4py` turns that exit into an MPI_Abort with a message per rank.
            MPI.Finalize()
        raise shared.error from None
    except MockLensError as exc:
        sys.stderr.write(f"error: rank {comm.Get_rank()}: {exc}\n")
        sys.stderr.flush()
        # MPI_Abort kills every rank at once, and the launcher may drop this rank's last
        # line when it dies before its stderr pipe is drained (1 of 3 disk-full trials).
        time.sleep(ABORT_GRACE_S)
        comm.Abort(exc.exit_code)
    except BaseException:
        sys.stderr.write(f"rank {comm.Get_rank()} of {comm.Get_size()} failed:\n")
        traceback.print_exc()
        sys.stderr.flush()
        time.sleep(ABORT_GRACE_S)
        comm.Abort(1)
    return None  # pragma: no cover - Abort does not return


class _Driver:
    """State of one rank during a parallel run."""

    def __init__(self, comm, cfg, out, overwrite, progress, echo, task):
        self.comm = comm
        self.rank, self.size = comm.Get_rank(), comm.Get_size()
        self.cfg, self.out, self.overwrite = cfg, out, overwrite
        self.progress, self.echo, self.task = progress, echo, task
        self.records: list[dict] = []
        self.finals: list[dict] = []
        self.sends: list = []
        self.stop_sent = False
        self.bar = None
        self.lines: ProgressLog | None = None
        self.locks = contextlib.ExitStack()  # rank 0: the run's lock
        self.t_start = time.perf_counter()

    # -- messages ------------------------------------------------------------------------
    def _poll(self) -> None:
        """Between shards: take in remote stops, forward a local one, drain progress."""
        from mpi4py import MPI

        while self.comm.Iprobe(source=MPI.ANY_SOURCE, tag=TAG_STOP):
            signum = self.comm.recv(source=MPI.ANY_SOURCE, tag=TAG_STOP)
            if stop_requested() is None:
                request_stop(signum)
                self.stop_sent = True  # the sender already told everybody
        signum = stop_requested()
        if signum is not None and not self.stop_sent:
            self.stop_sent = True
            for dest in range(self.size):
                if dest != self.rank:
                    self.sends.append(self.comm.isend(int(signum), dest=dest, tag=TAG_STOP))
        if self.rank == 0:
            self._drain_progress()

    def _drain_progress(self) -> int:
        """Rank 0: handle waiting progress messages (final summaries go to ``self.finals``).

        Returns the number of messages handled.
        """
        from mpi4py import MPI

        handled = 0
        status = MPI.Status()
        while self.comm.Iprobe(source=MPI.ANY_SOURCE, tag=TAG_PROGRESS, status=status):
            kind, payload = self.comm.recv(source=status.Get_source(), tag=TAG_PROGRESS)
            handled += 1
            if kind == "shard":
                self._advance(payload["n"])
            else:
                self.finals.append(payload)
        return handled

    def _advance(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)
        elif self.lines is not None:
            self.lines.advance(n)

    def _on_done(self, shard, rec) -> None:
        with shielded():
            self.records.append(rec)
            if self.rank == 0:
                self._advance(shard.size)
            else:
                payload = {"n": shard.size, "shard": shard.id}
                self.sends.append(self.comm.isend(("shard", payload), dest=0, tag=TAG_PROGRESS))
            self._poll()

    # -- phases --------------------------------------------------------------------------
    def _setup(self, plan, owned) -> list:
        msg = None
        if self.rank == 0:
            try:
                self.locks.enter_context(run_lock(plan.layout, self.task))  # before any change
                prepare_output(plan, self.overwrite, only=None if self.task is None else owned)
                msg = ("ok", [s.id for s in owned if plan.states.get(s.id) != "done"])
            except MockLensError as exc:
                msg = ("error", type(exc).__name__, str(exc))
        msg = self.comm.bcast(msg, root=0)
        if msg[0] == "error":
            raise _Shared(_rebuild(msg[1], msg[2]))
        by_id = {s.id: s for s in plan.shards}
        return [by_id[i] for i in msg[1]]

    def _warm_one(self) -> None:
        """Warm up unless a stop came; a stop during it abandons the warm-up only."""
        if stop_requested() is not None:
            return
        try:
            with abandon_on_stop():
                warm_up(self.cfg)
        except Abandon:
            pass

    def _warm_up(self, local) -> float:
        t0 = time.perf_counter()
        if self.rank == 0:
            self.echo(warm_up_notice())
            compiled = compiled_count()
            self._warm_one()
        self.comm.Barrier()
        if local.Get_rank() == 0 and self.rank != 0:
            self._warm_one()
        self.comm.Barrier()
        # The rest load the now-complete cache (~2 s) here rather than in their first shard.
        if local.Get_rank() != 0:
            self._warm_one()
        self.comm.Barrier()
        if self.rank == 0 and stop_requested() is None:
            self.echo(warm_up_done(time.perf_counter() - t0, compiled))
        return time.perf_counter() - t0

    def run(self) -> str | None:
        from mpi4py import MPI

        local = self.comm.Split_type(MPI.COMM_TYPE_SHARED)
        configure_threads(local.Get_size())
        plan = make_plan(self.cfg, self.out)
        owned = plan.shards if self.task is None else task_shards(plan.shards, *self.task)
        with self.locks, stop_signals(), shielded():
            outcome = self._run(plan, owned, local)
        if self.bar is not None:
            self.bar.close()
        MPI.Request.waitall(self.sends)
        while self.comm.Iprobe(source=MPI.ANY_SOURCE, tag=TAG_STOP):
            self.comm.recv(source=MPI.ANY_SOURCE, tag=TAG_STOP)
        local.Free()
        if outcome[0] == "error":
            raise _Shared(_rebuild(outcome[1], outcome[2]))
        return outcome[1]

    def _run(self, plan, owned, local) -> tuple:
        pending = self._setup(plan, owned)
        for note in plan.notes if self.rank == 0 else ():
            self.echo(note)
        if self.rank == 0 and len(owned) > len(pending):
            self.echo(
                f"resuming: {len(owned) - len(pending)} of {len(owned)} shards already "
                "complete, skipped"
            )
        warm = self._warm_up(local) if pending else 0.0
        mine = pending[self.rank :: self.size]
        total = sum(s.size for s in pending)
        if self.rank == 0 and self.progress:
            from tqdm import tqdm

            self.bar = tqdm(
                total=total, unit="lens", unit_scale=True, desc="generate", file=sys.stderr,
            )  # fmt: skip
        elif self.rank == 0:
            self.lines = ProgressLog(total, self.echo, ranks=self.size)
        self.t_start = time.perf_counter()
        if self.lines is not None:
            self.lines.start()
        try:
            self._poll()
            with finishing():
                run_shards(plan, mine, on_done=self._on_done)
        except (StopRequested, Abandon):
            pass  # a second signal abandoned the shard in hand; its temporary is gone
        self._poll()
        loop_wall = time.perf_counter() - self.t_start
        summary = rank_summary(self.rank, self.records, loop_wall)
        summary["complete"] = len(self.records) == len(mine)
        self.n_owned, self.n_kept = len(owned), len(owned) - len(pending)
        return self._gather_and_finish(plan, pending, summary, warm)

    def _gather_and_finish(self, plan, pending, summary, warm) -> tuple:
        if self.rank != 0:
            self.sends.append(self.comm.isend(("final", summary), dest=0, tag=TAG_PROGRESS))
            return self.comm.bcast(None, root=0)
        self.finals.append(summary)
        while len(self.finals) < self.size:
            if not self._drain_progress():
                self._poll()
                time.sleep(POLL_S)
        finals = sorted(self.finals, key=lambda s: s["rank"])
        wall = time.perf_counter() - self.t_start
        written = sum(s["shards"] for s in finals)
        outcome = self._outcome(plan, pending, finals, written, wall, warm)
        return self.comm.bcast(outcome, root=0)

    def _outcome(self, plan, pending, finals, written, wall, warm) -> tuple:
        n_new = sum(s["lenses"] for s in finals)
        rate = n_new / wall if wall > 0 else float("inf")
        overheads = [s["overhead_s_per_shard"] for s in finals if s["shards"]]
        line = (
            f"{written} shards computed in {wall:.1f} s on {self.size} ranks, "
            f"{rate:,.0f} lenses/s, driver overhead "
            f"{1e3 * max(overheads, default=0.0):.2f} ms/shard"
        )
        stopped = (
            "error",
            "StopRequested",
            stopped_message(stop_requested(), self.n_kept + written, self.n_owned),
        )
        if written < len(pending):
            return stopped
        if self.task is not None:
            self.echo(
                f"task {self.task[0]} of {self.task[1]}: {line}; run `mocklens finalize "
                f"{self.out}` when all tasks are done"
            )
            return ("ok", None)
        extra = {
            "wall_s": wall,
            "warmup_s": warm,
            "ranks": self.size,
            "lenses_per_s": rate,
            "driver_overhead_s_per_shard": max(overheads, default=0.0),
            "per_rank": finals,
        }
        if plan.layout.single_file:
            self.echo(f"merging {len(plan.shards)} shards into {plan.layout.final_path} ...")
        try:
            final = write_final(lambda: finalize(plan, extra), plan.layout.final_path)
        except Abandon:
            return stopped
        except MockLensError as exc:
            return ("error", type(exc).__name__, str(exc))
        finish_parts(plan)
        self.echo(f"wrote {final}: {self.cfg.n_samples} lenses ({line})")
        return ("ok", str(final))
