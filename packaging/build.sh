#!/usr/bin/env bash
# Builds dist/specula/ (one folder) with PyInstaller and runs its self-check offscreen.
#   bash packaging/build.sh [DIST_DIR]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dist="${1:-$root/dist}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python -m PyInstaller --noconfirm --log-level WARN --distpath "$dist" --workpath "$work" "$root/packaging/specula.spec"
QT_QPA_PLATFORM=offscreen "$dist/specula/specula" --self-test
