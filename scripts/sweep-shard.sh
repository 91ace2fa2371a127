#!/usr/bin/env bash
# Runs one shard of a sweep; meant as the body of a Slurm array job or a Kubernetes indexed
# Job, and runnable by hand. The shard index comes from the scheduler:
#   Slurm:      SLURM_ARRAY_TASK_ID (0-based array, e.g. --array=0-3), SLURM_ARRAY_TASK_COUNT
#   Kubernetes: JOB_COMPLETION_INDEX (indexed Job), SHARD_COUNT (set to .spec.completions)
#   by hand:    SHARD_INDEX, SHARD_COUNT
# Worker threads: SLURM_CPUS_PER_TASK, else SHARD_JOBS, else every core the process sees.
# Usage: scripts/sweep-shard.sh PLAN.toml OUT_DIR
# Then, once every shard is done: sim merge --out OUT_DIR/merged OUT_DIR/shard-{0..N-1}
# A shard started again after a kill, preemption or requeue resumes: points already finished
# in OUT_DIR/shard-I (checksums verified) are kept, the rest are redone.
set -euo pipefail
plan=${1:?usage: sweep-shard.sh PLAN.toml OUT_DIR}
out=${2:?usage: sweep-shard.sh PLAN.toml OUT_DIR}
index=${SLURM_ARRAY_TASK_ID:-${JOB_COMPLETION_INDEX:-${SHARD_INDEX:?set SHARD_INDEX (or run under Slurm/Kubernetes)}}}
count=${SLURM_ARRAY_TASK_COUNT:-${SHARD_COUNT:?set SHARD_COUNT}}
sim=${SIM:-sim}
exec "$sim" sweep --plan "$plan" --shard "$index/$count" --out "$out/shard-$index" --resume \
    -j "${SLURM_CPUS_PER_TASK:-${SHARD_JOBS:-0}}"
