#!/usr/bin/env bash
# The last job of scripts/cluster-inference.sh: collects every shard's PageXML and
# exports into OUT/page and OUT/export, and lists the pages that did not finish.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib/shards.sh
source "$here/lib/shards.sh"

usage() {
  cat <<HELP
Usage: $(basename "$0") OUT

Gathers the shards of OUT (scripts/cluster-inference.sh) into OUT/page and
OUT/export, writes OUT/summary.txt and OUT/failed-pages.txt (shard<TAB>image of
every page without its PageXML and exports). Exits 1 when pages failed.
HELP
}

[[ $# -eq 1 && "$1" != -h && "$1" != --help ]] || { usage && exit 0; }
out=$(quire_abspath "$1")
[[ -s "$out/shards/plan.tsv" ]] || quire_die "$out/shards/plan.tsv: no such batch plan"
mkdir -p "$out/page" "$out/export"
count=$(quire_shard_count "$out")
done_pages=0 failed_pages=0 failed_shards=()
: >"$out/failed-pages.txt.tmp"
for ((k = 0; k < count; k++)); do
  run=$(quire_shard_dir "$out" "$k")/run
  shard_failed=0
  while IFS= read -r image; do
    name=$(basename "$image")
    stem=${name%.*}
    if quire_page_done "$run" "$image"; then
      # hard links: the same file system; a shard run again replaces its files
      ln -f "$run/page/$stem.xml" "$out/page/"
      while IFS= read -r file; do # exports and overlays/<stem>.png
        mkdir -p "$(dirname "$out/export/${file#"$run/export/"}")"
        ln -f "$file" "$out/export/${file#"$run/export/"}"
      done < <(find "$run/export" -type f -name "$stem.*")
      done_pages=$((done_pages + 1))
    else
      printf '%d\t%s\n' "$k" "$image" >>"$out/failed-pages.txt.tmp"
      failed_pages=$((failed_pages + 1))
      shard_failed=1
    fi
  done < <(quire_shard_images "$out" "$k")
  [[ $shard_failed == 0 ]] || failed_shards+=("$k")
done
mv "$out/failed-pages.txt.tmp" "$out/failed-pages.txt"
errors=$(cat "$out"/shards/*/run/logs/*.log 2>/dev/null | grep -c '^error' || true)
summary="quire: $((done_pages + failed_pages)) pages in $count shards: $done_pages done,"
summary+=" $failed_pages failed; $errors errors in the shards' logs"
if [[ ${#failed_shards[@]} -gt 0 ]]; then
  summary+=" (shards ${failed_shards[*]}: see $out/failed-pages.txt and $out/logs;"
  summary+=" running cluster-inference.sh again submits only those)"
fi
echo "$summary" | tee "$out/summary.txt" >&2
[[ $failed_pages == 0 ]]
