#!/usr/bin/env bash
# Check the system packages quire's set-up needs; name the package for each one missing.
set -euo pipefail

python=${1:-python3}
missing=()

if ! command -v "$python" >/dev/null 2>&1; then
  missing+=("Python 3.11 or newer ($python not found): apt-get install python3")
elif ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  missing+=("Python 3.11 or newer ($python is $("$python" -V 2>&1)): apt-get install python3")
elif ! "$python" -c 'import venv, ensurepip' >/dev/null 2>&1; then
  missing+=("the Python venv module: apt-get install python3-venv")
fi
command -v git >/dev/null 2>&1 || missing+=("git: apt-get install git")
# quire synth text (and its tests) draw text with system fonts.
if ! find /usr/share/fonts /usr/local/share/fonts -iname '*.ttf' -print -quit 2>/dev/null | grep -q .; then
  missing+=("fonts for quire synth text: apt-get install fonts-dejavu-core fonts-liberation2")
fi

if [[ ${#missing[@]} -gt 0 ]]; then
  printf 'quire set-up: missing system package: %s\n' "${missing[@]}" >&2
  exit 1
fi
