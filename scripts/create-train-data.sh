#!/usr/bin/env bash
# PageXML + images to snippets and train / validation lists for quire recognize train.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/lib/args.sh
source "$here/lib/args.sh"

usage() {
  cat <<HELP
Usage: $(basename "$0") IN OUT [options]

IN holds the page images and IN/page/<stem>.xml (as Loghi and Transkribus export
them). Writes OUT/snippets/, OUT/lists/ (every snippet and the ground truth of
staves and of text lines) and OUT/train.txt, OUT/val.txt for one kind of line;
logs in OUT/logs. Nothing is written outside OUT; IN is only read.

Options:
  --pages DIR          PageXML folder (default IN/page)
  --kind KIND          staves, lines, or auto (default): the kind with more
                       transcribed lines; the other kind's lists stay in OUT/lists
  --val-fraction F     share of lines for validation (default 0.1)
  --seed S             seed of the split (default 0)
  --min-confidence C   leave out lines whose TextEquiv@conf is lower, and weight
                       the rest by it (pseudolabels); lines without @conf count as 1
HELP
  quire_common_help
}

args=() pages="" kind=auto fraction=0.1 seed=0 min_conf=""
while [[ $# -gt 0 ]]; do
  quire_common_option "$@"
  if [[ $QUIRE_SHIFT -gt 0 ]]; then shift "$QUIRE_SHIFT" && continue; fi
  case "$1" in
    --pages) pages=$(quire_abspath "${2:?--pages needs a folder}") && shift 2 ;;
    --kind) kind=${2:?--kind needs staves, lines or auto} && shift 2 ;;
    --val-fraction) fraction=${2:?--val-fraction needs a number} && shift 2 ;;
    --seed) seed=${2:?--seed needs a number} && shift 2 ;;
    --min-confidence) min_conf=${2:?--min-confidence needs a number} && shift 2 ;;
    -*) quire_die "unknown option $1 (see --help)" ;;
    *) args+=("$(quire_abspath "$1")") && shift ;;
  esac
done
quire_need_args 2 "${args[@]}"
in=${args[0]} out=${args[1]}
quire_need_output "$out"
quire_need_path -d "$in" "not a folder"
[[ "$kind" =~ ^(staves|lines|auto)$ ]] || quire_die "--kind must be staves, lines or auto"
pages=${pages:-$in/page}
quire_need_path -d "$pages" "no PageXML folder (give --pages DIR)"

cut_args=(--pages "$pages")
cut_args+=("${QUIRE_CONFIG[@]}")
[[ -z "$min_conf" ]] || cut_args+=(--min-confidence "$min_conf" --weights)
quire_run_stage cut "$out" cut "$in" "$out" "${cut_args[@]}"

if [[ "$kind" == auto ]]; then
  kind=lines
  if [[ -f "$out/lists/staves-gt.txt" && -f "$out/lists/lines-gt.txt" ]] &&
    (($(wc -l <"$out/lists/staves-gt.txt") > $(wc -l <"$out/lists/lines-gt.txt"))); then
    kind=staves
  fi
  echo "quire: training lists of $kind (--kind chooses)" >&2
fi
QUIRE_FORCE=1 quire_run_stage split "$out" split "$out/lists/$kind-gt.txt" "$out" \
  --val-fraction "$fraction" --seed "$seed"
quire_finish
