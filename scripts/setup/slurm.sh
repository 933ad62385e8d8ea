#!/usr/bin/env bash
# Starts the Slurm cluster the Slurm tests use, idempotently, as root: Debian's munge and Slurm 22.05 packages, a
# munge key, munged, and one slurmctld plus one slurmd on this machine. One cluster per machine, shared by every
# checkout. Prints one line on success; names what failed otherwise.
#
# Partitions: debug (the default) and batch share the one node, so a test can choose either; held is DOWN, so a job
# sent there stays PENDING with the stable reason PartitionDown (the pending-reason and cancel-while-pending tests).
#
# This is a container (gVisor, no systemd, no delegated cgroups), so nothing cgroup-based: proctrack/linuxproc,
# task/none, jobacct_gather/none. There is no slurmdbd: finished jobs stay visible to squeue/scontrol for MinJobAge
# seconds, and jobcomp/filetxt keeps one line per finished job for what outlives that.
set -euo pipefail

conf_dir=/etc/slurm
conf="$conf_dir/slurm.conf"
state=/var/spool/slurmctld
spool=/var/spool/slurmd
logs=/var/log/slurm
run=/run/slurm
cpus="${LIFTOFF_SLURM_CPUS:-8}"
node="$(hostname -s)"

fail() { echo "scripts/setup/slurm.sh: $*" >&2; exit 1; }

if [ "$(id -u)" -ne 0 ]; then
  fail "must run as root (it installs Debian packages and starts munged, slurmctld and slurmd)"
fi

missing=()
command -v munged >/dev/null 2>&1 || missing+=(munge)
command -v slurmctld >/dev/null 2>&1 || missing+=(slurmctld)
command -v slurmd >/dev/null 2>&1 || missing+=(slurmd)
command -v sbatch >/dev/null 2>&1 || missing+=(slurm-client)
if [ "${#missing[@]}" -gt 0 ]; then
  apt-get update -qq
  # policy-rc.d keeps the packages' own services from starting: this script starts them with its own configuration.
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || { rm -f /usr/sbin/policy-rc.d; fail "apt-get install ${missing[*]} failed"; }
  rm -f /usr/sbin/policy-rc.d
fi

# munge: the key Debian's package made, else a fresh one; munged answers when `munge -n | unmunge` round-trips.
if [ ! -s /etc/munge/munge.key ]; then
  mungekey --create --keyfile=/etc/munge/munge.key >/dev/null 2>&1 || fail "mungekey could not create /etc/munge/munge.key"
fi
chown munge:munge /etc/munge /etc/munge/munge.key
chmod 700 /etc/munge
chmod 400 /etc/munge/munge.key
munge_answers() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }
if ! munge_answers; then
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  chown munge:munge /run/munge /var/log/munge /var/lib/munge
  runuser -u munge -- munged --force >/dev/null 2>&1 || true
  for _ in $(seq 1 50); do munge_answers && break; sleep 0.1; done
  munge_answers || fail "munged did not start (see /var/log/munge/munged.log)"
fi

mkdir -p "$conf_dir" "$state" "$spool" "$logs" "$run"
# Test intervals are short so the suite stays fast: KillWait is the grace between the signal and SIGKILL at a time
# limit or scancel, MinJobAge how long a finished job stays in squeue. SlurmdParameters=config_overrides lets the node
# claim more CPUs than this 2-core machine has, so two jobs and a two-rank job fit side by side.
desired="$(cat <<EOF
# Written by scripts/setup/slurm.sh: a single-machine test cluster.
ClusterName=liftoff
SlurmctldHost=$node(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$state
SlurmdSpoolDir=$spool
SlurmctldPidFile=$run/slurmctld.pid
SlurmdPidFile=$run/slurmd.pid
SlurmctldLogFile=$logs/slurmctld.log
SlurmdLogFile=$logs/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$logs/jobcomp.log
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1,bf_interval=1
SlurmdParameters=config_overrides
ReturnToService=2
MpiDefault=none
KillWait=5
MinJobAge=600
OverTimeLimit=0
InactiveLimit=0
Waittime=0
MessageTimeout=10
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=8192 State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
PartitionName=batch Nodes=$node MaxTime=INFINITE State=UP
PartitionName=held Nodes=$node MaxTime=INFINITE State=DOWN
EOF
)"
changed=0
if [ ! -f "$conf" ] || [ "$(cat "$conf")" != "$desired" ]; then
  printf '%s\n' "$desired" >"$conf"
  changed=1
fi
# cgroup.conf: unused by these plugins, but slurmd 22.05 reads it at start and complains when it is missing.
[ -f "$conf_dir/cgroup.conf" ] || printf 'CgroupPlugin=autodetect\n' >"$conf_dir/cgroup.conf"

daemon_running() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
stop_daemon() {
  local pid
  daemon_running "$1" || return 0
  pid="$(cat "$1")"
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
}
if [ "$changed" -eq 1 ]; then
  stop_daemon "$run/slurmd.pid"
  stop_daemon "$run/slurmctld.pid"
fi

if ! daemon_running "$run/slurmctld.pid"; then
  slurmctld >>"$logs/slurmctld.out" 2>&1 || { tail -n 20 "$logs/slurmctld.log" >&2; fail "slurmctld did not start; its log is above"; }
fi
if ! daemon_running "$run/slurmd.pid"; then
  slurmd >>"$logs/slurmd.out" 2>&1 || { tail -n 20 "$logs/slurmd.log" >&2; fail "slurmd did not start; its log is above"; }
fi

node_state() { sinfo -h -n "$node" -p debug -o '%T' 2>/dev/null | head -n 1; }
for _ in $(seq 1 150); do
  case "$(node_state)" in idle|mixed|allocated|completing) break ;; esac
  sleep 0.2
done
st="$(node_state)"
case "$st" in
  idle|mixed|allocated|completing) ;;
  *drain*|*down*)
    scontrol update NodeName="$node" State=RESUME >/dev/null 2>&1 || true
    for _ in $(seq 1 50); do case "$(node_state)" in idle|mixed|allocated) break ;; esac; sleep 0.2; done
    st="$(node_state)"
    case "$st" in idle|mixed|allocated|completing) ;; *) fail "node $node is '$st' after RESUME (see $logs/slurmd.log, $logs/slurmctld.log)" ;; esac ;;
  *) fail "node $node is '${st:-not known to sinfo}', not idle (see $logs/slurmctld.log and $logs/slurmd.log)" ;;
esac

echo "slurm: cluster liftoff ready (node $node, $cpus CPUs; partitions debug (default), batch, held (down); conf $conf)"
