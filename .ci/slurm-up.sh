#!/usr/bin/env bash
# Install (if missing), configure and start a single-node SLURM on this machine, for tests.
#
# Idempotent: when munged, slurmctld and slurmd are already running with the configuration this
# script would write, and the node answers as usable in `sinfo`, it does nothing. Otherwise it
# (re)writes /etc/slurm/slurm.conf (the path Debian's slurm-wlm 22.05 reads; without it every
# client falls back to a DNS SRV "configless" lookup and dies with "Could not establish a
# configuration source"), restarts the daemons, waits for the node to become idle and proves
# the cluster works with `sbatch --wait` of a script whose exit code must propagate.
#
# Needs root and Debian/Ubuntu apt. No systemd is assumed (CI containers have none): the daemons
# are started by hand. Stop them with `bash .ci/slurm-down.sh`.
#
# Environment knobs (all optional):
#   MOCKLENS_SLURM_DIR   state, spool, logs and pid files        [/tmp/mocklens-slurm]
#   MOCKLENS_SLURM_CPUS  CPUs the node advertises                 [2]
#
# ---------------------------------------------------------------------------------------------
# Trap: a requeued job waits ~2 minutes before it runs again. Measured here (slurm 22.05.8).
#
#   Cause: on requeue slurmctld revokes the job's launch credential and sets the job's
#   BeginTime (EligibleTime) to now + cred_expire + 1 s; slurmd refuses to launch a job whose
#   credential is revoked until that credential has expired. Right after `scontrol requeue`,
#   `scontrol show job <id>` shows `JobState=PENDING Reason=BeginTime Restarts=1` and
#   EligibleTime 121 s ahead; the job ran again after 122 s.
#   The lifetime is `AuthInfo=cred_expire=<s>` in slurm.conf (man slurm.conf, AuthInfo: "This
#   also controls how long a requeued job must wait before starting again. The default value
#   is 120 seconds."). Values below 5 are rejected ("AuthInfo=cred_expire=N invalid") and fall
#   back to 120. BatchStartTimeout, RequeueExit and RequeueExitHold do not shorten the wait
#   (RequeueExit[Hold] only choose which exit codes requeue, and whether held).
#   => It CAN be shortened: this test cluster sets cred_expire=5 and a requeued job ran again
#   7 s after `scontrol requeue`. Real clusters usually keep the default 120 s, plus queue
#   wait, so production code must not rely on a prompt restart.
#
#   NOT a workaround: `scontrol update JobId=<id> StartTime=now` after a requeue. The job is
#   then dispatched at once, slurmd answers "Job credential revoked", and the job ends FAILED
#   with exit 1 (measured). Where cred_expire cannot be changed, a test should `scancel` the
#   job and `sbatch` the same script again: a new job id has a fresh credential and starts at
#   once, and a restartable job resumes from what is on disk just as a requeued one would.
#
#   Scheduling passes: the main loop runs every 60 s and backfill every 30 s by default; this
#   config uses `SchedulerParameters=sched_interval=2,bf_interval=1` so a job whose BeginTime
#   has passed is started promptly rather than at the next default pass.
#
#   sbatch --wait polls the job at 2 s, then 8 s, then 32 s intervals (growth stops once the
#   interval reaches MinJobAge/2; sbatch.c _job_wait), so a 3 s job is reported after ~10 s.
#   The pytest helper (tests/slurm/conftest.py) polls scontrol itself every 0.25 s instead.
#
#   With job arrays, requeue `${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}` and not
#   `$SLURM_JOB_ID`. The last task's job id is the array id, so requeueing it requeues every
#   task. Measured: in an array of 3, the last task ran `scontrol requeue $SLURM_JOB_ID` and
#   all 3 tasks ran again.
# ---------------------------------------------------------------------------------------------
set -euo pipefail

SLURM_DIR=${MOCKLENS_SLURM_DIR:-/tmp/mocklens-slurm}
CPUS=${MOCKLENS_SLURM_CPUS:-2}
CONF=/etc/slurm/slurm.conf
NODE=$(hostname -s)

