#!/usr/bin/env bash
# Bring up a one-node Slurm cluster on this machine, for the tests of the
# Slurm backend: munged, slurmctld and slurmd, started by hand (no systemd in
# the sandbox). Idempotent: a second run finds everything up and returns in
# well under a second; a changed machine (CPUs, memory, host name) rewrites
# the configuration and restarts the daemons.
#
# The node has a generic resource gpu:2 that needs no device, so that jobs
# submitted with `--gres=gpu:N` are accepted on a machine without GPUs.
set -euo pipefail

conf_dir=/etc/slurm
log_dir=/var/log/slurm
ctld_pid=/run/slurmctld.pid
slurmd_pid=/run/slurmd.pid

say() { printf 'slurm-up: %s\n' "$*" >&2; }

fail() {
  trap - ERR
  say "error: $*"
  for f in "$log_dir/slurmctld.log" "$log_dir/slurmd.log" /var/log/munge/munged.log; do
    if [ -f "$f" ]; then
      printf '\n--- tail of %s ---\n' "$f" >&2
      tail -n 25 "$f" >&2
    fi
  done
  exit 1
}
trap 'fail "command failed at line $LINENO: $BASH_COMMAND"' ERR

# Whether the process whose id is in file $1 is alive and named $2. A killed
# daemon can stay a zombie for a while (the sandbox's init reaps lazily), and
# `kill -0` succeeds on a zombie: its state in /proc must not be Z.
alive() {
  local pid stat
  [ -s "$1" ] || return 1
  pid=$(cat "$1" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ] || return 1
  stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [ "${stat%% *}" != Z ]
}

# Stop the daemon whose id is in file $1 (named $2), waiting up to 10 s.
stop() {
  alive "$1" "$2" || return 0
  local pid
  pid=$(cat "$1")
  say "stopping $2 ($pid)"
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 50); do
    alive "$1" "$2" || return 0
    sleep 0.2
  done
  kill -9 "$pid" 2>/dev/null || true
}

ctld_up() { scontrol ping 2>/dev/null | grep -q 'is UP'; }
munge_ok() { munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; }

# --- 1. packages -------------------------------------------------------------
missing() {
  local c
  for c in slurmctld slurmd sbatch srun munged; do
    command -v "$c" >/dev/null || return 0
  done
  return 1
}
if missing; then
  # An install started in the background may be running: wait for it (up to
  # 15 min) and look again before installing anything.
  for _ in $(seq 900); do
    pgrep -x apt-get >/dev/null || pgrep -x apt >/dev/null || pgrep -x dpkg >/dev/null || break
    sleep 1
  done
fi
if missing; then
  say "installing slurm-wlm and munge (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt_opts=(-qq -o DPkg::Lock::Timeout=900)
  # The package lists are read again only when installing without fails.
  if ! apt-get "${apt_opts[@]}" install -y --no-install-recommends slurm-wlm munge >/dev/null 2>&1; then
    apt-get "${apt_opts[@]}" update >/dev/null
    apt-get "${apt_opts[@]}" install -y --no-install-recommends slurm-wlm munge >/dev/null
  fi
  ! missing || fail "slurm-wlm and munge did not install"
fi

# --- 2. munge ----------------------------------------------------------------
install -d -o munge -g munge -m 0700 /etc/munge /var/lib/munge /var/log/munge
install -d -o munge -g munge -m 0755 /run/munge
if [ ! -s /etc/munge/munge.key ]; then
  say "creating /etc/munge/munge.key"
  dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
fi
chown munge:munge /etc/munge/munge.key
chmod 0400 /etc/munge/munge.key
if ! munge_ok; then
  say "starting munged"
  # A stale socket or pid file from a killed munged blocks a new one.
  if ! alive /run/munge/munged.pid munged; then
    rm -f /run/munge/munge.socket.2 /run/munge/munge.socket.2.lock /run/munge/munged.pid
  fi
  runuser -u munge -- /usr/sbin/munged --force
  for _ in $(seq 50); do
    munge_ok && break
    sleep 0.2
  done
  munge_ok || fail "munged does not answer (munge -n | unmunge)"
fi

# --- 3. configuration --------------------------------------------------------
node=$(hostname -s)
# `slurmd -C` prints the node line the hardware supports.
hw=$(slurmd -C)
hw=${hw%%$'\n'*}
field() { sed -n "s/.*\b$1=\([0-9]*\).*/\1/p" <<<"$hw"; }
cpus=$(field CPUs)
sockets=$(field SocketsPerBoard)
cores=$(field CoresPerSocket)
threads=$(field ThreadsPerCore)
mem=$(field RealMemory)
[ -n "$cpus" ] && [ -n "$sockets" ] && [ -n "$cores" ] && [ -n "$threads" ] && [ -n "$mem" ] ||
  fail "cannot read the node from 'slurmd -C': $hw"
