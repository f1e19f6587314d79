# shellcheck shell=bash
# The quire stage runner: runs one stage in its container image or from the local
# environment, with one log per stage and a .done marker so that reruns skip it.
#
# Settings (environment variables; the scripts set them from their flags):
#   QUIRE_RUNNER            auto | docker | local            (default auto)
#   QUIRE_GPU               none | all | ID[,ID…]            (default none)
#   QUIRE_FORCE             1 reruns stages that are done    (default 0)
#   QUIRE_DRY_RUN           1 prints commands, runs nothing  (default 0)
#   QUIRE_CONTAINER_ENGINE  docker | podman, with global flags  (default docker)
#                           (split on spaces: "podman --runtime=runc")
#   QUIRE_CONTAINER_RUN_ARGS extra flags of `run`, split on spaces
#   QUIRE_IMAGE_TAG         image tag                        (default: package version)
#   QUIRE_BIN               the local quire command          (default quire)

QUIRE_ROOT=$(cd -P "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# Settings of the host that a stage in a container sees too (`-e NAME` passes the value).
QUIRE_CONTAINER_ENV=(SOURCE_DATE_EPOCH OMP_NUM_THREADS)
QUIRE_FAILED=0 # 1 once a stage reported failed inputs; see quire_finish

quire_die() {
  printf 'quire: %s\n' "$*" >&2
  exit 2
}

# Print a command on one line, each word quoted for the shell (dry runs).
quire_show_command() {
  printf '%q ' "$@" | sed 's/ $//'
  echo
}

quire_version() {
  sed -n 's/^version = "\(.*\)"$/\1/p' "$QUIRE_ROOT/pyproject.toml" | head -n 1
}

# The image family a stage runs in (DESIGN.md "Images").
quire_family() {
  case "$1" in
    binarize | layout-* | extract) echo layout ;;
    recognize-import-loghi) echo loghi ;;
    recognize-*) echo recognition ;;
    synth-*) echo synth ;;
    *) echo tooling ;;
  esac
}

# The engine command, one word per line: the program and its global flags.
quire_engine() {
  local -a words
  read -r -a words <<<"${QUIRE_CONTAINER_ENGINE:-docker}"
  [[ ${#words[@]} -gt 0 ]] || words=(docker)
  printf '%s\n' "${words[@]}"
}

# The engine program's name: docker or podman.
quire_engine_name() {
  basename "$(quire_engine | head -n 1)"
}

quire_image() {
  echo "quire-$(quire_family "$1"):${QUIRE_IMAGE_TAG:-$(quire_version)}"
}

# docker when an engine answers and the stage's image is there, else local.
quire_resolve_runner() {
  local stage=$1 runner=${QUIRE_RUNNER:-auto}
  local -a engine
  mapfile -t engine < <(quire_engine)
  case "$runner" in
    docker | local) echo "$runner" ;;
    auto)
      if command -v "${engine[0]}" >/dev/null 2>&1 &&
        "${engine[@]}" image inspect "$(quire_image "$stage")" >/dev/null 2>&1; then
        echo docker
      else
        echo local
      fi
      ;;
    *) quire_die "--runner must be auto, docker or local, not '$runner'" ;;
  esac
}

# Engine flags for QUIRE_GPU: nothing for none.
quire_gpu_flags() {
  local gpu=${QUIRE_GPU:-none} id
  local -a ids
  [[ "$gpu" == none ]] && return 0
  [[ "$gpu" == all || "$gpu" =~ ^[0-9]+(,[0-9]+)*$ ]] ||
    quire_die "--gpu must be none, all or GPU ids such as 0,1, not '$gpu'"
  if [[ "$(quire_engine_name)" == podman ]]; then
    IFS=, read -r -a ids <<<"$gpu"
    for id in "${ids[@]}"; do printf '%s\n' --device "nvidia.com/gpu=$id"; done
  elif [[ "$gpu" == all ]]; then
    printf '%s\n' --gpus all
  else
    printf '%s\n' --gpus "\"device=$gpu\""
  fi
}

