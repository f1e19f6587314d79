#!/usr/bin/env bash
# Page images in, PageXML and exports out: every inference stage, in order.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/lib/args.sh
source "$here/lib/args.sh"
STAGES=(layout-predict extract cut recognize-staves merge-staves recognize-lines merge-lines
  order words language export)
NEEDS_WORK=(recognize-staves merge-staves recognize-lines merge-lines words) # read OUT's work files

usage() {
  cat <<HELP
Usage: $(basename "$0") IMAGES OUT [options]

Runs layout predict, extract, cut, recognize (staves and text lines, each with
its own model), merge, order, words, language and export on the page images of
IMAGES (never written to, but see --loghi-layout). Writes OUT/page/<stem>.xml and OUT/export/ (kern,
MusicXML, MIDI, MEI, text, overlays, index.html); logs in OUT/logs. The work
in between (layers, snippets, lists, results) is removed at the end unless
--keep-work is given or some input failed.

Options:
  --layout-model DIR   layout model (default: the shipped models/layout-default)
  --staff-model DIR    staff recognizer (default: models/staff-default)
  --text-model DIR     text-line recognizer (default: models/text-default when
                       it is there; 'none' finds text lines but does not read them)
  --resume             go on with a run in OUT that was stopped: stages that
                       finished are skipped, the rest run with the run's clock
  --from STAGE         rerun from STAGE on (one of: ${STAGES[*]})
  --keep-work          keep OUT/layers, OUT/snippets, OUT/lists and the results
  --loghi-layout       also put the PageXML next to the images, in IMAGES/page/
                       (where Loghi's tools look); a file there that quire did not
                       write is first kept as <name>.xml.orig

PageXML dates are the run's start time (or SOURCE_DATE_EPOCH when set), so a
resumed run writes the same PageXML as one that was never stopped.
HELP
  quire_common_help
}

args=() from="" resume=0 keep_work=0 loghi_layout=0
layout_model="$QUIRE_ROOT/models/layout-default"
staff_model="$QUIRE_ROOT/models/staff-default"
text_model="$QUIRE_ROOT/models/text-default"
[[ -d "$text_model" ]] || text_model=none
while [[ $# -gt 0 ]]; do
  quire_common_option "$@"
  if [[ $QUIRE_SHIFT -gt 0 ]]; then shift "$QUIRE_SHIFT" && continue; fi
  case "$1" in
    --layout-model) layout_model=$(quire_abspath "${2:?--layout-model needs a folder}") && shift 2 ;;
    --staff-model) staff_model=$(quire_abspath "${2:?--staff-model needs a folder}") && shift 2 ;;
    --text-model) text_model=${2:?--text-model needs a folder or none} && shift 2 ;;
    --resume) resume=1 && shift ;;
    --keep-work) keep_work=1 && shift ;;
    --loghi-layout) loghi_layout=1 && shift ;;
    --from) from=${2:?--from needs a stage} && shift 2 ;;
    -*) quire_die "unknown option $1 (see --help)" ;;
    *) args+=("$(quire_abspath "$1")") && shift ;;
  esac
done
quire_need_args 2 "${args[@]}"
images=${args[0]} out=${args[1]}
quire_need_images "$images"
quire_need_output "$out"
[[ $loghi_layout == 0 || -d "$images" ]] || quire_die "$images: --loghi-layout needs a folder of images"
[[ "$text_model" == none ]] && text_model="" || text_model=$(quire_abspath "$text_model")
for model in "$layout_model" "$staff_model" ${text_model:+"$text_model"}; do
  quire_need_path -f "$model/model.json" "no such file (not a model folder)"
done
# An earlier run that stopped before its export: go on only when asked to.
if [[ -d "$out/.done" && ! -e "$out/.done/export" && $resume == 0 && -z "$from" &&
  "${QUIRE_FORCE:-0}" != 1 && "${QUIRE_DRY_RUN:-0}" != 1 ]]; then
  quire_die "$out holds a run that stopped before it finished: --resume goes on with it," \
    "--force runs every stage again"
fi
if [[ -n "$from" ]]; then
  [[ " ${STAGES[*]} " == *" $from "* ]] || quire_die "--from: no stage '$from' (see --help)"
  if [[ -e "$out/.done/work-removed" && " ${NEEDS_WORK[*]} " == *" $from "* ]]; then
    quire_die "--from $from needs the work of the run, which was removed at its end:" \
      "--from cut (or earlier) makes it again; --keep-work keeps it"
  fi
  rerun=0
  for stage in "${STAGES[@]}"; do
    [[ "$stage" == "$from" ]] && rerun=1
    [[ $rerun == 0 ]] || rm -f "$out/.done/$stage"
  done
