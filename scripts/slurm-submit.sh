#!/usr/bin/env bash
# Submits a sweep to Slurm: an array job of SHARDS shards (scripts/slurm-sweep.sbatch) and a
# merge job that starts once every shard succeeded (afterok), writing OUT/merged.
# Usage: scripts/slurm-submit.sh PLAN.toml OUT_DIR [SHARDS=4]
# Extra sbatch options for the shards: SBATCH_SHARD_ARGS (e.g. "--partition=long").
# Logs, one per shard with a line per finished point (a requeued shard appends to its log):
# OUT_DIR/logs/shard-I.out, and merge.out.
# Prints "ARRAY_JOB_ID MERGE_JOB_ID".
set -euo pipefail
plan=$(realpath "${1:?usage: slurm-submit.sh PLAN.toml OUT_DIR [SHARDS]}")
out=$(realpath -m "${2:?usage: slurm-submit.sh PLAN.toml OUT_DIR [SHARDS]}")
shards=${3:-4}
sim=${SIM:-sim}
mkdir -p "$out/logs"
cd "$(dirname "$0")/.."   # the batch script names scripts/ relative to the submit folder
# shellcheck disable=SC2086 # SBATCH_SHARD_ARGS is a list of options
array=$(sbatch --parsable --array="0-$((shards - 1))" --output="$out/logs/shard-%a.out" \
    --open-mode=append \
    ${SBATCH_SHARD_ARGS:-} scripts/slurm-sweep.sbatch "$plan" "$out")
array=${array%%;*}   # --parsable prints "id[;cluster]"
dirs=""
for ((i = 0; i < shards; i++)); do dirs="$dirs '$out/shard-$i'"; done
merge=$(sbatch --parsable --job-name=sim-merge --dependency="afterok:$array" \
    --kill-on-invalid-dep=yes --cpus-per-task=1 --output="$out/logs/merge.out" \
    --wrap "exec '$sim' merge --out '$out/merged' $dirs")
echo "${array} ${merge%%;*}"
