#!/usr/bin/env bash
# Stop the single-node SLURM started by .ci/slurm-up.sh (slurmd, slurmctld, then munged).
# Leaves packages, /etc/slurm/slurm.conf and the munge key in place; pass --purge to also delete
# the state/spool/log directory.
set -euo pipefail

SLURM_DIR=${MOCKLENS_SLURM_DIR:-/tmp/mocklens-slurm}
export PATH=$PATH:/usr/sbin:/sbin

stop() {
    local name=$1 pidfile=$2 pids
    pids=$(cat "$pidfile" 2>/dev/null || true)
    [[ -z $pids ]] && pids=$(pgrep -x "$name" || true)
    [[ -z $pids ]] && return 0
    echo "[slurm-down] stopping $name ($pids)" >&2
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    for _ in $(seq 50); do
        pgrep -x "$name" >/dev/null || break
        sleep 0.2
    done
    for p in $(pgrep -x "$name" || true); do kill -9 "$p" 2>/dev/null || true; done
    rm -f "$pidfile"
}

stop slurmd "$SLURM_DIR/slurmd.pid"
stop slurmctld "$SLURM_DIR/slurmctld.pid"
stop munged /run/munge/munged.pid

if [[ ${1:-} == --purge ]]; then
    rm -rf "$SLURM_DIR"
fi
