#!/usr/bin/env bash
# Retrain the shipped default models from scratch, with the recipes and seeds in configs/.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/lib/args.sh
source "$here/lib/args.sh"

usage() {
  cat <<HELP
Usage: $(basename "$0") [OUT] [options]

Renders the training data of each default model and trains it into OUT
(default: models/ of the checkout). Work files go to --work (default: OUT/.work).

Models and their recipes:
  layout-default      configs/layout-default.yaml (synth-music, layout-train)
  staff-default       configs/staff-default.yaml (synth-music, cut, recognize-train)

Options:
  --model NAME         build only this model (repeatable; default: all)
  --work DIR           folder for training data and logs
HELP
  quire_common_help
}

out="$QUIRE_ROOT/models" work=""
models=()
while [[ $# -gt 0 ]]; do
  quire_common_option "$@"
  if [[ $QUIRE_SHIFT -gt 0 ]]; then shift "$QUIRE_SHIFT" && continue; fi
  case "$1" in
    --work) work=$(quire_abspath "${2:?--work needs a folder}") && shift 2 ;;
    --model) models+=("${2:?--model needs a name}") && shift 2 ;;
    -*) quire_die "unknown option $1 (see --help)" ;;
    *) out=$(quire_abspath "$1") && shift ;;
  esac
done
work=${work:-$out/.work}
[[ ${#models[@]} -gt 0 ]] || models=(layout-default staff-default)

# render NAME: the recipe's synthetic pages into WORK/NAME-data/music.
render() {
  local rc=0
  "$here/generate-synthetic-data.sh" "$work/$1-data" --config "$QUIRE_ROOT/configs/$1.yaml" || rc=$?
  case "$rc" in
    0) ;;
    1) QUIRE_FAILED=1 ;; # some pages failed: train on the others
    *) exit "$rc" ;;
  esac
}

for model in "${models[@]}"; do
  recipe="$QUIRE_ROOT/configs/$model.yaml"
  data="$work/$model-data/music"
  case "$model" in
    layout-default)
      render "$model"
      quire_run_stage layout-train "$work" layout train "$data" -o "$out/$model" --config "$recipe"
      ;;
    staff-default)
      render "$model"
      quire_run_stage cut "$work/$model-data" cut "$data/images" "$data"
      quire_run_stage recognize-train "$work" recognize train "$data/lists/staves-gt.txt" \
        -o "$out/$model" --config "$recipe"
      ;;
    *) quire_die "unknown model $model (see --help)" ;;
  esac
done
quire_finish
