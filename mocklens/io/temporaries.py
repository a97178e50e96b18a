"""Names of hidden temporaries, and removal of those that killed writers left behind.

A file being written is ``.<name>.tmp-<host>-<pid>-<8 hex>`` in its final directory. A pid
only means something on the host that wrote it, so a temporary is stale when it was
written on this host by a process that no longer exists.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
from pathlib import Path

_TEMP_RE = re.compile(r"^\.(?P<name>.+)\.tmp-(?P<host>.+)-(?P<pid>\d+)-(?P<token>[0-9a-f]{8})$")


def _host() -> str:
    # Temporaries on a shared filesystem come from many nodes; a pid only means something
    # on the node that wrote it, so the short host name is part of the temporary's name.
    return re.sub(r"[^A-Za-z0-9_]", "_", socket.gethostname().split(".")[0]) or "host"


def temporary_name(path: str | os.PathLike) -> Path:
    """Hidden temporary sibling of ``path`` used while writing it.

    Parameters
    ----------
    path : str or os.PathLike
        Final file name.

    Returns
    -------
    pathlib.Path
        ``<dir>/.<name>.tmp-<host>-<pid>-<8 hex digits>``, unique per call.
    """
    path = Path(path)
    return path.parent / f".{path.name}.tmp-{_host()}-{os.getpid()}-{secrets.token_hex(4)}"


def remove_stale_temporaries(directory: str | os.PathLike, *, force: bool = False) -> list[Path]:
    """Delete temporaries left in ``directory`` by killed writers.

    Parameters
    ----------
    directory : str or os.PathLike
        Directory to clean.
    force : bool, optional
        Delete every temporary, even those of live processes or other hosts. Only safe when
        no writer is running anywhere.

    Returns
    -------
    list of pathlib.Path
        The files deleted.

    Notes
    -----
    Without ``force`` a temporary is deleted only when it was written on this host and its
    pid no longer exists. A reused pid keeps a stale file (harmless); it never deletes a
    live writer's file.
    """
    removed = []
    for candidate in sorted(Path(directory).glob(".*.tmp-*")):
        match = _TEMP_RE.match(candidate.name)
        if match is None or not candidate.is_file():
            continue
        if not force and (match["host"] != _host() or _pid_alive(int(match["pid"]))):
            continue
        candidate.unlink(missing_ok=True)
        removed.append(candidate)
    return removed


def remove_stale_temporaries_of(path: str | os.PathLike) -> list[Path]:
    """Delete the temporaries that killed writers of one final file left beside it.

    For a merge or a finalize, whose temporary lives beside the final file (not among the
    shards) and can be large: call it before writing ``path`` again.

    Parameters
    ----------
    path : str or os.PathLike
        Final file name (``run/dataset.h5``, ``lenses.h5``); need not exist.

    Returns
    -------
    list of pathlib.Path
        The files deleted: only ``.<name>.tmp-<host>-<pid>-<hex>`` files of exactly this
        ``name``, written on this host by a process that no longer exists (a zombie counts
        as dead). Temporaries of live writers, of other hosts and of other names stay.
    """
    path = Path(path)
    removed = []
    if not path.parent.is_dir():
        return removed
    for candidate in sorted(path.parent.glob(f".{glob_escape(path.name)}.tmp-*")):
        match = _TEMP_RE.match(candidate.name)
        if match is None or match["name"] != path.name or not candidate.is_file():
            continue
        if match["host"] != _host() or _pid_alive(int(match["pid"])):
            continue
        candidate.unlink(missing_ok=True)
        removed.append(candidate)
    return removed


def glob_escape(name: str) -> str:
    """Escape the glob metacharacters ``*?[`` of a file name."""
    return re.sub(r"([*?[])", r"[\1]", name)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A killed process whose parent died stays a zombie until something reaps it; kill(0)
    # still succeeds, but it will never write again.
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            state = handle.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")
