#!/usr/bin/env bash
# Build s2i-bot's wheel from the working tree (tracked and new files of pyproject.toml,
# README.md, bot/ and config/, as they are now) and print its path:
#   scripts/wheel.sh DIR   -> DIR/s2i_bot-<version>-py3-none-any.whl
# The tree is staged in a temporary copy, so no build/ directory is left in the checkout and
# no stale file of an earlier build gets into the wheel. setuptools comes from the package
# index (pip's build isolation), as for anyone who builds the project. The wheel is
# reproducible (SOURCE_DATE_EPOCH): an unchanged tree gives the same bytes, so the bot
# image's build (scripts/images.sh) stays cached. Needs scripts/venv.sh first (its pip).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=$ROOT/.venv/bin/python
[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
[ -x "$PY" ] || { echo "no $PY: run scripts/venv.sh" >&2; exit 1; }
mkdir -p "$1"
out=$(cd "$1" && pwd)
src=$(mktemp -d /var/tmp/s2i-bot-wheel.XXXXXX)
trap 'rm -rf "$src"' EXIT
(cd "$ROOT" && git ls-files --cached --others --exclude-standard -- pyproject.toml README.md bot config) |
  while read -r f; do [ -f "$ROOT/$f" ] && echo "$f"; done |
  (cd "$ROOT" && xargs cp --parents -t "$src")
rm -f "$out"/s2i_bot-*.whl
SOURCE_DATE_EPOCH=315532800 "$PY" -m pip wheel -q --no-deps -w "$out" "$src" >&2
ls "$out"/s2i_bot-*.whl
