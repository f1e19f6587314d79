#!/usr/bin/env bash
# Retrain the shipped default models from scratch, with the recipes and seeds in configs/.
set -euo pipefail
# shellcheck source=scripts/lib/args.sh
source "$(dirname "$0")/lib/args.sh"

usage() {
  cat <<HELP
Usage: $(basename "$0") [OUT] [options]

Renders the training data of each default model, trains it with
train-pipeline.sh and moves it into OUT (default: models/ of the checkout).
Work files go to --work (default: OUT/.work).

Models and their recipes:
  layout-default      configs/layout-default.yaml (music pages, layout training)
  staff-default       configs/staff-default.yaml (music pages, staves, recognizer),
                      then configs/staff-default-keys.yaml,
                      configs/staff-default-notation.yaml and
                      configs/staff-default-piano.yaml with
                      configs/staff-default-more.yaml (fine-tuning)
  text-default        configs/text-default.yaml (prose, text pages, recognizer)
  text-historical     configs/text-historical.yaml (text-default fine-tuned on old prints;
                      needs npm and the Debian fonts the recipe names), then
                      configs/text-historical-lowres.yaml (fine-tuning)

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
[[ ${#models[@]} -gt 0 ]] || models=(layout-default staff-default text-default text-historical)

# Staves of synthetic music pages rendered by RECIPE into DATA/lines.
staff_lines() {
  quire_run_script generate-synthetic-data.sh "$1" --config "$2"
  quire_run_script create-train-data.sh "$1/music/images" "$1/lines" \
    --pages "$1/music/page" --kind staves --val-fraction 0.03 --seed 1 --config "$2"
}

for model in "${models[@]}"; do
  quire_need_name --model "$model"
done
for model in "${models[@]}"; do
  recipe="$QUIRE_ROOT/configs/$model.yaml"
  data="$work/$model-data"
  trained="$work/trained"
  case "$model" in
    layout-default)
      quire_run_script generate-synthetic-data.sh "$data" --config "$recipe"
      quire_run_script train-pipeline.sh "$trained" --layout-data "$data/music" \
        --layout-name "$model" --config "$recipe"
      ;;
    staff-default)
      staff_lines "$data" "$recipe"
      quire_run_script train-pipeline.sh "$trained" --train-data "$data/lines" \
        --recognizer-name "$model-base" --config "$recipe"
      # Second step: fine-tuned on those staves and the keys the first step reads worst.
      keys="$QUIRE_ROOT/configs/$model-keys.yaml"
      staff_lines "$data-keys" "$keys"
      quire_run_script train-pipeline.sh "$trained" --train-data "$data/lines" \
        --train-data "$data-keys/lines" --base-model "$trained/$model-base" \
        --recognizer-name "$model-keys" --config "$keys"
      # Third step: the whole notation the generator writes, with new output rows.
      notation="$QUIRE_ROOT/configs/$model-notation.yaml"
      staff_lines "$data-notation" "$notation"
      quire_run_script train-pipeline.sh "$trained" --train-data "$data-notation/lines" \
        --base-model "$trained/$model-keys" --replace-output-layer \
        --recognizer-name "$model-notation" --config "$notation"
      # Fourth step: piano systems (chords, two voices) and more of the notation.
      piano="$QUIRE_ROOT/configs/$model-piano.yaml"
      staff_lines "$data-more" "$QUIRE_ROOT/configs/$model-more.yaml"
      staff_lines "$data-piano" "$piano"
      quire_run_script train-pipeline.sh "$trained" --train-data "$data-more/lines" \
        --train-data "$data-piano/lines" --base-model "$trained/$model-notation" \
        --replace-output-layer --recognizer-name "$model" --config "$piano"
      ;;
    text-default)
      quire_run_stage synth-corpus "$data" synth corpus "$data/corpus.txt" --config "$recipe"
      quire_run_script generate-synthetic-data.sh "$data" --music-pages 0 \
        --texts "$data/corpus.txt" --config "$recipe"
      quire_run_script create-train-data.sh "$data/text/images" "$data/lines" \
        --pages "$data/text/page" --kind lines --val-fraction 0.05 --seed 1 --config "$recipe"
      quire_run_script train-pipeline.sh "$trained" --train-data "$data/lines" \
        --recognizer-name "$model" --config "$recipe"
      ;;
    text-historical)
      # The npm font (UnifrakturMaguntia) is fetched into the data folder; the rest
      # are Debian's (see the recipe).
      fonts=("$data/fonts")
      if [[ "${QUIRE_DRY_RUN:-0}" != 1 ]]; then
        mkdir -p "$data/fonts"
        (cd "$data/fonts" && npm pack --silent @fontsource/unifrakturmaguntia@5.3.0 >/dev/null &&
          tar -xzf fontsource-unifrakturmaguntia-5.3.0.tgz --strip-components 2 \
            package/files/unifrakturmaguntia-latin-400-normal.woff)
      fi
      for folder in truetype/blankenburg truetype/gamaliel opentype/gotico-antiqua \
        opentype/ebgaramond opentype/linux-libertine; do
        fonts+=("/usr/share/fonts/$folder")
      done
      font_args=()
      for font in "${fonts[@]}"; do font_args+=(--fonts "$font"); done
      base="$out/text-default" # built above, or the shipped one
      [[ -d "$base" ]] || base="$QUIRE_ROOT/models/text-default"
      lowres="$QUIRE_ROOT/configs/$model-lowres.yaml"
      for step in "$data:$recipe" "$data-lowres:$lowres"; do
        quire_run_stage synth-corpus "${step%%:*}" synth corpus "${step%%:*}/corpus.txt" \
          --config "${step#*:}"
        quire_run_script generate-synthetic-data.sh "${step%%:*}" --music-pages 0 \
          --texts "${step%%:*}/corpus.txt" "${font_args[@]}" --config "${step#*:}"
        quire_run_script create-train-data.sh "${step%%:*}/text/images" "${step%%:*}/lines" \
          --pages "${step%%:*}/text/page" --kind lines --val-fraction 0.05 --seed 1 \
          --config "${step#*:}"
      done
      quire_run_script train-pipeline.sh "$trained" --train-data "$data/lines" \
        --base-model "$base" --replace-output-layer \
        --recognizer-name "$model-base" --config "$recipe"
      # Second step: its lines with lines set at 150 dpi (small old type as scanned).
      quire_run_script train-pipeline.sh "$trained" --train-data "$data/lines" \
        --train-data "$data-lowres/lines" --base-model "$trained/$model-base" \
        --replace-output-layer --recognizer-name "$model" --config "$lowres"
      ;;
    *) quire_die "unknown model $model (see --help)" ;;
  esac
  if [[ -d "$trained/$model" ]]; then
    rm -rf "${out:?}/$model" && mkdir -p "$out" && mv "$trained/$model" "$out/$model"
    echo "quire: $model written to $out/$model" >&2
  fi
done
quire_finish
