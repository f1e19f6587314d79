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

Options:
  --work DIR           folder for training data and logs
HELP
  quire_common_help
}

out="$QUIRE_ROOT/models" work=""
while [[ $# -gt 0 ]]; do
  quire_common_option "$@"
  if [[ $QUIRE_SHIFT -gt 0 ]]; then shift "$QUIRE_SHIFT" && continue; fi
  case "$1" in
    -h | --help)
      usage
      exit 0
      ;;
    --work) work=$(quire_abspath "${2:?--work needs a folder}") && shift 2 ;;
    -*) quire_die "unknown option $1 (see --help)" ;;
    *) out=$(quire_abspath "$1") && shift ;;
  esac
done
work=${work:-$out/.work}
recipe="$QUIRE_ROOT/configs/layout-default.yaml"

rc=0
"$here/generate-synthetic-data.sh" "$work/layout-data" --config "$recipe" || rc=$?
case "$rc" in
  0) ;;
  1) QUIRE_FAILED=1 ;; # some pages failed: train on the others
  *) exit "$rc" ;;
esac
quire_run_stage layout-train "$work" layout train "$work/layout-data/music" \
  -o "$out/layout-default" --config "$recipe"
quire_finish
