#!/usr/bin/env bash
# Batch inference on a Slurm cluster: the images split into shards, one array task
# per shard runs scripts/inference-pipeline.sh, and a dependent job gathers them.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/lib/shards.sh
source "$here/lib/shards.sh"

usage() {
  cat <<HELP
Usage: $(basename "$0") IMAGES OUT [options] [-- inference-pipeline options]

Splits the page images of IMAGES (sorted by name) into N shards of consecutive
pages, submits one Slurm array job that runs scripts/inference-pipeline.sh on
each shard (OUT/shards/NNN/run), and a job that starts when every task has
ended and gathers the shards: OUT/page/, OUT/export/, OUT/summary.txt and, for
pages that did not finish, OUT/failed-pages.txt. Run it again to submit only
the shards that did not finish; their finished stages are skipped. Options
after -- go to every shard's inference-pipeline.sh (models, --keep-work …).

Options:
  --shards N           number of shards (default 4; fixed once OUT is split)
  --partition P        Slurm partition (default: the cluster's)
  --time T             time limit of a shard task (default: the partition's)
  --cpus-per-task N    CPUs of a shard task (default 1)
  --gpus-per-task N    GPUs of a shard task (default 0; the task's GPUs are
                       given to the pipeline's --gpu)
  --sbatch-arg ARG     one more sbatch option (repeatable), e.g.
                       --sbatch-arg=--account=myproject
  --wait               wait for the gather job; exit 1 when pages failed

Prints the array job id and the gather job id. --force splits OUT again and
reruns every stage of every shard.
HELP
  quire_common_help
}

args=() pipeline=() shards=4 cpus=1 gpus=0 wait=0
sbatch=(--parsable)
while [[ $# -gt 0 ]]; do
  quire_common_option "$@"
  if [[ $QUIRE_SHIFT -gt 0 ]]; then shift "$QUIRE_SHIFT" && continue; fi
  case "$1" in
    --shards) shards=${2:?--shards needs a number} && shift 2 ;;
    --partition) sbatch+=(--partition "${2:?--partition needs a name}") && shift 2 ;;
    --time) sbatch+=(--time "${2:?--time needs a limit}") && shift 2 ;;
    --cpus-per-task) cpus=${2:?--cpus-per-task needs a number} && shift 2 ;;
    --gpus-per-task) gpus=${2:?--gpus-per-task needs a number} && shift 2 ;;
    --sbatch-arg=*) sbatch+=("${1#--sbatch-arg=}") && shift ;;
    --sbatch-arg) sbatch+=("${2:?--sbatch-arg needs a value}") && shift 2 ;;
    --wait) wait=1 && shift ;;
    --) shift && pipeline=("$@") && break ;;
    -*) quire_die "unknown option $1 (see --help; pipeline options go after --)" ;;
    *) args+=("$(quire_abspath "$1")") && shift ;;
  esac
done
quire_need_args 2 "${args[@]}"
images=${args[0]} out=${args[1]}
quire_need_output "$out"
[[ "$shards" =~ ^[1-9][0-9]*$ ]] || quire_die "--shards must be a positive number, not '$shards'"
[[ "$cpus" =~ ^[1-9][0-9]*$ ]] || quire_die "--cpus-per-task must be a positive number"
[[ "$gpus" =~ ^[0-9]+$ ]] || quire_die "--gpus-per-task must be a number"
[[ -d "$images" ]] || quire_die "$images: no such folder"
[[ "${QUIRE_DRY_RUN:-0}" == 1 ]] || command -v sbatch >/dev/null ||
  quire_die "sbatch not found: this script submits to Slurm (see docs/cluster.md)"

