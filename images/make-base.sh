#!/usr/bin/env bash
# Makes a minimal Debian image with python3 and nothing else, without any image registry:
# debootstrap a root file system, then `docker import` it.  The test suite builds its
# images on top of these bases; a user with registry access uses python:3.x-slim instead.
#
#   images/make-base.sh SUITE [TAG [PACKAGE,...]]     e.g. images/make-base.sh bookworm
#
# SUITE is a Debian release (bullseye: Python 3.9, bookworm: 3.11, trixie: 3.13).  TAG
# defaults to initsup-base:SUITE.  PACKAGES, comma-separated, are installed beside python3
# (the superlance tests' base has procps: memmon reads memory with `ps`).  The Debian archive comes from DEBIAN_MIRROR, else from
# this machine's apt sources, else deb.debian.org; releases that have left the main
# archive are fetched from archive.debian.org.  Needs root, debootstrap and docker.
set -euo pipefail

suite=${1:?usage: make-base.sh SUITE [TAG]}
tag=${2:-initsup-base:$suite}
packages=python3${3:+,$3}

has_release() {  # has_release MIRROR: does MIRROR carry dists/$suite?
    python3 - "$1/dists/$suite/Release" <<'PY'
import sys, urllib.request
try:
    urllib.request.urlopen(urllib.request.Request(sys.argv[1], method="HEAD"), timeout=20)
except Exception:
    sys.exit(1)
PY
}

mirror=${DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
    # The first Debian archive URI in apt's sources (one-line or deb822 format).
    mirror=$(grep -rhoE '(https?)://[^ ]+/debian/?( |$)' /etc/apt/sources.list \
        /etc/apt/sources.list.d 2>/dev/null | head -n1 | tr -d ' ' || true)
    mirror=${mirror%/}
fi
mirror=${mirror:-http://deb.debian.org/debian}
if ! has_release "$mirror" && has_release http://archive.debian.org/debian; then
    mirror=http://archive.debian.org/debian
fi

root=$(mktemp -d "${TMPDIR:-/tmp}/initsup-base-$suite.XXXXXX")
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase --include="$packages" "$suite" "$root" "$mirror" \
    > "$root.log" 2>&1 || { cat "$root.log" >&2; rm -f "$root.log"; exit 1; }
rm -f "$root.log"
# Package caches and lists are of no use in an image that never runs apt.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar --numeric-owner -C "$root" -c . | docker import \
    --change 'CMD ["python3"]' --message "debootstrap $suite (minbase + $packages)" - "$tag" >/dev/null
echo "$tag"
