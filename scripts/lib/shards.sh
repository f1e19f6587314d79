# shellcheck shell=bash
# Shards of a batch run (scripts/cluster-inference.sh): OUT/shards/plan.tsv lists
# shard<TAB>image for every image; shard K runs the inference pipeline on the links
# in OUT/shards/K/images into OUT/shards/K/run. Sourcing this also sources args.sh.
# shellcheck source=scripts/lib/args.sh
source "$(dirname "${BASH_SOURCE[0]}")/args.sh"

quire_shard_dir() {
  printf '%s/shards/%03d' "$1" "$2"
}

# quire_shard_count OUT: the number of shards in OUT's plan.
quire_shard_count() {
  cut -f1 "$1/shards/plan.tsv" | sort -un | wc -l
}

# quire_shard_images OUT K: the images of shard K, one per line.
quire_shard_images() {
  awk -F '\t' -v k="$2" '$1 == k { print $2 }' "$1/shards/plan.tsv"
}

# quire_page_done RUN IMAGE: the pipeline run RUN went through every stage and wrote
# IMAGE's PageXML (lines it could not read are in RUN's logs).
quire_page_done() {
  local name
  name=$(basename "$2")
  [[ -e "$1/.done/finished" && -s "$1/page/${name%.*}.xml" ]]
}

# quire_shard_done OUT K: every page of shard K is done.
quire_shard_done() {
  local dir image
  dir=$(quire_shard_dir "$1" "$2")
  while IFS= read -r image; do
    quire_page_done "$dir/run" "$image" || return 1
  done < <(quire_shard_images "$1" "$2")
}
