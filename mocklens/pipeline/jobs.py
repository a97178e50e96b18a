"""Render the SLURM job scripts of ``jobs/`` for a run: pure string templating.

Templates are the ``*.in`` files of the repository's top-level ``jobs/`` directory. A wheel
carries them as ``mocklens/_jobs`` (hatch ``force-include``); an editable install or a source
checkout finds ``jobs/`` next to the package. Placeholders are ``{{NAME}}``; rendering fails
if a template uses a name it is not given, and :func:`render` checks none is left.

The scripts call the Python interpreter that rendered them (``sys.executable``) with the
package root prepended to ``PYTHONPATH``, and embed absolute paths, so they run from a
virtual environment or a checkout without installing anything on the compute nodes.
"""

from __future__ import annotations

import math
import re
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

from mocklens.errors import ConfigError

#: Template files, by output name.
TEMPLATES = {
    "generate.sbatch": "generate.sbatch.in",
    "finalize.sbatch": "finalize.sbatch.in",
    "submit.sh": "submit.sh.in",
}
_PLACEHOLDER = re.compile(r"\{\{([A-Z0-9_]+)\}\}")
_TIME = re.compile(r"^(?:(\d+)-)?(\d+)(?::(\d{1,2}))?(?::(\d{1,2}))?$")
#: Node-local numba cache shared by the tasks of one array on one node (bash expression).
DEFAULT_NUMBA_CACHE = '"${TMPDIR:-/tmp}/mocklens-numba-${SLURM_ARRAY_JOB_ID:-$SLURM_JOB_ID}"'
#: The installed ``mocklens`` package directory.
_PACKAGE = Path(__file__).resolve().parents[1]
#: Time limit of the finalize job [SLURM time]; a virtual master takes seconds.
FINALIZE_TIME = "01:00:00"


def template_dir() -> Path:
    """Directory holding the job templates (installed package data first, then ``jobs/``).

    Raises
    ------
    ConfigError
        If neither ``mocklens/_jobs`` nor the checkout's ``jobs/`` exists.
    """
    package = _PACKAGE
    for candidate in (package / "_jobs", package.parent / "jobs"):
        if (candidate / TEMPLATES["generate.sbatch"]).is_file():
            return candidate
    raise ConfigError(
        f"job templates not found in {package / '_jobs'} or {package.parent / 'jobs'}"
    )


def time_seconds(limit: str) -> int:
    """Seconds of a SLURM time limit (``MM``, ``MM:SS``, ``HH:MM:SS``, ``D-HH[:MM[:SS]]``).

    Raises
    ------
    ConfigError
        If ``limit`` is not a SLURM time.
    """
    match = _TIME.match(limit.strip())
    if match is None:
        raise ConfigError(f"--time {limit!r}: expected HH:MM:SS, MM, MM:SS or D-HH[:MM[:SS]]")
    days, a, b, c = match.groups()
    if days is not None:  # D-HH[:MM[:SS]]
        return int(days) * 86400 + int(a) * 3600 + int(b or 0) * 60 + int(c or 0)
    if c is not None:  # HH:MM:SS
        return int(a) * 3600 + int(b) * 60 + int(c)
    return int(a) * 60 + int(b or 0)  # MM or MM:SS


@dataclass(frozen=True)
class SlurmJob:
    """Everything the SLURM templates need.

    Attributes
    ----------
    run_dir : Path
        Absolute run directory (``--out``); logs go to ``run_dir/logs``.
    config_path : Path
        Absolute path of the resolved config JSON the tasks read.
    n_tasks : int
        Array tasks [count].
    ranks_per_task : int
        MPI ranks per task [count]; 1 runs without srun/MPI.
    cpus_per_task : int
        CPUs (numba threads) per rank [count].
    time : str
        Time limit per task (SLURM format).
    stop_margin_s : int
        SIGUSR1 is sent this long before the time limit [s]; must exceed one shard's time.
    partition, account : str or None
        Optional ``--partition`` / ``--account``.
    mpi : str
        ``srun --mpi=`` plugin for MPI tasks (``srun --mpi=list``; pmi2 for MPICH wheels).
    job_name : str
        SLURM job name.
    numba_cache_dir : str or None
        ``NUMBA_CACHE_DIR`` of the tasks; default node-local
        ``${TMPDIR:-/tmp}/mocklens-numba-<array job id>``.
    python : str
        Interpreter the jobs run (default: the one rendering them).
    """

    run_dir: Path
    config_path: Path
    n_tasks: int
    ranks_per_task: int = 1
    cpus_per_task: int = 1
    time: str = "01:00:00"
    stop_margin_s: int = 300
    partition: str | None = None
    account: str | None = None
    mpi: str = "pmi2"
    job_name: str = "mocklens"
    numba_cache_dir: str | None = None
    python: str = field(default_factory=lambda: sys.executable)

    def check(self) -> None:
        """Refuse impossible settings with a one-line ConfigError."""
        for name, flag in (
            ("n_tasks", "--tasks"),
            ("ranks_per_task", "--ranks-per-task"),
            ("cpus_per_task", "--cpus-per-task"),
        ):
            if getattr(self, name) < 1:
                raise ConfigError(f"{flag} must be >= 1")
        if not self.run_dir.is_absolute() or not self.config_path.is_absolute():
            raise ConfigError("run directory and config path must be absolute")
        if re.search(r"\s", str(self.run_dir)):
            raise ConfigError(f"--out {self.run_dir}: SLURM's #SBATCH --output cannot hold spaces")
        limit = time_seconds(self.time)
        if not 0 < self.stop_margin_s < limit:
            raise ConfigError(
                f"--stop-margin {self.stop_margin_s} s must be positive and below --time "
                f"{self.time} ({limit} s)"
            )
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", self.job_name):
            raise ConfigError(f"--job-name {self.job_name!r}: use letters, digits, _ . -")