# Folders to mount: for each absolute path argument, the path itself when it is a
# folder, else its nearest existing parent folder; mounted at the same path so that
# paths in lists and results files mean the same inside the container. The folders
# that symbolic links in a folder argument point into are mounted too (a batch of
# linked images reads the same inside).
quire_mounts() {
  local arg dir link
  for arg in "$@"; do
    [[ "$arg" == /?* ]] || continue
    dir=$arg
    while [[ ! -d "$dir" ]]; do dir=$(dirname "$dir"); done
    [[ "$dir" != / ]] && printf '%s\n' "$dir"
    [[ "$dir" == "$arg" ]] || continue
    while IFS= read -r -d '' link; do
      link=$(realpath -e -- "$link" 2>/dev/null) || continue
      [[ -d "$link" ]] || link=$(dirname "$link")
      [[ "$link" != / ]] && printf '%s\n' "$link"
    done < <(find "$dir" -maxdepth 1 -type l -print0)
  done | sort -u
}

# Print, one word per line, the command that runs `quire ARGS…` for STAGE.
quire_stage_command() {
  local stage=$1 dir var
  shift
  if [[ "$(quire_resolve_runner "$stage")" == local ]]; then
    printf '%s\n' "${QUIRE_BIN:-quire}" "$@"
    return 0
  fi
  local -a cmd extra
  mapfile -t cmd < <(quire_engine)
  cmd+=(run --rm -u "$(id -u):$(id -g)")
  read -r -a extra <<<"${QUIRE_CONTAINER_RUN_ARGS:-}"
  cmd+=("${extra[@]}")
  for var in "${QUIRE_CONTAINER_ENV[@]}"; do [[ -z "${!var:-}" ]] || cmd+=(-e "$var"); done
  while IFS= read -r dir; do cmd+=(-v "$dir:$dir"); done < <(quire_mounts "$@")
  while IFS= read -r dir; do cmd+=("$dir"); done < <(quire_gpu_flags)
  cmd+=("$(quire_image "$stage")" quire "$@")
  printf '%s\n' "${cmd[@]}"
}

# quire_run_stage STAGE WORK ARGS…: run `quire ARGS…` as STAGE, logging to
# WORK/logs/STAGE.log and marking WORK/.done/STAGE. A stage that is done is skipped
# unless QUIRE_FORCE=1. Exit status 1 of a stage means some inputs failed: the
# script goes on and QUIRE_FAILED is set. Any other failure stops the script.
quire_run_stage() {
  local stage=$1 work=$2 log marker rc=0 start
  shift 2
  local -a cmd
  quire_resolve_runner "$stage" >/dev/null # die here, not in a subshell, on bad settings
  quire_gpu_flags >/dev/null
  [[ "${QUIRE_DRY_RUN:-0}" == 1 ]] || mkdir -p "$work"
  mapfile -t cmd < <(quire_stage_command "$stage" "$@")
  [[ ${#cmd[@]} -gt 0 ]] || quire_die "stage '$stage': could not build its command"
  if [[ "${QUIRE_DRY_RUN:-0}" == 1 ]]; then
    quire_show_command "${cmd[@]}"
    return 0
  fi
  log="$work/logs/$stage.log"
  marker="$work/.done/$stage"
  if [[ -e "$marker" && "${QUIRE_FORCE:-0}" != 1 ]]; then
    echo "quire: $stage: done before, skipped (--force reruns it)" >&2
    return 0
  fi
  mkdir -p "$work/logs" "$work/.done"
  start=$SECONDS
  echo "quire: $stage …" >&2
  "${cmd[@]}" >"$log" 2>&1 || rc=$?
  case "$rc" in
    0)
      touch "$marker"
      echo "quire: $stage done in $((SECONDS - start)) s" >&2
      ;;
    1)
      QUIRE_FAILED=1
      echo "quire: $stage: some inputs failed; see $log" >&2
      grep -i '^error' "$log" | head -n 5 >&2 || true
      ;;
    *)
      echo "quire: stage '$stage' failed (exit $rc); log: $log" >&2
      tail -n 5 "$log" >&2
      exit "$rc"
      ;;
  esac
}

# quire_run_script SCRIPT ARGS…: run another script of scripts/ (it inherits the runner
# settings); failed inputs (exit 1) set QUIRE_FAILED and this script goes on.
quire_run_script() {
  local rc=0
  "$QUIRE_ROOT/scripts/$1" "${@:2}" || rc=$?
  case "$rc" in
    0) ;;
    1) QUIRE_FAILED=1 ;;
    *) exit "$rc" ;;
  esac
}

# End a script: exit status 1 when any stage reported failed inputs, else 0.
quire_finish() {
  if [[ "$QUIRE_FAILED" == 1 ]]; then
    echo "quire: finished, but some inputs failed (see the logs above)" >&2
    exit 1
  fi
  exit 0
}
