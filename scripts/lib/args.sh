# shellcheck shell=bash
# Argument helpers shared by the pipeline scripts; sourcing this also sources the runner.
# shellcheck source=scripts/lib/runner.sh
source "$(dirname "${BASH_SOURCE[0]}")/runner.sh"

# shellcheck disable=SC2034 # read by the scripts that source this
QUIRE_CONFIG=() # --config FILE, to pass on to every stage and script (empty without)

# quire_common_option ARGS…: if $1 is a flag every script takes, apply it and set
# QUIRE_SHIFT to the number of words it used (else QUIRE_SHIFT=0). -h / --help calls
# the script's own usage function and exits.
quire_common_option() {
  QUIRE_SHIFT=0
  case "$1" in
    -h | --help)
      usage
      exit 0
      ;;
    --config)
      [[ $# -ge 2 && "$2" != --* ]] || quire_die "$1 needs a file"
      # shellcheck disable=SC2034
      QUIRE_CONFIG=(--config "$(quire_abspath "$2")")
      QUIRE_SHIFT=2
      ;;
    --runner | --gpu)
      [[ $# -ge 2 && "$2" != --* ]] || quire_die "$1 needs a value"
      if [[ "$1" == --runner ]]; then export QUIRE_RUNNER=$2; else export QUIRE_GPU=$2; fi
      QUIRE_SHIFT=2
      ;;
    --dry-run) export QUIRE_DRY_RUN=1 QUIRE_SHIFT=1 ;;
    --force) export QUIRE_FORCE=1 QUIRE_SHIFT=1 ;;
  esac
}

quire_common_help() {
  cat <<'HELP'
Common options:
  --config FILE        YAML file with a section per stage (see docs/configuration.md)
  --runner MODE        auto (default), docker or local
  --gpu GPUS           none (default), all, or ids such as 0,1
  --force              rerun stages that finished before
  --dry-run            print the stage commands instead of running them
  -h, --help           this help
HELP
}

# An absolute path, whether or not it exists yet.
quire_abspath() {
  realpath -m -- "$1"
}

# quire_need_args N ARGS…: exactly N positional arguments, else the usage and exit 2.
quire_need_args() {
  local want=$1
  shift
  if [[ $# -ne $want ]]; then
    usage >&2
    exit 2
  fi
}

# quire_need_images PATH: PATH is an image or a folder with at least one image in it.
quire_need_images() {
  quire_need_path -e "$1" "no such folder or image"
  [[ "${QUIRE_DRY_RUN:-0}" == 1 || ! -d "$1" ]] && return 0
  local file
  for file in "$1"/*; do
    [[ -f "$file" && "${file,,}" =~ \.(png|jpe?g|tiff?|bmp|webp)$ ]] && return 0
  done
  quire_die "$1: no images in this folder (png, jpg, tif, bmp, webp)"
}

# quire_need_output PATH: PATH is a folder or does not exist yet (then it is made).
quire_need_output() {
  [[ ! -e "$1" || -d "$1" ]] || quire_die "$1: not a folder (the output folder to write)"
}

# quire_need_name OPTION NAME: die unless NAME is a plain file name (a folder made from
# it stays inside OUT).
quire_need_name() {
  [[ "$2" =~ ^[A-Za-z0-9_][A-Za-z0-9._-]*$ ]] ||
    quire_die "$1 '$2': a name is letters, digits, '.', '-' and '_' (no '/', no leading '.')"
}

# quire_need_path TEST PATH PROBLEM: die with "PATH: PROBLEM" unless [[ TEST PATH ]] holds
# (TEST: -e, -d, -f or -s). A dry run checks nothing: an earlier stage would make PATH.
quire_need_path() {
  [[ "${QUIRE_DRY_RUN:-0}" == 1 ]] && return 0
  case "$1" in
    -e) [[ -e "$2" ]] ;;
    -d) [[ -d "$2" ]] ;;
    -f) [[ -f "$2" ]] ;;
    -s) [[ -s "$2" ]] ;;
    *) false ;;
  esac || quire_die "$2: $3"
}
