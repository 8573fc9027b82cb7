#!/usr/bin/env bash
# A throw-away single-node Slurm cluster on this machine, for the `slurm` tests (and for trying
# `warmstart submit` by hand).
#
#   tests/slurm/cluster.sh start DIR   # DIR: an empty folder; prints `export SLURM_CONF=DIR/slurm.conf`
#   tests/slurm/cluster.sh stop DIR    # stops exactly the daemons `start` started (by their PIDs)
#
# `start` installs Debian's slurm-wlm and munge when they are missing (root + apt-get), creates a munge key in
# DIR, writes DIR/slurm.conf for a cluster of this host alone (its CPUs and memory from `slurmd -C`, free
# ports, state/spool/pid/log files all under DIR), and starts munged, slurmctld and slurmd as root, each
# pointed at DIR. It waits until the node is idle; on failure it prints the daemons' logs, stops what it
# started and exits non-zero. Nothing outside DIR is written (apart from the packages), so several clusters
# can coexist and `stop` + `rm -rf DIR` leaves nothing behind.
set -euo pipefail

usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
cmd=$1
dir=$(mkdir -p "$2" && cd "$2" && pwd)

stop_pid() {   # stop_pid NAME PIDFILE: SIGTERM, wait up to 10 s, then SIGKILL
  local name=$1 file=$2 pid
  [ -s "$file" ] || return 0
  pid=$(cat "$file")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "cluster: $name ($pid) did not stop on SIGTERM; SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$file"
}

stop() {
  # Jobs first, so no job step outlives its slurmd: cancel every job of this cluster (SLURM_CONF is ours) and
  # wait until the controller has none left. Then slurmd, the controller, and munge.
  if [ -f "$dir/slurm.conf" ] && [ -s "$dir/run/slurmctld.pid" ] && kill -0 "$(cat "$dir/run/slurmctld.pid")" 2>/dev/null; then
    export SLURM_CONF="$dir/slurm.conf"
    scancel --quiet --user="$(id -un)" 2>/dev/null || true
    for _ in $(seq 1 100); do
      [ -z "$(squeue -h -t pending,running,completing,configuring,suspended -o %i 2>/dev/null)" ] && break
      sleep 0.2
    done
  fi
  stop_pid slurmd "$dir/run/slurmd.pid"
  stop_pid slurmctld "$dir/run/slurmctld.pid"
  stop_pid munged "$dir/run/munged.pid"
}

show_logs() {
  for f in "$dir"/log/*.log; do
    [ -f "$f" ] || continue
    echo "---- $f (last 30 lines)" >&2
    tail -n 30 "$f" >&2
  done
}

free_port() {   # a TCP port nobody listens on, from a range above the usual services
  local p
  for _ in $(seq 1 200); do
    p=$(( 20000 + RANDOM % 30000 ))
    if ! ss -Htln "sport = :$p" 2>/dev/null | grep -q . && ! ss -Htln "sport = :$((p + 1))" 2>/dev/null | grep -q .; then
      echo "$p"; return 0
    fi
  done
  echo "cluster: no free port found" >&2; return 1
}

start() {
  # 1. Packages.
  if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null \
     || ! command -v munged >/dev/null; then
    if [ "${WARMSTART_NO_INSTALL:-0}" = 1 ] || [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
      echo "cluster: slurm-wlm and munge are not installed (install them: apt-get install -y slurm-wlm munge)" >&2; exit 1
    fi
    echo "cluster: installing slurm-wlm munge" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq slurm-wlm munge >/dev/null 2>&1 \
      || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq slurm-wlm munge >/dev/null; } \
      || { echo "cluster: could not install slurm-wlm munge" >&2; exit 1; }
  fi
  if [ "$(id -u)" != 0 ]; then echo "cluster: the daemons run as root (SlurmUser=root); run this as root" >&2; exit 1; fi
  if [ -s "$dir/run/slurmctld.pid" ] && kill -0 "$(cat "$dir/run/slurmctld.pid")" 2>/dev/null; then
    echo "cluster: already running in $dir" >&2; exit 1
  fi

  mkdir -p "$dir/state" "$dir/spool" "$dir/run" "$dir/log" "$dir/munge"
  chmod 0700 "$dir/munge"

  # 2. Munge: our own key and socket, so a system munged (if any) is left alone.
  local key="$dir/munge/munge.key"
  if [ ! -s "$key" ]; then
    if command -v mungekey >/dev/null; then mungekey --create --keyfile="$key" >/dev/null 2>&1 \
      || dd if=/dev/urandom of="$key" bs=1024 count=1 status=none
    else dd if=/dev/urandom of="$key" bs=1024 count=1 status=none; fi
    chmod 0400 "$key"
  fi
  local socket="$dir/munge/munge.socket"
  munged --force --key-file="$key" --socket="$socket" --pid-file="$dir/run/munged.pid" \
         --log-file="$dir/log/munged.log" --seed-file="$dir/munge/munged.seed" \
    || { echo "cluster: munged did not start" >&2; show_logs; stop; exit 1; }
  for _ in $(seq 1 50); do [ -S "$socket" ] && break; sleep 0.1; done

  # 3. slurm.conf for this host alone.
  local host cpus mem ctl_port node_port
  host=$(hostname -s)
  read -r cpus mem < <(slurmd -C | awk '/^NodeName/ { for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
                                                      print v["CPUs"], v["RealMemory"] }')
  [ -n "$cpus" ] && [ -n "$mem" ] || { echo "cluster: slurmd -C gave no CPUs/RealMemory" >&2; stop; exit 1; }
  ctl_port=$(free_port)
  node_port=$((ctl_port + 1))
  cat > "$dir/slurm.conf" <<EOF
# Single-node test cluster written by tests/slurm/cluster.sh
ClusterName=warmstart-test
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$ctl_port
SlurmdPort=$node_port
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$socket
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1024
ReturnToService=2
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2
MinJobAge=600
KillWait=5
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
  export SLURM_CONF="$dir/slurm.conf"
  echo "export SLURM_CONF=$SLURM_CONF" > "$dir/env"

  # 4. Daemons (they fork and write their PID files). -c: a clean start, no state from an earlier run.
  slurmctld -c -f "$SLURM_CONF" || { echo "cluster: slurmctld did not start" >&2; show_logs; stop; exit 1; }
  slurmd -c -f "$SLURM_CONF" -N "$host" || { echo "cluster: slurmd did not start" >&2; show_logs; stop; exit 1; }

  # 5. Wait until the node is usable.
  local state=""
  for _ in $(seq 1 150); do
    state=$(sinfo -h -n "$host" -o '%t' 2>/dev/null | head -n 1 || true)
    case "$state" in idle|mix|alloc) break ;; esac
    sleep 0.2
  done
  case "$state" in
    idle|mix|alloc) ;;
    *) echo "cluster: node $host did not become idle (state '${state:-none}')" >&2; show_logs; stop; exit 1 ;;
  esac
  echo "export SLURM_CONF=$SLURM_CONF"
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  *) usage ;;
esac
