#!/usr/bin/env bash
# make demo: sample pages through the inference pipeline with the shipped models.
set -euo pipefail
# shellcheck source=scripts/lib/args.sh
source "$(dirname "$0")/lib/args.sh"

usage() {
  cat <<HELP
Usage: $(basename "$0") [OUT] [options]

Renders sample pages into OUT/pages (default OUT: demo): printed music with
titles and lyrics, and a page of printed prose. Reads them with
inference-pipeline.sh and the shipped models into OUT/run, and prints where the PageXML, **kern, MusicXML,
MIDI and overlay pictures are, and how far each page is from its ground truth
(staff SER, text CER; quire evaluate pages).

Options:
  --pages N            sample music pages (default 2; one text page besides)
  --seed S             seed of the sample pages (default 2027)
HELP
  quire_common_help
}

out=demo pages=2 seed=2027
while [[ $# -gt 0 ]]; do
  quire_common_option "$@"
  if [[ $QUIRE_SHIFT -gt 0 ]]; then shift "$QUIRE_SHIFT" && continue; fi
  case "$1" in
    --pages) pages=${2:?--pages needs a number} && shift 2 ;;
    --seed) seed=${2:?--seed needs a number} && shift 2 ;;
    -*) quire_die "unknown option $1 (see --help)" ;;
    *) out=$(quire_abspath "$1") && shift ;;
  esac
done
out=$(quire_abspath "$out")

samples="$out/samples"
quire_run_stage synth-music "$out" synth music "$samples/music" --pages "$pages" --seed "$seed" \
  --kind monophonic --encoding bekern --max-systems 5 --title-chance 1 --lyrics-chance 0.5
quire_run_stage synth-corpus "$out" synth corpus "$samples/prose.txt" --words 2000 --seed "$seed"
quire_run_stage synth-text "$out" synth text "$samples/text" --texts "$samples/prose.txt" \
  --pages 1 --seed "$seed" --lines-min 8 --lines-max 8 --scan-chance 1
# One folder of page images and one of their ground truth, as a user's would be.
if [[ "${QUIRE_DRY_RUN:-0}" != 1 ]]; then
  mkdir -p "$out/pages/images" "$out/pages/page"
  cp "$samples"/*/images/* "$out/pages/images/"
  cp "$samples"/*/page/* "$out/pages/page/"
fi
quire_run_script inference-pipeline.sh "$out/pages/images" "$out/run" --force "${QUIRE_CONFIG[@]}"
QUIRE_FORCE=1 quire_run_stage evaluate "$out/run" evaluate pages "$out/run/page" \
  "$out/pages/page" -o "$out/run/scores"
echo
cat "$out/run/scores.md"
cat <<DONE

Sample pages:   $out/pages/images (ground truth in $out/pages/page)
PageXML:        $out/run/page
**kern, MusicXML, MIDI, MEI, text: $out/run/export
Overlays:       $out/run/export/overlays (open $out/run/export/index.html)
Scores:         $out/run/scores.md
DONE
# The demo shows what the models make of the pages, failed lines included: status 0.
[[ $QUIRE_FAILED == 0 ]] || echo "quire: some lines could not be read; $out/run/logs says which" >&2