# A little under what the machine has, so that the node is not drained for
# "Low RealMemory" when the kernel reports a few megabytes less.
mem=$((mem - mem / 20))

install -d -m 0755 "$conf_dir" "$log_dir" /var/spool/slurmctld /var/spool/slurmd

# Two GPUs that are no devices. slurmd drops a GPU without File= ("Removing
# file-less GPU"), and refuses a File= that is not a character or block
# device; two links to /dev/null pass (no cgroup constrains the devices).
fake_gpu_dir=$conf_dir/fake-gpu
install -d -m 0755 "$fake_gpu_dir"
for i in 0 1; do
  [ "$(readlink "$fake_gpu_dir/gpu$i" 2>/dev/null)" = /dev/null ] || ln -sfn /dev/null "$fake_gpu_dir/gpu$i"
done

slurm_conf=$(
  cat <<EOF
# Written by .ci/slurm-up.sh: a one-node cluster for the tests.
ClusterName=mlci
SlurmctldHost=$node(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
# Schedule a batch job when it is submitted, not at the next 3 s tick.
SchedulerParameters=batch_sched_delay=0
ReturnToService=2
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=$ctld_pid
SlurmdPidFile=$slurmd_pid
SlurmctldLogFile=$log_dir/slurmctld.log
SlurmdLogFile=$log_dir/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# Finished and cancelled jobs leave squeue within seconds.
MinJobAge=5
KillWait=5
InactiveLimit=0
Waittime=0
GresTypes=gpu
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus Boards=1 SocketsPerBoard=$sockets CoresPerSocket=$cores ThreadsPerCore=$threads RealMemory=$mem Gres=gpu:2 State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
)
gres_conf=$(
  cat <<EOF
# Written by .ci/slurm-up.sh: two GPUs that are no devices (links to /dev/null).
AutoDetect=off
NodeName=$node Name=gpu File=$fake_gpu_dir/gpu[0-1]
EOF
)

changed=0
write_if_changed() {
  if [ "$(cat "$1" 2>/dev/null)" != "$2" ]; then
    printf '%s\n' "$2" >"$1.tmp"
    mv "$1.tmp" "$1"
    say "wrote $1"
    changed=1
  fi
}
write_if_changed "$conf_dir/slurm.conf" "$slurm_conf"
write_if_changed "$conf_dir/gres.conf" "$gres_conf"

# --- 4. daemons --------------------------------------------------------------
if [ "$changed" = 1 ]; then
  stop "$slurmd_pid" slurmd
  stop "$ctld_pid" slurmctld
fi
if ! ctld_up && ! alive "$ctld_pid" slurmctld; then
  say "starting slurmctld"
  slurmctld
fi
for _ in $(seq 50); do
  ctld_up && break
  alive "$ctld_pid" slurmctld || { sleep 0.5; alive "$ctld_pid" slurmctld || fail "slurmctld exited"; }
  sleep 0.2
done
ctld_up || fail "slurmctld does not answer (scontrol ping)"

if ! alive "$slurmd_pid" slurmd; then
  say "starting slurmd"
  slurmd
  for _ in $(seq 25); do
    alive "$slurmd_pid" slurmd && break
    sleep 0.2
  done
  alive "$slurmd_pid" slurmd || fail "slurmd exited"
fi

# --- 5. wait for the node ----------------------------------------------------
state=
for i in $(seq 60); do
  state=$(sinfo -h -n "$node" -o %T 2>/dev/null) || state=
  state=${state%%$'\n'*}
  case "$state" in
    idle | mixed | allocated | completing) break ;;
    *down* | *drain* | *fail* | inval)
      # Down or drained from an earlier run (a node that stopped answering).
      if [ $((i % 5)) = 1 ]; then
        say "node $node is $state; resuming it"
        scontrol update nodename="$node" state=resume 2>/dev/null || true
      fi
      ;;
  esac
  alive "$slurmd_pid" slurmd || fail "slurmd exited"
  sleep 0.5
done
case "$state" in
  idle | mixed | allocated | completing) ;;
  *) fail "node $node is '${state:-unknown}' after 30 s, not idle: $(sinfo -h -n "$node" -o '%T %E' 2>&1)" ;;
esac

echo "slurm: node $node $state ($cpus CPUs, $mem MB, gres gpu:2), partition debug"