# The plan: shard<TAB>image, consecutive pages, the first shards one page longer.
plan() {
  local -a found
  mapfile -t found < <(find "$images" -maxdepth 1 -type f \
    -regextype posix-extended -iregex '.*\.(png|jpe?g|tiff?|bmp|webp)' | LC_ALL=C sort)
  [[ ${#found[@]} -gt 0 ]] || quire_die "$images: no page images"
  local count=${#found[@]} k=0 i=0 size
  for ((k = 0; k < shards && i < count; k++)); do
    size=$(((count - i + shards - k - 1) / (shards - k)))
    for ((j = 0; j < size; j++, i++)); do printf '%d\t%s\n' "$k" "${found[$i]}"; done
  done
}

new_plan=$(plan)
if [[ -f "$out/shards/plan.tsv" && "${QUIRE_FORCE:-0}" != 1 ]]; then
  [[ "$new_plan" == "$(<"$out/shards/plan.tsv")" ]] ||
    quire_die "$out was split into other shards (another --shards or other images):" \
      "--force splits it again"
fi
count=$(cut -f1 <<<"$new_plan" | uniq | wc -l)
todo=()
if [[ "${QUIRE_DRY_RUN:-0}" == 1 ]]; then # writes nothing: every shard is shown
  for ((k = 0; k < count; k++)); do todo+=("$k"); done
else
  if [[ ! -f "$out/shards/plan.tsv" || "${QUIRE_FORCE:-0}" == 1 ]]; then
    rm -rf "$out/shards"
    mkdir -p "$out/shards"
    printf '%s\n' "$new_plan" >"$out/shards/plan.tsv"
    for ((k = 0; k < count; k++)); do
      dir=$(quire_shard_dir "$out" "$k")/images
      mkdir -p "$dir"
      # hard links where IMAGES and OUT share a file system, else copies: a container
      # runner mounts only the shard's folder
      while IFS= read -r image; do
        ln "$image" "$dir/" 2>/dev/null || cp -p "$image" "$dir/"
      done < <(quire_shard_images "$out" "$k")
    done
  fi
  for ((k = 0; k < count; k++)); do
    if [[ "${QUIRE_FORCE:-0}" == 1 ]] || ! quire_shard_done "$out" "$k"; then todo+=("$k"); fi
  done
  # One clock for the whole batch: every shard's PageXML carries the same dates.
  mkdir -p "$out/logs"
  [[ -n "${SOURCE_DATE_EPOCH:-}" || -s "$out/shards/clock" ]] || date +%s >"$out/shards/clock"
  export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(<"$out/shards/clock")}
fi

# submit SBATCH-ARGS…: sets job to the id of the job submitted (a dry run prints the
# sbatch command instead); returns sbatch's status (with --wait, the job's).
submit() {
  if [[ "${QUIRE_DRY_RUN:-0}" == 1 ]]; then
    quire_show_command sbatch "$@"
    job="JOB"
  else
    job=$(sbatch "$@")
  fi
}

task=("$here/slurm/shard.sh" "$out" "${QUIRE_CONFIG[@]}" "${pipeline[@]}")
array_flags=(--cpus-per-task "$cpus")
[[ $gpus == 0 ]] || array_flags+=(--gpus-per-task "$gpus")
gather_flags=()
array_job=none
if [[ ${#todo[@]} -gt 0 ]]; then
  submit "${sbatch[@]}" "${array_flags[@]}" --job-name quire-shards \
    --array "$(
      IFS=,
      echo "${todo[*]}"
    )" --output "$out/logs/slurm-%A_%a.out" --wrap "$(printf '%q ' "${task[@]}")"
  array_job=$job
  echo "quire: ${#todo[@]} of $count shards submitted" \
    "(array job $array_job)" >&2
  gather_flags+=(--dependency "afterany:$array_job" --kill-on-invalid-dep=no)
else
  echo "quire: every shard finished before; gathering only" >&2
fi
[[ $wait == 0 ]] || gather_flags+=(--wait)
rc=0
submit "${sbatch[@]}" "${gather_flags[@]}" --job-name quire-gather \
  --output "$out/logs/slurm-gather-%j.out" --wrap "$(printf '%q ' "$here/slurm/gather.sh" "$out")" ||
  rc=$?
[[ "${QUIRE_DRY_RUN:-0}" == 1 ]] || echo "$array_job $job"
if [[ $wait == 1 && "${QUIRE_DRY_RUN:-0}" != 1 ]]; then
  cat "$out/summary.txt" >&2 2>/dev/null || true
  [[ $rc == 0 ]] || exit 1
fi