log() { printf '[slurm-up] %s\n' "$*" >&2; }
die() {
    log "ERROR: $*"
    for f in "$SLURM_DIR"/slurmctld.log "$SLURM_DIR"/slurmd.log /var/log/munge/munged.log; do
        [[ -f $f ]] && { log "--- tail $f"; tail -n 30 "$f" >&2 || true; }
    done
    exit 1
}

if [[ $(id -u) -ne 0 ]]; then
    die "must run as root (it installs packages and starts daemons)"
fi

# ---- 1. packages -----------------------------------------------------------------------------
need_install=0
for b in slurmctld slurmd sbatch munged; do
    command -v "$b" >/dev/null 2>&1 || [[ -x /usr/sbin/$b ]] || need_install=1
done
if [[ $need_install -eq 1 ]]; then
    log "installing slurmctld slurmd slurm-client munge"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
fi
export PATH=$PATH:/usr/sbin:/sbin

# ---- 2. slurm.conf (written to a temp file first, so we can tell whether it changed) ----------
mkdir -p "$SLURM_DIR"/state "$SLURM_DIR"/spool /etc/slurm
# RealMemory must not exceed what slurmd measures, or the node is marked INVALID. CR_Core does
# not track memory, so a safe value a bit below MemAvailable is enough.
mem_avail_mb=$(awk '/^MemAvailable:/ {print int($2 / 1024)}' /proc/meminfo)
real_mem=$(( mem_avail_mb * 9 / 10 ))
(( real_mem < 256 )) && real_mem=256

new_conf=$(mktemp)
trap 'rm -f "$new_conf"' EXIT
cat >"$new_conf" <<EOF
# Written by mocklens .ci/slurm-up.sh: a single-node test cluster. Do not edit; rerun the script.
ClusterName=mocklens-ci
SlurmctldHost=${NODE}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# A requeued job waits this long before it may run again (default 120 s, minimum 5 s).
AuthInfo=cred_expire=5
StateSaveLocation=${SLURM_DIR}/state
SlurmdSpoolDir=${SLURM_DIR}/spool
SlurmctldPidFile=${SLURM_DIR}/slurmctld.pid
SlurmdPidFile=${SLURM_DIR}/slurmd.pid
SlurmctldLogFile=${SLURM_DIR}/slurmctld.log
SlurmdLogFile=${SLURM_DIR}/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# No cgroups in CI containers: track processes by parent pid, bind nothing.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SwitchType=switch/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
# Trust the node line below even if the machine's topology differs (e.g. a 1-core runner).
SlurmdParameters=config_overrides
SchedulerType=sched/backfill
# Fast scheduling passes so that jobs whose BeginTime has passed start within seconds.
SchedulerParameters=sched_interval=2,bf_interval=1
ReturnToService=2
JobRequeue=1
# Keep finished jobs in slurmctld's memory for 10 min: without accounting, scontrol show job
# is the only way tests can read a finished job's state and exit code.
MinJobAge=600
MailProg=/bin/true
KillWait=2
MessageTimeout=10
SlurmdTimeout=60
SlurmctldTimeout=60
InactiveLimit=0
Waittime=0
NodeName=${NODE} NodeAddr=127.0.0.1 CPUs=${CPUS} RealMemory=${real_mem} State=UNKNOWN
PartitionName=debug Nodes=${NODE} Default=YES MaxTime=INFINITE State=UP
EOF

# RealMemory moves with the free memory; ignore it when deciding whether the config changed.
conf_same() {
    [[ -f $CONF ]] && diff -q <(grep -v RealMemory "$CONF") <(grep -v RealMemory "$new_conf") \
        >/dev/null
}

node_state() { timeout 10 sinfo -h -N -n "$NODE" -o '%T' 2>/dev/null | head -n1 || true; }

node_usable() {
    case "$(node_state)" in
        idle | mixed | allocated | completing) return 0 ;;
        *) return 1 ;;
    esac
}

running() { pgrep -x "$1" >/dev/null 2>&1; }

