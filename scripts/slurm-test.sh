#!/usr/bin/env bash
# Starts a throwaway single-node Slurm cluster on this machine (munged, slurmctld and slurmd
# on localhost, every file in a temporary folder, ports chosen free), submits a small sharded
# sweep with scripts/slurm-submit.sh (an array job and a merge job depending on it), requeues
# shard 0 once it has finished a point (it must resume), waits, and checks the merged folder
# is byte-identical to the unsharded `sim sweep` of the plan.
# The daemons are stopped on exit, whatever happens. Needs root and the Debian packages
# slurm-wlm and munge; exits 77 when they are missing.
# Usage: [SIM=target/release/sim] scripts/slurm-test.sh [SHARDS=3]
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "SKIP: the daemons need root"; exit 77; }
repo=$(cd "$(dirname "$0")/.." && pwd)
sim=$(realpath "${SIM:-$repo/target/release/sim}")
shards=${1:-3}
for p in munged slurmctld slurmd sbatch squeue scontrol sinfo; do
    command -v "$p" >/dev/null || { echo "SKIP: $p not on PATH (apt-get install slurm-wlm munge)"; exit 77; }
done

tmp=$(mktemp -d /tmp/slurm-test.XXXXXX)
chmod 755 "$tmp"
pids=()
cleanup() {
    local status=$?
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    done
    if [ "$status" -ne 0 ]; then
        echo "--- failed; daemon and job logs:" >&2
        tail -n 20 "$tmp"/*.log "$tmp"/out/logs/* 2>/dev/null >&2 || true
    fi
    [ -n "${SLURM_TEST_KEEP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT
# Waits up to $1 seconds for the command after it to succeed.
wait_for() {
    local limit=$1; shift
    for _ in $(seq $((limit * 5))); do "$@" && return 0; sleep 0.2; done
    echo "timed out after ${limit}s waiting for: $*" >&2
    return 1
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# munge: a fresh key and a private socket, so nothing else on the machine is touched.
dd if=/dev/urandom of="$tmp/munge.key" bs=1024 count=1 status=none
chmod 400 "$tmp/munge.key"
munged -F --force --key-file="$tmp/munge.key" --socket="$tmp/munge.sock" \
    --pid-file="$tmp/munged.pid" --seed-file="$tmp/munge.seed" --log-file="$tmp/munged.log" \
    >"$tmp/munged.out.log" 2>&1 &
pids+=($!)
wait_for 10 test -S "$tmp/munge.sock"

host=$(hostname -s)
mkdir -p "$tmp/state" "$tmp/spool"
export SLURM_CONF="$tmp/slurm.conf"
cat > "$SLURM_CONF" <<CONF
ClusterName=simtest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
# cred_expire is also how long a requeued job waits before it starts again (default 120 s).
AuthInfo=socket=$tmp/munge.sock,cred_expire=5
CredType=cred/munge
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/slurmctld.log
SlurmdLogFile=$tmp/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
# Scheduling passes every second or two, not every 30-60 s: a requeued task restarts at once.
SchedulerParameters=sched_interval=2,bf_interval=1
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
ReturnToService=2
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
slurmctld -D -i -f "$SLURM_CONF" >"$tmp/slurmctld.out.log" 2>&1 &
pids+=($!)
slurmd -D -N "$host" -f "$SLURM_CONF" >"$tmp/slurmd.out.log" 2>&1 &
pids+=($!)
wait_for 60 sh -c 'sinfo -h -o %t 2>/dev/null | grep -qx idle'
echo "[${SECONDS}s] cluster up: $(sinfo -h -o '%P %N %c cpus %t')"

# A small plan: 12 points x 3 replicates (4 points a shard, so shard 0 is still running when
# it is requeued after its first), progress samples and a comparison, so every file a sweep
# writes is checked.
cat > "$tmp/plan.toml" <<PLAN
scenario = "$repo/scenarios/g1t2.toml"
replicates = 3
set = ["torrent.size=32MiB"]
progress = true
[[vary]]
key = "seeders"
values = ["1..=3"]
[[vary]]
key = "variant"
values = ["thesis-code", "work-conserving"]
[[vary]]
key = "incentive"
values = ["none", "seniority"]
[[compare]]
a = { seeders = 1 }
b = { seeders = 3 }
PLAN
read -r array merge < <(SIM="$sim" SBATCH_SHARD_ARGS="--cpus-per-task=1" \
    "$repo/scripts/slurm-submit.sh" "$tmp/plan.toml" "$tmp/out" "$shards")
echo "[${SECONDS}s] submitted array job $array ($shards shards) and merge job $merge (afterok:$array)"
state() { scontrol -o show job "$1" | grep -o 'JobState=[A-Z_]*' | sort -u | tr '\n' ' '; }
finished() { state "$merge" | grep -Eq 'COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL'; }
# Once shard 0 has checkpointed its first point, requeue it: Slurm kills the task and starts
# it again, and the restarted shard must resume (its log says how many points it kept).
wait_for 120 test -e "$tmp/out/shard-0/points/0/SHA256SUMS" -o -e "$tmp/out/shard-0/summary.csv"
scontrol requeue "${array}_0"
echo "[${SECONDS}s] requeued shard 0 (task ${array}_0)"
wait_for 300 finished
echo "[${SECONDS}s] array job: $(state "$array")"
echo "merge job: $(state "$merge")"
state "$merge" | grep -q 'JobState=COMPLETED' || { echo "merge job did not complete" >&2; exit 1; }
for i in $(seq 0 $((shards - 1))); do
    echo "--- log of shard $i:"; cat "$tmp/out/logs/shard-$i.out"
done
grep -q "resuming: " "$tmp/out/logs/shard-0.out" || { echo "shard 0 did not resume" >&2; exit 1; }

"$sim" sweep --plan "$tmp/plan.toml" --out "$tmp/whole" >/dev/null 2>&1
diff -r "$tmp/whole" "$tmp/out/merged"
names=("$tmp"/whole/*)
echo "merged == unsharded: ${names[*]##*/}"
(cd "$tmp/whole" && sha256sum -- *)
echo "slurm-test: OK"
