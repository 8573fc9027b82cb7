#!/usr/bin/env bash
# Installs the Debian packages the toolkit's main job and tests need, when missing and when we can
# (root + apt-get). Usage: build/ensure-deps.sh [package …]; with no arguments, the defaults below.
#   dataset-fashion-mnist  real data for the quickstart and the tests (/usr/share/datasets/fashion-mnist)
#   fonts-dejavu-core      fonts for headless PNG plots (without them charts have no text)
set -uo pipefail
pkgs=("$@")
[ ${#pkgs[@]} -gt 0 ] || pkgs=(dataset-fashion-mnist fonts-dejavu-core)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "note: missing Debian packages: ${missing[*]} (install them with: sudo apt-get install -y ${missing[*]})" >&2
  exit 0
fi
echo "installing Debian packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 \
  || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq "${missing[@]}" >/dev/null; } \
  || { echo "could not install: ${missing[*]}" >&2; exit 1; }
