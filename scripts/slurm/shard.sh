#!/usr/bin/env bash
# One shard of scripts/cluster-inference.sh: runs scripts/inference-pipeline.sh on
# OUT/shards/K/images into OUT/shards/K/run, going on with what an earlier try left.
# K is the Slurm array index, or --shard K when run by hand.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib/shards.sh
source "$here/lib/shards.sh"

usage() {
  cat <<HELP
Usage: $(basename "$0") OUT [--shard K] [inference-pipeline options]

Runs shard K (default: \$SLURM_ARRAY_TASK_ID) of a batch that
scripts/cluster-inference.sh split into OUT/shards.
HELP
}

[[ $# -ge 1 && "$1" != -h && "$1" != --help ]] || { usage && exit 0; }
out=$1
shift
shard=${SLURM_ARRAY_TASK_ID:-}
if [[ "${1:-}" == --shard ]]; then
  shard=${2:?--shard needs a number}
  shift 2
fi
[[ "$shard" =~ ^[0-9]+$ ]] || quire_die "no shard: run as a Slurm array task or give --shard K"
dir=$(quire_shard_dir "$out" "$shard")
[[ -d "$dir/images" ]] || quire_die "$dir/images: no such shard (see $out/shards/plan.tsv)"
# as many threads as the task has CPUs, not as the node has
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-${SLURM_CPUS_PER_TASK:-1}}
if [[ -n "${SLURM_GPUS_PER_TASK:-}" && "${SLURM_GPUS_PER_TASK}" != 0 ]]; then
  export QUIRE_GPU=${SLURM_JOB_GPUS:-${CUDA_VISIBLE_DEVICES:-all}}
fi
echo "quire: shard $shard on $(hostname): $(find "$dir/images" -type f | wc -l) pages" >&2
exec "$here/inference-pipeline.sh" "$dir/images" "$dir/run" --resume "$@"
