#!/usr/bin/env bash
# Create (or refresh) the project's virtualenv in .venv with the bot and its test tools.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
start=$SECONDS
echo "==> python venv"
[ -x .venv/bin/python ] || python3 -m venv .venv
# Reinstall only when pyproject.toml changed since the last install.
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -e "$stamp" ]; then
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e ".[test]"
  rm -f .venv/.installed-*; touch "$stamp"
fi
echo "<== python venv ($((SECONDS - start)) s)"
