#!/usr/bin/env bash
# Build the quire images (docker/Dockerfile), one per stage family, and report their sizes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/lib/runner.sh
source "$here/lib/runner.sh"

FAMILIES=(layout recognition tooling synth loghi)

usage() {
  cat <<HELP
Usage: $(basename "$0") [options] [FAMILY…]

Builds quire-FAMILY:TAG from docker/Dockerfile for each FAMILY (default: all of
${FAMILIES[*]}), then prints each image's size. layout and recognition
start from the GPU base and get torch; tooling and synth start from the CPU base
and need no torch; loghi (recognize import-loghi: TensorFlow) starts from the CPU
base with torch's CPU build. Wheels in docker/wheels/ are preferred to downloads.

Options:
  --tag TAG              image tag (default: the package version, $(quire_version))
  --gpu-base IMAGE       base of the GPU families (default $GPU_BASE_IMAGE)
  --cpu-base IMAGE       base of the CPU families (default $CPU_BASE_IMAGE)
  --torch SPEC           torch requirement of the GPU families (default $TORCH)
  --torch-index-url URL  extra index torch comes from (default $TORCH_INDEX_URL;
                         '' for PyPI and docker/wheels only)
  --cpu-torch-index-url URL  the same for the loghi image (default
                         $CPU_TORCH_INDEX_URL)
  --ca-bundle FILE       CA bundle for builds behind a TLS-inspecting proxy; passed
                         as a build secret, so no layer keeps it
  --dry-run              print the build commands, build nothing
  -h, --help             this help

Environment: QUIRE_CONTAINER_ENGINE (docker, or podman; with global flags such as
"podman --runtime=runc"), QUIRE_CONTAINER_BUILD_ARGS (extra flags of build, split on
spaces), and GPU_BASE_IMAGE, CPU_BASE_IMAGE, TORCH, TORCH_INDEX_URL as defaults.
HELP
}

GPU_BASE_IMAGE=${GPU_BASE_IMAGE:-nvidia/cuda:12.8.1-runtime-ubuntu24.04}
CPU_BASE_IMAGE=${CPU_BASE_IMAGE:-python:3.11-slim-bookworm}
TORCH=${TORCH:-torch==2.13.0}
TORCH_INDEX_URL=${TORCH_INDEX_URL-https://download.pytorch.org/whl/cu128}
CPU_TORCH_INDEX_URL=${CPU_TORCH_INDEX_URL-https://download.pytorch.org/whl/cpu}
tag=$(quire_version) ca_bundle="" dry_run=0 families=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    -h | --help) usage && exit 0 ;;
    --tag) tag=${2:?--tag needs a tag} && shift 2 ;;
    --gpu-base) GPU_BASE_IMAGE=${2:?--gpu-base needs an image} && shift 2 ;;
    --cpu-base) CPU_BASE_IMAGE=${2:?--cpu-base needs an image} && shift 2 ;;
    --torch) TORCH=${2:?--torch needs a requirement such as torch==2.13.0} && shift 2 ;;
    --torch-index-url) TORCH_INDEX_URL=${2?--torch-index-url needs a URL or ''} && shift 2 ;;
    --cpu-torch-index-url) CPU_TORCH_INDEX_URL=${2?--cpu-torch-index-url needs a URL or ''} && shift 2 ;;
    --ca-bundle) ca_bundle=${2:?--ca-bundle needs a file} && shift 2 ;;
    --dry-run) dry_run=1 && shift ;;
    -*) quire_die "unknown option $1 (see --help)" ;;
    *) families+=("$1") && shift ;;
  esac
done
[[ ${#families[@]} -gt 0 ]] || families=("${FAMILIES[@]}")
for family in "${families[@]}"; do
  [[ " ${FAMILIES[*]} " == *" $family "* ]] ||
    quire_die "no image family '$family' (families: ${FAMILIES[*]})"
done
[[ -z "$ca_bundle" || -s "$ca_bundle" ]] || quire_die "$ca_bundle: no such CA bundle"

mapfile -t engine < <(quire_engine)
read -r -a extra <<<"${QUIRE_CONTAINER_BUILD_ARGS:-}"
revision=$(git -C "$QUIRE_ROOT" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
if [[ "$revision" != unknown && -n "$(git -C "$QUIRE_ROOT" status --porcelain -- src pyproject.toml constraints.txt docker)" ]]; then
  revision+=-modified
fi

# The build command of one family, one word per line.
build_command() {
  local family=$1
  local -a cmd=("${engine[@]}" build "${extra[@]}" -f "$QUIRE_ROOT/docker/Dockerfile")
  cmd+=(--target "$family" -t "quire-$family:$tag")
  cmd+=(--label "org.opencontainers.image.version=$(quire_version)")
  cmd+=(--label "org.opencontainers.image.revision=$revision")
  if [[ "$family" == layout || "$family" == recognition ]]; then
    cmd+=(--build-arg "BASE_IMAGE=$GPU_BASE_IMAGE" --build-arg "TORCH=$TORCH")
    cmd+=(--build-arg "TORCH_INDEX_URL=$TORCH_INDEX_URL")
  elif [[ "$family" == loghi ]]; then
    cmd+=(--build-arg "BASE_IMAGE=$CPU_BASE_IMAGE" --build-arg "TORCH=$TORCH")
    cmd+=(--build-arg "TORCH_INDEX_URL=$CPU_TORCH_INDEX_URL")
  else
    cmd+=(--build-arg "BASE_IMAGE=$CPU_BASE_IMAGE")
  fi
  [[ -z "$ca_bundle" ]] || cmd+=(--secret "id=cacert,src=$(realpath "$ca_bundle")")
  printf '%s\n' "${cmd[@]}" "$QUIRE_ROOT"
}

for family in "${families[@]}"; do
  mapfile -t cmd < <(build_command "$family")
  if [[ "$dry_run" == 1 ]]; then
    quire_show_command "${cmd[@]}"
    continue
  fi
  echo "quire: building quire-$family:$tag …" >&2
  "${cmd[@]}" >&2
done
[[ "$dry_run" == 1 ]] && exit 0

echo "image size (MB)"
for family in "${families[@]}"; do
  size=$("${engine[@]}" image inspect --format '{{.Size}}' "quire-$family:$tag")
  printf 'quire-%s:%s %d\n' "$family" "$tag" "$((size / 1000000))"
done
