#!/usr/bin/env bash
# Render synthetic training data: music pages (Verovio) and text pages (fonts).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/lib/args.sh
source "$here/lib/args.sh"

usage() {
  cat <<HELP
Usage: $(basename "$0") OUT [options]

Renders OUT/music (quire synth music) and OUT/text (quire synth text): page
images, PageXML ground truth and layer masks; logs in OUT/logs.

Options:
  --music-pages N      generated music pages (default: the config file's, else 10;
                       0 skips music)
  --kern-dir DIR       render these **kern files instead of generated music
  --text-pages N       text pages (default: the config file's, else 10; only
                       with --texts)
  --texts FILE         text file whose words fill the text lines (repeatable)
  --fonts PATH         font file or folder for the text pages, instead of the config
                       file's (repeatable)
  --seed S             seed for both stages (default: the config file's, else 0)
HELP
  quire_common_help
  echo
  echo "Text pages need fonts: on Debian, apt-get install fonts-dejavu-core fonts-liberation2"
  echo "(the text-default recipe also fonts-dejavu-extra fonts-freefont-ttf fonts-urw-base35)."
}

args=() music_pages="" text_pages="" seed="" kern_dir=""
texts=() fonts=()
while [[ $# -gt 0 ]]; do
  quire_common_option "$@"
  if [[ $QUIRE_SHIFT -gt 0 ]]; then shift "$QUIRE_SHIFT" && continue; fi
  case "$1" in
    --music-pages) music_pages=${2:?--music-pages needs a number} && shift 2 ;;
    --text-pages) text_pages=${2:?--text-pages needs a number} && shift 2 ;;
    --seed) seed=${2:?--seed needs a number} && shift 2 ;;
    --kern-dir) kern_dir=$(quire_abspath "${2:?--kern-dir needs a folder}") && shift 2 ;;
    --texts) texts+=("$(quire_abspath "${2:?--texts needs a file}")") && shift 2 ;;
    --fonts) fonts+=("$(quire_abspath "${2:?--fonts needs a file or folder}")") && shift 2 ;;
    -*) quire_die "unknown option $1 (see --help)" ;;
    *) args+=("$(quire_abspath "$1")") && shift ;;
  esac
done
quire_need_args 1 "${args[@]}"
out=${args[0]}
quire_need_output "$out"
[[ -z "$text_pages" || ${#texts[@]} -gt 0 ]] || quire_die "--text-pages needs --texts FILE"

common=("${QUIRE_CONFIG[@]}")
[[ -z "$seed" ]] || common+=(--seed "$seed")

if [[ -n "$kern_dir" ]]; then
  quire_run_stage synth-music "$out" synth music "$out/music" --kern-dir "$kern_dir" "${common[@]}"
elif [[ "$music_pages" != 0 ]]; then
  pages=()
  [[ -z "$music_pages" ]] || pages=(--pages "$music_pages")
  quire_run_stage synth-music "$out" synth music "$out/music" "${pages[@]}" "${common[@]}"
fi
if [[ ${#texts[@]} -gt 0 && "$text_pages" != 0 ]]; then
  text_args=()
  [[ -z "$text_pages" ]] || text_args+=(--pages "$text_pages")
  for file in "${texts[@]}"; do text_args+=(--texts "$file"); done
  for font in "${fonts[@]}"; do text_args+=(--fonts "$font"); done
  quire_run_stage synth-text "$out" synth text "$out/text" "${text_args[@]}" "${common[@]}"
fi
quire_finish
