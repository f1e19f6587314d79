#!/usr/bin/env bash
# Make the base image `make test-images` builds on, without a registry: a minimal
# Debian bookworm from debootstrap, imported into the engine. Does nothing when the
# image is there already. Needs root and debootstrap (apt-get install debootstrap).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/lib/runner.sh
source "$here/../scripts/lib/runner.sh"

image=${1:?usage: test-base.sh IMAGE (e.g. localhost/quire-testbase:bookworm)}
mapfile -t engine < <(quire_engine)
command -v "${engine[0]}" >/dev/null || quire_die "no ${engine[0]} (set QUIRE_CONTAINER_ENGINE)"
"${engine[@]}" image inspect "$image" >/dev/null 2>&1 && exit 0
command -v debootstrap >/dev/null || quire_die "no debootstrap: apt-get install debootstrap"
[[ $(id -u) == 0 ]] || quire_die "debootstrap needs root"
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
echo "quire: debootstrap bookworm for $image …" >&2
debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >/dev/null
tar -C "$root" -c . | "${engine[@]}" import - "$image" >/dev/null