fi
# The run's clock: PageXML dates of every stage, kept for --resume.
if [[ "${QUIRE_DRY_RUN:-0}" != 1 ]]; then
  mkdir -p "$out/.done"
  if [[ -z "${SOURCE_DATE_EPOCH:-}" ]]; then
    [[ $resume == 1 && -s "$out/.done/clock" ]] || date +%s >"$out/.done/clock"
    SOURCE_DATE_EPOCH=$(<"$out/.done/clock")
  fi
  export SOURCE_DATE_EPOCH
  rm -f "$out/.done/work-removed" "$out/.done/finished"
fi

start=$SECONDS

# loghi_layout_pages: OUT/page/*.xml into IMAGES/page/, each file replaced atomically;
# a file there that an earlier --loghi-layout run did not write is kept as .orig.
loghi_layout_pages() {
  local target="$images/page" page name
  mkdir -p "$target"
  for page in "$out"/page/*.xml; do
    [[ -e "$page" ]] || continue
    name=$(basename "$page")
    if [[ -e "$target/$name" && ! -e "$target/$name.orig" ]]; then
      mv "$target/$name" "$target/$name.orig"
      echo "quire: $target/$name kept as $name.orig" >&2
    fi
    cp "$page" "$target/.$name.tmp" && mv -f "$target/.$name.tmp" "$target/$name"
  done
}

# count_in_pages PATTERN: how often PATTERN occurs in OUT/page/*.xml.
count_in_pages() {
  find "$out/page" -name '*.xml' -exec cat {} + | { grep -o "$1" || true; } | wc -l
}

# recognize KIND MODEL: read the snippets of OUT/lists/KIND.txt and merge the results.
recognize() {
  local kind=$1 model=$2
  if [[ "${QUIRE_DRY_RUN:-0}" != 1 && ! -e "$out/.done/merge-$kind" && ! -s "$out/lists/$kind.txt" ]]
  then
    echo "quire: no $kind to recognize" >&2
    return 0
  fi
  quire_run_stage "recognize-$kind" "$out" recognize predict "$out/lists/$kind.txt" \
    -m "$model" -o "$out/results-$kind.tsv" --token-confidences "${QUIRE_CONFIG[@]}"
  quire_run_stage "merge-$kind" "$out" merge "$out" -r "$out/results-$kind.tsv" -m "$model"
}

quire_run_stage layout-predict "$out" layout predict "$images" "$out" -m "$layout_model" \
  "${QUIRE_CONFIG[@]}"
quire_run_stage extract "$out" extract "$images" "$out" "${QUIRE_CONFIG[@]}"
quire_run_stage cut "$out" cut "$images" "$out" "${QUIRE_CONFIG[@]}"
recognize staves "$staff_model"
[[ -z "$text_model" ]] || recognize lines "$text_model"
quire_run_stage order "$out" order "$out" "${QUIRE_CONFIG[@]}"
tokens=()
[[ ! -f "$out/results-lines.tokens.tsv" ]] || tokens=(--tokens "$out/results-lines.tokens.tsv")
quire_run_stage words "$out" words "$out" "${tokens[@]}"
quire_run_stage language "$out" language "$out" "${QUIRE_CONFIG[@]}"
quire_run_stage export "$out" export "$images" "$out" "${QUIRE_CONFIG[@]}"

if [[ "${QUIRE_DRY_RUN:-0}" != 1 ]]; then
  pages=$(find "$out/page" -name '*.xml' | wc -l)
  all_lines=$(count_in_pages '<TextLine ')
  staves=$(count_in_pages '<TextLine [^>]*type:staff;')
  lines=$((all_lines - staves))
  failures=$(cat "$out"/logs/*.log | grep -c '^error' || true)
  echo "quire: $pages pages, $staves staves, $lines text lines, $failures errors in the logs," \
    "$((SECONDS - start)) s; PageXML in $out/page, exports in $out/export" >&2
  if [[ $keep_work == 0 && $QUIRE_FAILED == 0 ]]; then
    rm -rf "$out/layers" "$out/snippets" "$out/lists" "$out"/results-*.tsv
    touch "$out/.done/work-removed"
  fi
  touch "$out/.done/finished" # every stage ran to its end (some inputs may have failed)
  [[ $loghi_layout == 0 ]] || loghi_layout_pages
fi
quire_finish