def _values(job: SlurmJob, scripts: dict[str, Path]) -> dict[str, str]:
    package_root = _PACKAGE.parent
    launcher = ""
    if job.ranks_per_task > 1:
        launcher = f"srun --mpi={shlex.quote(job.mpi)} --kill-on-bad-exit=1 "

    def optional(flag: str, value: str | None) -> str:
        if value is None:
            return f"# (no --{flag}: the cluster's default)"
        return f"#SBATCH --{flag}={value}"

    return {
        "JOB_NAME": job.job_name,
        "LAST_TASK": str(job.n_tasks - 1),
        "N_TASKS": str(job.n_tasks),
        "RANKS_PER_TASK": str(job.ranks_per_task),
        "CPUS_PER_TASK": str(job.cpus_per_task),
        "TIME": job.time,
        "FINALIZE_TIME": FINALIZE_TIME,
        "STOP_MARGIN_S": str(job.stop_margin_s),
        "LOG_DIR": str(job.run_dir / "logs"),
        "RUN_DIR": str(job.run_dir),
        "RUN_DIR_Q": shlex.quote(str(job.run_dir)),
        "CONFIG_Q": shlex.quote(str(job.config_path)),
        "PYTHON_Q": shlex.quote(job.python),
        "PACKAGE_ROOT_Q": shlex.quote(str(package_root)),
        "PARTITION_LINE": optional("partition", job.partition),
        "ACCOUNT_LINE": optional("account", job.account),
        "LAUNCHER": launcher,
        "NUMBA_CACHE_DIR": DEFAULT_NUMBA_CACHE
        if job.numba_cache_dir is None
        else shlex.quote(job.numba_cache_dir),
        "GENERATE_SCRIPT_Q": shlex.quote(str(scripts["generate.sbatch"])),
        "FINALIZE_SCRIPT_Q": shlex.quote(str(scripts["finalize.sbatch"])),
    }


def render(template: str, values: dict[str, str]) -> str:
    """Fill the ``{{NAME}}`` placeholders of ``template``.

    Raises
    ------
    ConfigError
        If the template names a placeholder missing from ``values``.
    """
    missing = sorted(set(_PLACEHOLDER.findall(template)) - set(values))
    if missing:
        raise ConfigError(f"job template needs values for {', '.join(missing)}")
    text = _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)
    if "{{" in text:
        raise ConfigError("job template left a '{{' after rendering")
    return text


def write_slurm(job: SlurmJob, script_dir: Path, generate_name: str = "generate.sbatch") -> dict:
    """Render the three scripts into ``script_dir`` (executable) and return their paths.

    Parameters
    ----------
    job : SlurmJob
        Settings.
    script_dir : Path
        Where to write ``generate.sbatch`` (or ``generate_name``), ``finalize.sbatch`` and
        ``submit.sh``.
    generate_name : str, optional
        File name of the generate script.

    Returns
    -------
    dict of str -> Path
        Output name (as in :data:`TEMPLATES`) to written path.
    """
    job.check()
    script_dir = script_dir.resolve()
    script_dir.mkdir(parents=True, exist_ok=True)
    (job.run_dir / "logs").mkdir(parents=True, exist_ok=True)
    paths = {name: script_dir / name for name in TEMPLATES}
    paths["generate.sbatch"] = script_dir / generate_name
    values = _values(job, paths)
    source = template_dir()
    for name, template in TEMPLATES.items():
        text = render((source / template).read_text(), values)
        paths[name].write_text(text)
        paths[name].chmod(0o755)
    return paths


def array_plan(n_samples: int, shard_size: int, n_tasks: int) -> dict:
    """Shards per task of an array run (for the ``jobs slurm`` summary).

    Returns
    -------
    dict
        ``n_shards``, ``shards_per_task`` (max) and ``lenses_per_task`` (max) [count].
    """
    n_shards = math.ceil(n_samples / shard_size)
    per_task = math.ceil(n_shards / n_tasks)
    return {
        "n_shards": n_shards,
        "shards_per_task": per_task,
        "lenses_per_task": min(n_samples, per_task * shard_size),
    }
