"""Exception policy of mocklens.

Every error a user can cause (bad config, impossible range, existing output, corrupt or
missing file, full disk) is a subclass of :class:`MockLensError`. Each carries the exit code
the command line returns, and its message is one line that names the problem, so that the CLI
can print ``error: <message>`` and exit without a traceback. Programming errors (bugs) are
ordinary Python exceptions and keep their traceback.

This module is pure Python and importable from every layer.
"""

from __future__ import annotations


class MockLensError(Exception):
    """Base class of all user-facing mocklens errors."""

    exit_code = 1


class ConfigError(MockLensError, ValueError):
    """A configuration is invalid (unknown key, impossible range, bad type)."""

    exit_code = 2


class KernelInputError(MockLensError, ValueError):
    """Arrays handed to a kernel wrapper have the wrong dtype, shape or values."""

    exit_code = 2


class OutputExistsError(MockLensError, FileExistsError):
    """The output exists and ``--overwrite`` was not given."""

    exit_code = 3


class RunLockedError(OutputExistsError):
    """Another mocklens process is writing the same run (its lock is held)."""

    exit_code = 3


class DatasetError(MockLensError):
    """A dataset or shard is missing, truncated, corrupt or does not match its schema."""

    exit_code = 4


class ResourceError(MockLensError):
    """The run cannot proceed: output not writable, not enough disk, wrong MPI size."""

    exit_code = 5


class StopRequested(MockLensError):
    """A stop signal (SIGUSR1/SIGTERM) was received; finished work is kept for a rerun."""

    #: Exit code the SLURM templates treat as "requeue me".
    exit_code = 99


EXIT_CODES = {
    cls.__name__: cls.exit_code
    for cls in (
        MockLensError,
        ConfigError,
        KernelInputError,
        OutputExistsError,
        RunLockedError,
        DatasetError,
        ResourceError,
        StopRequested,
    )
}

#: What each exit code of the ``mocklens`` command means (``mocklens --help``, README).
EXIT_CODE_MEANINGS = {
    0: "success (status: the run is complete)",
    1: "status: the run is not complete yet; any other command: an unexpected error (a bug)",
    ConfigError.exit_code: "bad config or arguments (typo, impossible range, unknown preset)",
    OutputExistsError.exit_code: (
        "output exists, holds another run (config fixed once it has shards), foreign files "
        "under shard names, or another mocklens process is writing it"
    ),
    DatasetError.exit_code: "dataset or shard missing, truncated, corrupt or not mocklens",
    ResourceError.exit_code: (
        "resources: disk full, read-only or not writable, MPI size differs from SLURM's"
    ),
    StopRequested.exit_code: (
        "stopped by a signal (Ctrl-C, SIGTERM, SIGUSR1); finished shards are kept, rerun the "
        "same command to finish"
    ),
}
