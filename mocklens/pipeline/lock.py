"""One writer per run: advisory ``flock`` locks on a small file beside the shards.

Who takes what (all non-blocking: a second writer is refused at once, never queued):

- a plain ``generate``, ``finalize`` and ``merge`` of a run: the run lock, exclusive;
- a SLURM array task (``--task-id/--n-tasks``; tasks run side by side on purpose, each owning
  distinct shards): the run lock *shared*, plus its own task lock exclusive. So array tasks
  coexist, a second copy of one task is refused, and a plain generate (or finalize) and array
  tasks exclude each other.

The run lock is ``run/.mocklens.lock`` for a run directory and ``.lenses.h5.lock`` beside a
single-file output (the ``lenses.h5.parts/`` directory is deleted by ``--overwrite`` and at
the end, so it cannot hold the lock). An exclusive holder writes ``host pid`` into the file,
so that a refused process can name it. ``flock`` works on local disks and on NFSv4 (Linux
emulates it with NFS byte-range locks); locks vanish with the process, so a killed run never
leaves a stale lock.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import socket
from pathlib import Path

from mocklens.errors import OutputExistsError, ResourceError, RunLockedError
from mocklens.pipeline.shards import RunLayout

#: Name of the run lock inside a run directory.
LOCK_NAME = ".mocklens.lock"


def lock_path(layout: RunLayout) -> Path:
    """Path of a run's lock file (see the module docstring)."""
    if layout.single_file:
        return layout.out.with_name(f".{layout.out.name}.lock")
    return layout.out / LOCK_NAME


def task_lock_path(layout: RunLayout, task_id: int, n_tasks: int) -> Path:
    """Path of array task ``task_id`` of ``n_tasks``'s lock file."""
    return layout.out / f".mocklens-task-{task_id}-of-{n_tasks}.lock"


def _describe(text: str) -> str:
    parts = text.split()
    if len(parts) == 2 and parts[1].isdigit():
        return f"host {parts[0]}, pid {parts[1]}"
    return "holder unknown"


def _alive(text: str) -> bool:
    """Return False only for a ``host pid`` record of this host whose process is gone."""
    parts = text.split()
    if len(parts) != 2 or not parts[1].isdigit() or parts[0] != socket.gethostname():
        return True
    try:
        os.kill(int(parts[1]), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _holder(fd: int, path: Path) -> str:
    """``host pid`` of whoever holds ``path``: its own record, else an array task's."""
    text = _read(fd)
    if text.strip() and _alive(text):
        return text
    # Shared holders (array tasks) cannot write the run lock; each writes its task lock.
    for task in sorted(path.parent.glob(".mocklens-task-*.lock")):
        with contextlib.suppress(OSError):
            record = task.read_text()
            if record.strip() and _alive(record):
                return record
    return ""


class _Lock:
    """An open, flock-ed lock file; :meth:`release` closes it."""

    def __init__(self, path: Path, exclusive: bool, unlink: bool):
        self.path, self.exclusive, self.unlink = path, exclusive, unlink
        self.fd: int | None = None

    def acquire(self, what: str) -> _Lock:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            raise OutputExistsError(
                f"{self.path.parent} exists and is not a directory; choose another --out"
            ) from None
        except OSError as exc:
            raise ResourceError(f"cannot create {self.path.parent}: {exc.strerror}") from None
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except NotADirectoryError:
                raise OutputExistsError(
                    f"{self.path.parent} is not a directory; choose another --out"
                ) from None
            except OSError as exc:
                if exc.errno != errno.EROFS:
                    raise ResourceError(f"cannot create {self.path}: {exc.strerror}") from None
                # On a read-only filesystem nobody can be writing the run: reading it (merge
                # of an archived run) needs no lock, and a command that must write says so
                # itself, naming what it cannot write.
                try:
                    fd = os.open(self.path, os.O_RDONLY)
                except OSError:
                    return self
            mode = fcntl.LOCK_EX if self.exclusive else fcntl.LOCK_SH
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
            except OSError as exc:
                holder = _holder(fd, self.path)
                os.close(fd)
                if exc.errno not in (errno.EWOULDBLOCK, errno.EACCES, errno.EAGAIN):
                    raise ResourceError(f"cannot lock {self.path}: {exc.strerror}") from None
                raise RunLockedError(
                    f"another mocklens process ({_describe(holder)}) is writing {what}; "
                    "wait for it or stop it"
                ) from None
            # A holder that unlinks the file on release may have done so between our open
            # and our flock: then we hold a lock nobody else can see. Retry on the new file.
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        self.fd = fd
        if self.exclusive and os.access(self.path, os.W_OK):
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{socket.gethostname()} {os.getpid()}\n".encode(), 0)
        return self

    def release(self) -> None:
        if self.fd is None:
            return
        with contextlib.suppress(OSError):
            if self.unlink:
                self.path.unlink()
            elif self.exclusive:
                os.ftruncate(self.fd, 0)  # the record names a live holder only
        os.close(self.fd)  # closing the last descriptor drops the flock
        self.fd = None


def _read(fd: int) -> str:
    try:
        return os.pread(fd, 200, 0).decode(errors="replace")
    except OSError:
        return ""


@contextlib.contextmanager
def run_lock(layout: RunLayout, task: tuple[int, int] | None = None):
    """Hold the run's writer lock for the block (exclusive, or shared + task lock).

    Parameters
    ----------
    layout : RunLayout
        The run.
    task : tuple of int, optional
        ``(task_id, n_tasks)`` of a SLURM array task: take the run lock shared and the
        task's own lock exclusive.

    Raises
    ------
    RunLockedError
        Another process holds a conflicting lock (exit code 3); the message names its host
        and pid when known.
    OutputExistsError
        The run location exists as a regular file.
    ResourceError
        The lock file cannot be created (read-only filesystem, permissions).
    """
    what = f"{layout.out}" + ("" if layout.single_file else "/")
    locks = []
    try:
        if task is None:
            locks.append(_Lock(lock_path(layout), True, layout.single_file).acquire(what))
        else:
            locks.append(_Lock(lock_path(layout), False, False).acquire(what))
            task_what = f"task {task[0]} of {task[1]} of {what}"
            locks.append(_Lock(task_lock_path(layout, *task), True, False).acquire(task_what))
        yield
    finally:
        for lock in reversed(locks):
            lock.release()