# ---- 3. already healthy? ---------------------------------------------------------------------
if conf_same && running munged && running slurmctld && running slurmd && node_usable; then
    log "already running and healthy (node $NODE: $(node_state)); nothing to do"
    exit 0
fi

# ---- 4. munge --------------------------------------------------------------------------------
if [[ ! -s /etc/munge/munge.key ]]; then
    log "creating munge key"
    mkdir -p /etc/munge
    if command -v mungekey >/dev/null 2>&1; then
        mungekey --create --keyfile=/etc/munge/munge.key --force
    else
        dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
    fi
fi
chown -R munge:munge /etc/munge
chmod 0700 /etc/munge
chmod 0400 /etc/munge/munge.key
install -d -o munge -g munge -m 0755 /run/munge
install -d -o munge -g munge -m 0700 /var/log/munge /var/lib/munge
if ! running munged || ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    log "starting munged"
    for p in $(pgrep -x munged || true); do kill "$p" 2>/dev/null || true; done
    for _ in $(seq 25); do running munged || break; sleep 0.2; done
    rm -f /run/munge/munged.pid
    runuser -u munge -- /usr/sbin/munged --force
    for _ in $(seq 50); do
        munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break
        sleep 0.2
    done
    munge -n | unmunge >/dev/null || die "munge does not work"
fi

# ---- 5. slurm daemons ------------------------------------------------------------------------
stop_pidfile() {
    local name=$1 pidfile=$SLURM_DIR/$1.pid pid
    pid=$(cat "$pidfile" 2>/dev/null || pgrep -x "$name" || true)
    for p in $pid; do
        kill "$p" 2>/dev/null || true
    done
    for _ in $(seq 50); do
        running "$name" || break
        sleep 0.2
    done
    if running "$name"; then
        for p in $(pgrep -x "$name"); do kill -9 "$p" 2>/dev/null || true; done
    fi
    rm -f "$pidfile"
}

log "writing $CONF (node $NODE, CPUs=$CPUS, RealMemory=${real_mem} MB)"
cp "$new_conf" "$CONF"
chmod 0644 "$CONF"

stop_pidfile slurmd
stop_pidfile slurmctld
# -c: start from a clean slate (no jobs from an earlier run); -i: ignore unreadable state files.
log "starting slurmctld and slurmd"
slurmctld -c -i || die "slurmctld failed to start"
for _ in $(seq 50); do
    timeout 5 scontrol ping 2>/dev/null | grep -q 'is UP' && break
    sleep 0.2
done
timeout 5 scontrol ping | grep -q 'is UP' || die "slurmctld does not answer scontrol ping"
slurmd -N "$NODE" || die "slurmd failed to start"

# ---- 6. wait for the node --------------------------------------------------------------------
deadline=$((SECONDS + 60))
until node_usable; do
    state=$(node_state)
    case "$state" in
        down* | drain* | fail* | unknown*)
            # e.g. left DOWN by an earlier run: ReturnToService=2 usually clears it.
            scontrol update NodeName="$NODE" State=RESUME >/dev/null 2>&1 || true ;;
    esac
    (( SECONDS > deadline )) && die "node $NODE not idle after 60 s (state: ${state:-none})"
    sleep 1
done
log "node $NODE is $(node_state)"

# ---- 7. prove it: exit code of a batch job must propagate through sbatch --wait ---------------
probe=$(mktemp -d "$SLURM_DIR/probe.XXXXXX")
cat >"$probe/job.sh" <<'EOF'
#!/bin/bash
echo "hello from $SLURM_JOB_ID on $(hostname)"
exit 3
EOF
chmod +x "$probe/job.sh"
set +e
timeout 120 sbatch --wait --quiet -o "$probe/out" -J slurm-up-probe "$probe/job.sh"
rc=$?
set -e
if [[ $rc -ne 3 ]]; then
    die "probe job: sbatch --wait returned $rc, expected 3 ($(cat "$probe/out" 2>/dev/null))"
fi
grep -q 'hello from' "$probe/out" || die "probe job wrote no output"
rm -rf "$probe"
log "OK: sbatch --wait propagated exit code 3; SLURM is ready"
