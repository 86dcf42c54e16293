#!/usr/bin/env bash
# Build the runner image for Kubernetes Job builds (builders/runner/Containerfile) and push
# it to the local registry as 127.0.0.1:5000/s2i-bot/runner:latest.
#
# The context is staged in a temporary directory: the Containerfile, the bot package (its
# tracked files, as the working tree has them), the runtime dependencies the runner imports
# copied from the bot's virtualenv (no package index is reached), and the s2i binary that
# scripts/provision.sh installed. Idempotent: an unchanged context is a cached build and a
# no-op push. Needs scripts/provision.sh (dockerd, registry) and scripts/venv.sh (.venv).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE=${S2I_BOT_STATE:-/var/lib/s2i-bot-dev}
REGISTRY=127.0.0.1:${S2I_BOT_REGISTRY_PORT:-5000}
IMAGE=s2i-bot/runner:latest
PY=$ROOT/.venv/bin/python

docker=$(cat "$STATE/docker-cli" 2>/dev/null || echo docker)
s2i=$(jq -r .s2i "$STATE/testenv.json")
[ -x "$s2i" ] || { echo "no s2i at $s2i: run scripts/provision.sh" >&2; exit 1; }
[ -x "$PY" ] || { echo "no $PY: run scripts/venv.sh" >&2; exit 1; }

ctx=$(mktemp -d /var/tmp/runner-image.XXXXXX)
cfg=$(mktemp -d)
trap 'rm -rf "$ctx" "$cfg"' EXIT

cp "$ROOT/builders/runner/Containerfile" "$ctx/Containerfile"
cp "$s2i" "$ctx/s2i"
mkdir -p "$ctx/site-packages"
# The bot package: tracked and new files under bot/ (not caches).
(cd "$ROOT" && git ls-files --cached --others --exclude-standard -- bot) |
  while read -r f; do [ -f "$ROOT/$f" ] && echo "$f"; done |
  (cd "$ROOT" && xargs cp --parents -t "$ctx/site-packages")
# The runner's third-party imports, with their dist-info, from the virtualenv.
"$PY" - "$ctx/site-packages" <<'PY'
import importlib.metadata as md, shutil, sys
from pathlib import Path
dest = Path(sys.argv[1])
seen: set[str] = set()
todo = ["pydantic", "PyYAML"]
while todo:
    name = todo.pop()
    dist = md.distribution(name)
    if dist.metadata["Name"].lower() in seen:
        continue
    seen.add(dist.metadata["Name"].lower())
    for f in dist.files or []:
        src = Path(dist.locate_file(f)).resolve()
        if ".." in f.parts or "__pycache__" in f.parts or not src.is_file():
            continue
        (dest / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest / f)
    for req in dist.requires or []:
        if "extra ==" not in req:
            todo.append(req.split(";")[0].split("[")[0].split("<")[0].split(">")[0].split("=")[0].split("!")[0].split("~")[0].strip())
print("staged:", ", ".join(sorted(seen)))
PY
# Deterministic timestamps: an unchanged context hits the build cache.
find "$ctx" -exec touch -h -d @0 {} +

DOCKER_BUILDKIT=0 "$docker" build -q -f "$ctx/Containerfile" -t "$IMAGE" -t "$REGISTRY/$IMAGE" "$ctx"
(umask 077; jq -n --arg r "$REGISTRY" \
  --arg a "$(printf '%s:%s' s2ibot "$(cat "$STATE/registry-password")" | base64 -w0)" \
  '{auths: {($r): {auth: $a}}}' >"$cfg/config.json")
DOCKER_CONFIG=$cfg "$docker" push -q "$REGISTRY/$IMAGE"
