"""Files that appear whole or not at all: hidden temporaries, fsync, atomic rename, cleanup.

Every mocklens file is written under a hidden temporary name in its final directory,
``.<name>.tmp-<host>-<pid>-<8 hex>``, fsynced, and renamed over the final name
(``os.replace`` is atomic within a filesystem). A process killed part-way leaves only such a
temporary, which :func:`remove_stale_temporaries` (a whole directory) or
:func:`remove_stale_temporaries_of` (the temporaries of one final name) deletes later, once
its writer is dead. Errors a full or read-only disk causes become one-line
:class:`~mocklens.errors.ResourceError` messages that name the file and the free space.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import h5py

from mocklens.errors import OutputExistsError, ResourceError
from mocklens.io.layout import COMPLETE_ATTR
from mocklens.io.temporaries import (  # noqa: F401 - re-exported
    _pid_alive,
    remove_stale_temporaries,
    remove_stale_temporaries_of,
    temporary_name,
)

_DISK_FULL = {errno.ENOSPC, errno.EDQUOT}
_NOT_WRITABLE = {errno.EACCES, errno.EPERM, errno.EROFS}
#: errno values of posix_fallocate on filesystems that cannot reserve space (NFS v3 ...).
_NO_FALLOCATE = {errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS}

#: Growth step of an in-memory file image [bytes]; a 10,000-lens shard is ~2.4 MB.
CORE_BLOCK_BYTES = 4 * 1024 * 1024

#: Library version bounds of shard and merged files. The 1.10 format stores a dataset of
#: one chunk without a B-tree and many chunks in a fixed array: per 10,000-lens shard 12 kB
#: of metadata instead of 88 kB and a third of the time per chunk written
#: (benchmarks/README.md, "Write path"). Readable by HDF5 1.10 and later (checked with the
#: HDF5 1.10.8 tools in tests/unit/io), not by 1.8.
LIBVER = ("v110", "v110")


def _errno_of(exc: BaseException) -> int | None:
    # HDF5 failures reach Python as OSError (or RuntimeError) whose errno may be unset; the
    # C errno is then only in the text.
    if isinstance(exc, OSError) and exc.errno is not None:
        return exc.errno
    match = re.search(r"errno = (\d+)", str(exc))
    return int(match.group(1)) if match else None


def free_bytes(path: str | os.PathLike) -> int | None:
    """Free space of the filesystem holding ``path`` (or its nearest existing parent) [bytes].

    Parameters
    ----------
    path : str or os.PathLike
        A file or directory, existing or not.

    Returns
    -------
    int or None
        Bytes available to this user (``shutil.disk_usage(...).free``), None if unknown.
    """
    probe = Path(path)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        return int(shutil.disk_usage(probe).free)
    except OSError:
        return None


def resource_error(path: str | os.PathLike, exc: BaseException) -> ResourceError | None:
    """Translate an OS or HDF5 error while writing ``path`` into a one-line ResourceError.

    Parameters
    ----------
    path : str or os.PathLike
        The file being written (the final name, not the temporary).
    exc : BaseException
        The error met.

    Returns
    -------
    ResourceError or None
        ``disk full while writing <path> (<n> bytes free)`` for ENOSPC/EDQUOT,
        ``cannot write <path>: <reason>`` for permission or read-only errors, else None.
    """
    if not isinstance(exc, (OSError, RuntimeError)):
        return None
    code = _errno_of(exc)
    if code in _DISK_FULL:
        free = free_bytes(Path(path).parent)
        where = "unknown" if free is None else f"{free:,}"
        return ResourceError(f"disk full while writing {path} ({where} bytes free)")
    if code in _NOT_WRITABLE:
        return ResourceError(f"cannot write {path}: {os.strerror(code)}")
    return None


def _fsync(path: Path, *, directory: bool = False) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        if directory:
            return
        raise
    try:
        os.fsync(fd)
    except OSError:
        # Some network filesystems refuse fsync on a directory; the rename has happened and
        # the data themselves were synced, so only the directory entry's durability is lost.
        if not directory:
            raise
    finally:
        os.close(fd)


def _check_target(path: Path, overwrite: bool) -> None:
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path} already exists; pass --overwrite to replace it")
    if not path.parent.is_dir():
        raise ResourceError(f"cannot write {path}: directory {path.parent} does not exist")


def _write_all(fd: int, data) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def write_bytes_atomically(path: str | os.PathLike, data, *, overwrite: bool = False) -> Path:
    """Write bytes to ``path`` through a fsynced temporary and an atomic rename.

    The bytes go to an unnamed file (``O_TMPFILE``) where the filesystem supports it, which
    gets the temporary's name only once complete and synced, so a killed writer leaves no
    file; elsewhere to the named temporary directly.

    Parameters
    ----------
    path : str or os.PathLike
        Final file name.
    data : bytes-like
        The whole file.
    overwrite : bool, optional
        Replace an existing ``path``.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    OutputExistsError
        If ``path`` exists and ``overwrite`` is false.
    ResourceError
        If the disk or quota is full (the message gives the free space) or the directory is
        missing or not writable. The temporary is removed first; ``path`` is untouched.
    """
    path = Path(path)
    _check_target(path, overwrite)
    tmp = temporary_name(path)
    try:
        fd = _open_unnamed(path.parent)
        named = fd is None
        if named:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            _write_all(fd, data)
            os.fsync(fd)
            if not named:
                _name_unnamed(fd, tmp)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        _fsync(path.parent, directory=True)
    except BaseException as exc:
        # BaseException on purpose: Ctrl-C or a SLURM stop must not leave a partial file.
        tmp.unlink(missing_ok=True)
        error = resource_error(path, exc)
        if error is not None:
            raise error from None
        raise
    return path


def _open_unnamed(directory: Path) -> int | None:
    # O_TMPFILE: an inode without a name, freed by the kernel if the process dies, so a
    # writer killed mid-write (an MPI_Abort, SIGKILL) leaves nothing at all. Linux only, and
    # not every filesystem (NFS): None means use a named temporary.
    flag = getattr(os, "O_TMPFILE", None)
    if flag is None or not os.path.exists("/proc/self/fd"):
        return None
    try:
        return os.open(directory, flag | os.O_WRONLY, 0o666)
    except OSError as exc:
        if exc.errno in _DISK_FULL or exc.errno in _NOT_WRITABLE:
            raise
        return None


def _name_unnamed(fd: int, tmp: Path) -> None:
    # Give the finished inode a name (a link cannot replace a file; os.replace does next).
    # A directory fd makes os.link use linkat(AT_SYMLINK_FOLLOW), which resolves the
    # /proc/self/fd link to the inode instead of linking the symlink.
    dir_fd = os.open(tmp.parent, os.O_RDONLY)
    try:
        os.link(f"/proc/self/fd/{fd}", tmp.name, dst_dir_fd=dir_fd, follow_symlinks=True)
    finally:
        os.close(dir_fd)


def _core_name() -> str:
    # The core driver needs a name, unique among this process's open files; nothing is
    # created on disk (no backing store).
    return f"mocklens-memory-{os.getpid()}-{secrets.token_hex(8)}.h5"


def memory_file(libver=LIBVER) -> h5py.File:
    """Open a new, empty HDF5 file held only in memory (core driver, no backing store).

    Parameters
    ----------
    libver : str or tuple of str, optional
        HDF5 library version bounds (default :data:`LIBVER`).

    Returns
    -------
    h5py.File
        Open for writing; ``handle.id.get_file_image()`` returns the file's bytes.
    """
    return h5py.File(
        _core_name(), "w", driver="core", backing_store=False,
        block_size=CORE_BLOCK_BYTES, libver=libver,
    )  # fmt: skip


def _create_reserved(tmp: Path, libver, reserve_bytes: int) -> None:
    with memory_file(libver) as skeleton:
        skeleton.flush()
        image = skeleton.id.get_file_image()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        _write_all(fd, image)
        if reserve_bytes > len(image):
            try:
                os.posix_fallocate(fd, 0, int(reserve_bytes))
            except OSError as exc:
                if exc.errno not in _NO_FALLOCATE:
                    raise
    finally:
        os.close(fd)


def _abandon(handle: h5py.File, tmp: Path) -> None:
    # Closing an HDF5 file whose metadata flush failed with ENOSPC leaves the library broken
    # (and the interpreter segfaulting at exit). The temporary is doomed anyway: truncating
    # it to nothing frees the space the close's last metadata writes need.
    try:
        os.truncate(tmp, 0)
    except OSError:
        pass
    try:
        handle.close()
    except Exception:  # noqa: BLE001 - nothing more can be done with a failed close
        pass


@contextmanager
def atomic_file(
    path: str | os.PathLike, *, overwrite: bool = False, libver=LIBVER, reserve_bytes: int = 0
) -> Iterator[h5py.File]:
    """Open a temporary HDF5 file on disk that replaces ``path`` only if the block succeeds.

    For files too large to build in memory (a merge). Smaller files should be built with
    :func:`memory_file` and written with :func:`write_bytes_atomically`, which no full disk
    can disturb.

    Parameters
    ----------
    path : str or os.PathLike
        Final file name.
    overwrite : bool, optional
        Replace an existing file; otherwise an existing file is an error.
    libver : str or tuple of str, optional
        HDF5 library version bounds passed to :class:`h5py.File`.
    reserve_bytes : int, optional
        Disk space to reserve for the temporary before HDF5 writes to it (``posix_fallocate``)
        [bytes]. When the final size is at most this, a disk that fills meanwhile cannot make
        HDF5 fail mid-flush; the reservation fails cleanly instead (ResourceError), and HDF5
        trims the unused rest when the file is closed.

    Yields
    ------
    h5py.File
        The temporary file, open for writing. On normal exit the root attribute
        ``complete = 1`` is written last, the file is closed and fsynced, renamed to
        ``path``, and the directory is fsynced.

    Raises
    ------
    OutputExistsError
        If ``path`` exists and ``overwrite`` is false.
    ResourceError
        If the disk or quota is full (with the free space), or the directory is missing or
        not writable. No temporary is left.
    """
    path = Path(path)
    _check_target(path, overwrite)
    tmp = temporary_name(path)
    handle = None
    try:
        _create_reserved(tmp, libver, reserve_bytes)
        handle = h5py.File(tmp, "r+", libver=libver)
        yield handle
        handle.attrs[COMPLETE_ATTR] = 1
        handle.close()
        handle = None
        _fsync(tmp)
        os.replace(tmp, path)
        _fsync(path.parent, directory=True)
    except BaseException as exc:
        # BaseException on purpose: Ctrl-C or a SLURM stop must not leave a partial file.
        if handle is not None:
            _abandon(handle, tmp)
        tmp.unlink(missing_ok=True)
        error = resource_error(path, exc)
        if error is not None:
            raise error from None
        raise
