#!/usr/bin/env bash
# Unlabelled pages to weighted training lists: inference, then the confident lines.
set -euo pipefail
# shellcheck source=scripts/lib/args.sh
source "$(dirname "$0")/lib/args.sh"

usage() {
  cat <<HELP
Usage: $(basename "$0") IMAGES OUT [options]

Reads the unlabelled page images of IMAGES with inference-pipeline.sh (into
OUT/inference), then keeps the lines whose confidence reaches --min-confidence
as training data with create-train-data.sh: OUT/train-data/train.txt and
val.txt, each line weighted by its confidence (path<TAB>weight<TAB>text), ready
for train-pipeline.sh --train-data OUT/train-data. IMAGES is only read.

Options:
  --min-confidence C   lowest line confidence kept (default 0.9)
  --kind KIND          staves, lines, or auto (default)
  --val-fraction F     share of lines for validation (default 0.1)
  --seed S             seed of the split (default 0)
  --layout-model DIR, --staff-model DIR, --text-model DIR
                       models of the inference (default: the shipped ones)
HELP
  quire_common_help
}

args=() min_conf=0.9 kind=auto fraction=0.1 seed=0
models=()
while [[ $# -gt 0 ]]; do
  quire_common_option "$@"
  if [[ $QUIRE_SHIFT -gt 0 ]]; then shift "$QUIRE_SHIFT" && continue; fi
  case "$1" in
    --min-confidence) min_conf=${2:?--min-confidence needs a number} && shift 2 ;;
    --kind) kind=${2:?--kind needs staves, lines or auto} && shift 2 ;;
    --val-fraction) fraction=${2:?--val-fraction needs a number} && shift 2 ;;
    --seed) seed=${2:?--seed needs a number} && shift 2 ;;
    --layout-model | --staff-model | --text-model)
      models+=("$1" "${2:?$1 needs a folder}") && shift 2
      ;;
    -*) quire_die "unknown option $1 (see --help)" ;;
    *) args+=("$(quire_abspath "$1")") && shift ;;
  esac
done
quire_need_args 2 "${args[@]}"
images=${args[0]} out=${args[1]}
quire_need_output "$out"

resume=()
[[ ! -d "$out/inference/.done" ]] || resume=(--resume)
quire_run_script inference-pipeline.sh "$images" "$out/inference" "${models[@]}" "${resume[@]}" \
  "${QUIRE_CONFIG[@]}"
quire_run_script create-train-data.sh "$images" "$out/train-data" --pages "$out/inference/page" \
  --min-confidence "$min_conf" --kind "$kind" --val-fraction "$fraction" --seed "$seed" \
  "${QUIRE_CONFIG[@]}"
quire_finish
