#!/usr/bin/env bash
# Page images in, PageXML and exports out: every inference stage, in order.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/lib/args.sh
source "$here/lib/args.sh"
STAGES=(layout-predict extract cut recognize-staves merge-staves recognize-lines merge-lines
  order words language export)

usage() {
  cat <<HELP
Usage: $(basename "$0") IMAGES OUT [options]

Runs layout predict, extract, cut, recognize (staves and text lines, each with
its own model), merge, order, words, language and export on the page images of
IMAGES (never written to). Writes OUT/page/<stem>.xml, OUT/export/ (kern,
MusicXML, MIDI, MEI, text, overlays, index.html) and the work in between;
logs in OUT/logs. A rerun skips the stages that finished (OUT/.done), so a run
that was stopped goes on where it stopped.

Options:
  --layout-model DIR   layout model (default: the shipped models/layout-default)
  --staff-model DIR    staff recognizer (default: models/staff-default)
  --text-model DIR     text-line recognizer (default: none; text lines are
                       found but not read)
  --from STAGE         rerun from STAGE on (one of: ${STAGES[*]})
HELP
  quire_common_help
}

args=() config="" from=""
layout_model="$QUIRE_ROOT/models/layout-default"
staff_model="$QUIRE_ROOT/models/staff-default"
text_model=""
while [[ $# -gt 0 ]]; do
  quire_common_option "$@"
  if [[ $QUIRE_SHIFT -gt 0 ]]; then shift "$QUIRE_SHIFT" && continue; fi
  case "$1" in
    --layout-model) layout_model=$(quire_abspath "${2:?--layout-model needs a folder}") && shift 2 ;;
    --staff-model) staff_model=$(quire_abspath "${2:?--staff-model needs a folder}") && shift 2 ;;
    --text-model) text_model=$(quire_abspath "${2:?--text-model needs a folder}") && shift 2 ;;
    --from) from=${2:?--from needs a stage} && shift 2 ;;
    --config) config=$(quire_abspath "${2:?--config needs a file}") && shift 2 ;;
    -*) quire_die "unknown option $1 (see --help)" ;;
    *) args+=("$(quire_abspath "$1")") && shift ;;
  esac
done
quire_need_args 2 "${args[@]}"
images=${args[0]} out=${args[1]}
[[ -e "$images" ]] || quire_die "$images: no such folder or image"
for model in "$layout_model" "$staff_model" ${text_model:+"$text_model"}; do
  [[ -f "$model/model.json" ]] || quire_die "$model: not a model folder (no model.json)"
done
if [[ -n "$from" ]]; then
  [[ " ${STAGES[*]} " == *" $from "* ]] || quire_die "--from: no stage '$from' (see --help)"
  rerun=0
  for stage in "${STAGES[@]}"; do
    [[ "$stage" == "$from" ]] && rerun=1
    [[ $rerun == 0 ]] || rm -f "$out/.done/$stage"
  done
fi

common=()
[[ -z "$config" ]] || common+=(--config "$config")
start=$SECONDS

# recognize KIND MODEL: read the snippets of OUT/lists/KIND.txt and merge the results.
recognize() {
  local kind=$1 model=$2
  if [[ "${QUIRE_DRY_RUN:-0}" != 1 && ! -s "$out/lists/$kind.txt" ]]; then
    echo "quire: no $kind to recognize" >&2
    return 0
  fi
  quire_run_stage "recognize-$kind" "$out" recognize predict "$out/lists/$kind.txt" \
    -m "$model" -o "$out/results-$kind.tsv" --token-confidences "${common[@]}"
  quire_run_stage "merge-$kind" "$out" merge "$out" -r "$out/results-$kind.tsv" -m "$model"
}

quire_run_stage layout-predict "$out" layout predict "$images" "$out" -m "$layout_model" \
  "${common[@]}"
quire_run_stage extract "$out" extract "$images" "$out" "${common[@]}"
quire_run_stage cut "$out" cut "$images" "$out" "${common[@]}"
recognize staves "$staff_model"
[[ -z "$text_model" ]] || recognize lines "$text_model"
quire_run_stage order "$out" order "$out" "${common[@]}"
tokens=()
[[ ! -f "$out/results-lines.tokens.tsv" ]] || tokens=(--tokens "$out/results-lines.tokens.tsv")
quire_run_stage words "$out" words "$out" "${tokens[@]}"
quire_run_stage language "$out" language "$out" "${common[@]}"
quire_run_stage export "$out" export "$images" "$out" "${common[@]}"

if [[ "${QUIRE_DRY_RUN:-0}" != 1 ]]; then
  pages=$(find "$out/page" -name '*.xml' | wc -l)
  staves=$(wc -l <"$out/lists/staves.txt")
  lines=$(wc -l <"$out/lists/lines.txt")
  failures=$(cat "$out"/logs/*.log | grep -c '^error' || true)
  echo "quire: $pages pages, $staves staves, $lines text lines, $failures errors in the logs," \
    "$((SECONDS - start)) s; PageXML in $out/page, exports in $out/export" >&2
fi
quire_finish
