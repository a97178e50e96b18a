"""``mocklens`` command line: parse, build a RunConfig, call the pipeline. No numerics here.

Every user error is a :class:`~mocklens.errors.MockLensError`; it is printed as one line
``error: ...`` on stderr and the process exits with the error's code (config errors 2,
existing output 3, bad dataset 4, resources 5, stop requested 99).
"""

from __future__ import annotations

import errno
import sys

import click

from mocklens._version import __version__
from mocklens.errors import MockLensError, ResourceError

#: Filesystem conditions (not bugs) reported as one line with ResourceError's exit code when
#: they escape a command: read-only or full filesystems, permissions, a vanished directory.
FILESYSTEM_ERRNOS = frozenset(
    {errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT, errno.ENOENT,
     errno.ENOTDIR, errno.EISDIR, errno.EEXIST, errno.ENAMETOOLONG, errno.EIO}
)


class _Group(click.Group):
    """Click group that turns MockLensError into a one-line message and its exit code."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except MockLensError as exc:
            # MPI runs raise the same error on every rank; ranks other than 0 mark it quiet.
            if not getattr(exc, "quiet", False):
                click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except OSError as exc:
            if exc.errno not in FILESYSTEM_ERRNOS:
                raise
            where = f"{exc.filename}: " if exc.filename else ""
            click.echo(f"error: {where}{exc.strerror or exc}", err=True)
            sys.exit(ResourceError.exit_code)


def _exit_code_epilog() -> str:
    from mocklens.errors import EXIT_CODE_MEANINGS

    rows = "\n".join(f"  {code:>3}  {text}" for code, text in EXIT_CODE_MEANINGS.items())
    return f"\b\nExit codes:\n{rows}"


@click.group(
    cls=_Group,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog=_exit_code_epilog(),
)
@click.version_option(__version__, prog_name="mocklens")
def cli():
    """Generate reproducible simulated strong-lens datasets for machine learning."""


def _register() -> None:
    from mocklens.cli.generate import generate
    from mocklens.cli.inspect import config_cmd, info, validate
    from mocklens.cli.jobs import jobs
    from mocklens.cli.manage import finalize, merge, status

    for command in (generate, status, finalize, merge, jobs, config_cmd, info, validate):
        cli.add_command(command)


_register()


def main():  # pragma: no cover - entry point for python -m mocklens
    """Run the command line."""
    cli(prog_name="mocklens")
