"""Render the SLURM job scripts of ``jobs/`` for a run: pure string templating.

Templates are the ``*.in`` files of the repository's top-level ``jobs/`` directory. A wheel
carries them as ``mocklens/_jobs`` (hatch ``force-include``); an editable install or a source
checkout finds ``jobs/`` next to the package. Placeholders are ``{{NAME}}``; rendering fails
if a template uses a name it is not given, and :func:`render` checks none is left.

The scripts call the Python interpreter that rendered them (``sys.executable``, or
``--python``) with the package root prepended to ``PYTHONPATH``, and embed absolute paths, so
they run from a virtual environment or a checkout without installing anything on the compute
nodes; both must be on a filesystem the compute nodes see. Set-up lines (``module load``,
environment activation) run before Python in every script.

numba's kernels are compiled once per run by ``warm.sbatch`` into a shared cache (default
``RUN_DIR/.numba-cache``); every rank of the generate array copies it to node-local disk
(``numba-cache.sh``) and compiles there only on a cache miss (another CPU), so the shared
cache is written by one process only (numba issues #7952, #10128).
"""

from __future__ import annotations

import math
import os
import re
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from mocklens.errors import ConfigError

#: Template files, by output name.
TEMPLATES = {
    "warm.sbatch": "warm.sbatch.in",
    "generate.sbatch": "generate.sbatch.in",
    "finalize.sbatch": "finalize.sbatch.in",
    "numba-cache.sh": "numba-cache.sh.in",
    "submit.sh": "submit.sh.in",
}
_PLACEHOLDER = re.compile(r"\{\{([A-Z0-9_]+)\}\}")
_TIME = re.compile(r"^(?:(\d+)-)?(\d+)(?::(\d{1,2}))?(?::(\d{1,2}))?$")
#: Shared numba cache of a run, relative to the run directory (written by warm.sbatch only).
NUMBA_CACHE_NAME = ".numba-cache"
#: SLURM ``--mem``: a whole number, optionally with a K, M, G or T suffix (no suffix: MB).
_MEM = re.compile(r"^[0-9]+[KMGTkmgt]?$")
#: The installed ``mocklens`` package directory.
_PACKAGE = Path(__file__).resolve().parents[1]
#: Time limit of the finalize job [SLURM time]; a virtual master takes seconds.
FINALIZE_TIME = "01:00:00"
#: Time limit of the warm-up job [SLURM time]; a cold compile takes ~40 s on a slow core.
WARM_TIME = "00:30:00"


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
        Absolute path of the run's shared numba cache, written by the warm-up job and copied
        to node-local disk by every rank; default ``run_dir/.numba-cache``.
    python : str
        Interpreter the jobs run (default: the one rendering them); absolute.
    setup : tuple of str
        Shell lines run before Python in every job script, in order.
    mem : str or None
        SLURM ``--mem`` of every job (``4G``, ``500M``; no suffix: MB), or the cluster default.
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
    setup: tuple[str, ...] = ()
    mem: str | None = None

    @property
    def shared_cache(self) -> str:
        """Absolute path of the run's shared numba cache."""
        return self.numba_cache_dir or str(self.run_dir / NUMBA_CACHE_NAME)

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
        if self.mem is not None and not _MEM.match(self.mem):
            raise ConfigError(
                f"--mem {self.mem!r}: expected a whole number with an optional K, M, G or T "
                "suffix (e.g. 4G; no suffix means MB)"
            )
        for flag, value in (("--python", self.python), ("--numba-cache-dir", self.shared_cache)):
            if not os.path.isabs(value):
                raise ConfigError(f"{flag} {value}: must be an absolute path")
        for i, line in enumerate(self.setup, 1):
            if re.search(r"[\r\n\x00]", line) or "{{" in line:
                raise ConfigError(f"set-up line {i} {line!r}: one line without '{{{{'")


def read_setup_file(path: str | os.PathLike) -> list[str]:
    """Lines of a ``--setup-file`` (trailing blank lines dropped).

    Raises
    ------
    ConfigError
        If the file cannot be read as text.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"--setup-file {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"--setup-file {path}: cannot read it as text ({exc})") from None
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


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
        "MEM_LINE": optional("mem", job.mem),
        "SETUP": "\n".join(job.setup) if job.setup else "# (no --setup lines)",
        "WARM_TIME": WARM_TIME,
        "LAUNCHER": launcher,
        "NUMBA_CACHE_DIR": shlex.quote(job.shared_cache),
        "WARM_SCRIPT_Q": shlex.quote(str(scripts["warm.sbatch"])),
        "GENERATE_SCRIPT_Q": shlex.quote(str(scripts["generate.sbatch"])),
        "FINALIZE_SCRIPT_Q": shlex.quote(str(scripts["finalize.sbatch"])),
        "CACHE_WRAPPER_Q": shlex.quote(str(scripts["numba-cache.sh"])),
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
    """Render the scripts of :data:`TEMPLATES` into ``script_dir`` (executable).

    Parameters
    ----------
    job : SlurmJob
        Settings.
    script_dir : Path
        Where to write ``generate.sbatch`` (or ``generate_name``) and the other scripts.
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


def cache_files_written(cache_dir: Path, since: float) -> int:
    """Count the numba cache files (``*.nbi``, ``*.nbc``) written since a time.

    Parameters
    ----------
    cache_dir : Path
        A ``NUMBA_CACHE_DIR``.
    since : float
        A ``time.time()`` value [s].

    Returns
    -------
    int
        Files under ``cache_dir`` modified at or after ``since``: kernels compiled rather
        than loaded [count].
    """
    if not cache_dir.is_dir():
        return 0
    return sum(1 for p in cache_dir.rglob("*.nb[ic]") if p.stat().st_mtime >= since)


def warm_cache(cfg) -> dict:
    """Compile (or load) every numba kernel a run needs into ``NUMBA_CACHE_DIR``.

    Parameters
    ----------
    cfg : RunConfig
        The run's configuration.

    Returns
    -------
    dict
        ``cache_dir`` (str), ``seconds`` [s] and ``written`` [count]: cache files the call
        wrote (0 when every kernel was already cached for this CPU and source).

    Raises
    ------
    ConfigError
        If ``NUMBA_CACHE_DIR`` is not set (the kernels would be cached next to the source).
    """
    from mocklens.pipeline.run import warm_up

    cache = os.environ.get("NUMBA_CACHE_DIR", "")
    if not cache:
        raise ConfigError("NUMBA_CACHE_DIR is not set: set it to the run's shared numba cache")
    cache_dir = Path(cache)
    # Whole seconds: some filesystems keep coarse mtimes.
    since = math.floor(time.time())
    t0 = time.perf_counter()
    warm_up(cfg)
    return {
        "cache_dir": str(cache_dir),
        "seconds": time.perf_counter() - t0,
        "written": cache_files_written(cache_dir, since),
    }
