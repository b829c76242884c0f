#!/usr/bin/env bash
# One-node SLURM cluster on 127.0.0.1 for the tests (Debian 12, run as root, no systemd).
#
#   tests/slurm/run_cluster.sh start    install Debian's packages if missing, write slurm.conf,
#                                       start munged, slurmctld and slurmd, wait for an idle node
#   tests/slurm/run_cluster.sh stop     stop the three daemons by their PID files, remove the
#                                       slurm.conf that start wrote
#   tests/slurm/run_cluster.sh status   print sinfo, exit 0 when the node is idle or busy
#
# State (spool, logs, PID files) lives in $VVCJND_SLURM_STATE (default /tmp/vvcjnd-slurm).
# /etc/slurm/slurm.conf is written only when it is absent or was written by this script, so a
# machine with a real SLURM installation is never touched.
set -euo pipefail

STATE="${VVCJND_SLURM_STATE:-/tmp/vvcjnd-slurm}"
CONF=/etc/slurm/slurm.conf
MARK="# written by vvcjnd tests/slurm/run_cluster.sh"
NODE=localhost
PARTITION=debug
MUNGE_PID=/run/munge/munged.pid
WAIT_S="${VVCJND_SLURM_WAIT_S:-60}"

die() { echo "run_cluster.sh: $*" >&2; exit 1; }

install_packages() {
    if command -v slurmctld >/dev/null && command -v slurmd >/dev/null \
        && command -v sbatch >/dev/null && command -v munged >/dev/null; then
        return
    fi
    command -v apt-get >/dev/null || die "apt-get not found: install slurmctld slurmd slurm-client munge by hand"
    echo "run_cluster.sh: installing slurmctld slurmd slurm-client munge with apt-get" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        slurmctld slurmd slurm-client munge >/dev/null
}

write_conf() {
    if [[ -e "$CONF" ]] && ! grep -qF "$MARK" "$CONF"; then
        die "$CONF exists and was not written by this script; refusing to replace it"
    fi
    local cpus mem_mb
    cpus=$(nproc)
    # RealMemory must not exceed what slurmd detects: take 80 % of MemTotal (kB -> MB).
    mem_mb=$(awk '/^MemTotal:/ {printf "%d", $2 / 1024 * 0.8}' /proc/meminfo)
    mkdir -p "$STATE/ctld" "$STATE/d" "$STATE/log" /etc/slurm
    cat >"$CONF" <<CONF
$MARK
ClusterName=vvcjnd
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
# No cgroups in a container: track processes through /proc, no task binding.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# No slurmdbd: sacct cannot answer, so Snakemake must use squeue, which sees a finished job
# for MinJobAge seconds (>= 3 x slurm-init-seconds-before-status-checks of the test profile).
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MinJobAge=300
# Reject at submission what can never run, instead of leaving it PENDING forever.
EnforcePartLimits=ALL
ReturnToService=2
SchedulerType=sched/backfill
MpiDefault=none
SlurmctldPort=6817
SlurmdPort=6818
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE MaxCPUsPerNode=$cpus MaxMemPerNode=$mem_mb State=UP
CONF
}

pid_alive() { [[ -s "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

start_munge() {
    if pid_alive "$MUNGE_PID"; then return; fi
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge
    chmod 0755 /run/munge
    if [[ ! -s /etc/munge/munge.key ]]; then
        runuser -u munge -- /usr/sbin/mungekey --create --keyfile /etc/munge/munge.key
    fi
    runuser -u munge -- /usr/sbin/munged --pid-file "$MUNGE_PID"
}

node_state() { sinfo --noheader --nodes "$NODE" --format %T 2>/dev/null | head -n 1; }

wait_idle() {
    local deadline=$((SECONDS + WAIT_S)) state=""
    while ((SECONDS < deadline)); do
        state=$(node_state || true)
        case "$state" in
            idle | mixed | allocated) return 0 ;;
            down* | drain*) scontrol update NodeName="$NODE" State=RESUME 2>/dev/null || true ;;
        esac
        sleep 1
    done
    echo "run_cluster.sh: node state '$state' after ${WAIT_S}s; last log lines:" >&2
    tail -n 20 "$STATE/log/slurmctld.log" "$STATE/log/slurmd.log" >&2 || true
    return 1
}

start() {
    [[ $EUID -eq 0 ]] || die "must run as root (installs packages, starts daemons)"
    install_packages
    write_conf
    start_munge
    pid_alive "$STATE/slurmctld.pid" || /usr/sbin/slurmctld -c
    pid_alive "$STATE/slurmd.pid" || /usr/sbin/slurmd -N "$NODE"
    wait_idle
    echo "run_cluster.sh: SLURM up: node $NODE, partition $PARTITION, $(nproc) CPUs" >&2
}

stop_pid() {
    local file=$1 name=$2 pid
    if ! pid_alive "$file"; then return; fi
    pid=$(cat "$file")
    kill "$pid"
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.2
    done
    echo "run_cluster.sh: $name ($pid) ignored SIGTERM for 10 s; sending SIGKILL" >&2
    kill -9 "$pid" 2>/dev/null || true
}

stop() {
    stop_pid "$STATE/slurmd.pid" slurmd
    stop_pid "$STATE/slurmctld.pid" slurmctld
    stop_pid "$MUNGE_PID" munged
    # Without a slurm.conf, SLURM's clients fail at once instead of waiting about 10 s for the
    # controller that is gone; the SLURM executor plugin, when installed, runs `scontrol show
    # config` at every Snakemake start, local runs included. start writes the file again.
    if [[ -e "$CONF" ]] && grep -qF "$MARK" "$CONF"; then rm -f "$CONF"; fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) sinfo && [[ "$(node_state)" =~ ^(idle|mixed|allocated)$ ]] ;;
    *) die "usage: $0 start|stop|status" ;;
esac
