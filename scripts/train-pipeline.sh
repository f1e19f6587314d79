#!/usr/bin/env bash
# Train or fine-tune a layout model and / or a line recognizer into model folders.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/lib/args.sh
source "$here/lib/args.sh"

usage() {
  cat <<HELP
Usage: $(basename "$0") OUT [options]

Trains a layout model from --layout-data into OUT/<--layout-name> and / or a
line recognizer from --train-data into OUT/<--recognizer-name>; logs in
OUT/logs. A rerun skips a model that finished training (--force retrains it).

Layout model:
  --layout-data PATH   Pixel.js zip, folder of zips, or quire synth folder
                       (repeatable)
  --layout-base-model DIR  fine-tune this layout model
  --steps N            most training steps (default: the config's, else 2000)
  --layout-name NAME   model folder name (default layout)

Recognizer:
  --train-data DIR     create-train-data.sh output: DIR/train.txt, DIR/val.txt
                       (repeatable: trains on all of them)
  --encoding E         what the lines hold: text, kern, bekern, semantic or
                       agnostic (default: the config's, else text)
  --base-model DIR     fine-tune this recognizer
  --replace-output-layer  with --base-model: a new output layer for the
                       symbols of the training lines
  --epochs N           most epochs (default: the config's, else 50)
  --resume             continue the trainings that stopped from their state
                       (OUT/<name>.checkpoint.pt); those without one start
  --recognizer-name NAME  model folder name (default recognizer)

The --config file's layout-train: and recognize-train: sections set every
other training option (see docs/configuration.md).
HELP
  quire_common_help
}

args=() layout_base="" base="" encoding="" epochs="" steps=""
layout_name=layout recognizer_name=recognizer replace=0 resume=0
layout_data=() train_data=()
while [[ $# -gt 0 ]]; do
  quire_common_option "$@"
  if [[ $QUIRE_SHIFT -gt 0 ]]; then shift "$QUIRE_SHIFT" && continue; fi
  case "$1" in
    --layout-data) layout_data+=("$(quire_abspath "${2:?--layout-data needs a path}")") && shift 2 ;;
    --layout-base-model) layout_base=$(quire_abspath "${2:?--layout-base-model needs a folder}") && shift 2 ;;
    --steps) steps=${2:?--steps needs a number} && shift 2 ;;
    --layout-name) layout_name=${2:?--layout-name needs a name} && shift 2 ;;
    --train-data) train_data+=("$(quire_abspath "${2:?--train-data needs a folder}")") && shift 2 ;;
    --encoding) encoding=${2:?--encoding needs a value} && shift 2 ;;
    --base-model) base=$(quire_abspath "${2:?--base-model needs a folder}") && shift 2 ;;
    --replace-output-layer) replace=1 && shift ;;
    --epochs) epochs=${2:?--epochs needs a number} && shift 2 ;;
    --resume) resume=1 && shift ;;
    --recognizer-name) recognizer_name=${2:?--recognizer-name needs a name} && shift 2 ;;
    -*) quire_die "unknown option $1 (see --help)" ;;
    *) args+=("$(quire_abspath "$1")") && shift ;;
  esac
done
quire_need_args 1 "${args[@]}"
out=${args[0]}
quire_need_output "$out"
[[ ${#layout_data[@]} -gt 0 || ${#train_data[@]} -gt 0 ]] ||
  quire_die "nothing to train: give --layout-data and / or --train-data (see --help)"
for path in "${layout_data[@]}"; do
  quire_need_path -e "$path" "no such file or folder"
done
for data in "${train_data[@]}"; do
  for list in train val; do
    quire_need_path -s "$data/$list.txt" "missing or empty (create-train-data.sh makes it)"
  done
done
for model in "$layout_base" "$base"; do
  [[ -z "$model" ]] || quire_need_path -f "$model/model.json" "no such file (not a model folder)"
done
[[ $replace == 0 || -n "$base" ]] || quire_die "--replace-output-layer needs --base-model"
quire_need_name --layout-name "$layout_name"
quire_need_name --recognizer-name "$recognizer_name"

if [[ ${#layout_data[@]} -gt 0 ]]; then
  args=()
  [[ -z "$layout_base" ]] || args+=(--base-model "$layout_base")
  [[ -z "$steps" ]] || args+=(--steps "$steps")
  [[ $resume == 0 || ! -f "$out/$layout_name.checkpoint.pt" ]] || args+=(--resume)
  quire_run_stage "layout-train-$layout_name" "$out" layout train "${layout_data[@]}" \
    -o "$out/$layout_name" "${args[@]}" "${QUIRE_CONFIG[@]}"
fi

if [[ ${#train_data[@]} -gt 0 ]]; then
  lists=() args=()
  for data in "${train_data[@]}"; do
    lists+=("$data/train.txt") && args+=(--validation "$data/val.txt")
  done
  [[ -z "$encoding" ]] || args+=(--encoding "$encoding")
  [[ -z "$base" ]] || args+=(--base-model "$base")
  [[ $replace == 0 ]] || args+=(--replace-output-layer)
  [[ -z "$epochs" ]] || args+=(--epochs "$epochs")
  [[ $resume == 0 || ! -f "$out/$recognizer_name.checkpoint.pt" ]] || args+=(--resume)
  quire_run_stage "recognize-train-$recognizer_name" "$out" recognize train \
    "${lists[@]}" -o "$out/$recognizer_name" "${args[@]}" "${QUIRE_CONFIG[@]}"
fi
quire_finish
