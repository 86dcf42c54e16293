#!/usr/bin/env bash
# Build s2i-bot's own images and push them to the local registry:
#   runner  builders/runner/Containerfile -> 127.0.0.1:5000/s2i-bot/runner:latest (Job builds;
#           :$S2I_DEV_RUNNER_TAG instead when set)
#   bot     builders/bot/Containerfile    -> 127.0.0.1:5000/s2i-bot/bot:latest    (manifests/)
# Usage: scripts/images.sh [runner|bot]...   (both when none is named)
#
# Each context is staged in a temporary directory. The runner's: its Containerfile, the bot
# package (its tracked and new files under bot/, as the working tree has them), what it
# imports (pydantic, PyYAML) copied from the bot's virtualenv, and the s2i, crane, syft and
# cosign binaries (scripts/provision.sh builds them from the Go module proxy, cached by version
# in ~/.cache/s2i-bot and named in $STATE/testenv.json). The bot's:
# its Containerfile and wheels: s2i-bot's own (scripts/wheel.sh, from the working tree) and
# its dependencies' at the versions of the virtualenv the tests ran with (from the package
# index or pip's cache; the image build reaches no index, it installs the wheel as a user
# does, with pip --no-index). Idempotent: an unchanged context is a cached build and a no-op
# push. Needs scripts/provision.sh and scripts/venv.sh first.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE=${S2I_DEV_STATE:-/var/lib/s2i-bot-dev}
REGISTRY=127.0.0.1:${S2I_DEV_REGISTRY_PORT:-5000}
PY=$ROOT/.venv/bin/python
docker=$(cat "$STATE/docker-cli" 2>/dev/null || echo docker)
[ -x "$PY" ] || { echo "no $PY: run scripts/venv.sh" >&2; exit 1; }
[ -s "$STATE/registry-password" ] || { echo "no registry password: run scripts/provision.sh" >&2; exit 1; }

# stage_python CTX REQUIREMENT...: the bot package and the requirements' distributions.
stage_python() {
  local ctx=$1
  shift
  mkdir -p "$ctx/site-packages"
  (cd "$ROOT" && git ls-files --cached --others --exclude-standard -- bot) |
    while read -r f; do [ -f "$ROOT/$f" ] && echo "$f"; done |
    (cd "$ROOT" && xargs cp --parents -t "$ctx/site-packages")
  "$PY" - "$ctx/site-packages" "$@" <<'PY'
import importlib.metadata as md, re, shutil, sys
from pathlib import Path

def name_of(req: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", req)
    assert match, req
    return match.group(1)

dest, todo, seen = Path(sys.argv[1]), [name_of(r) for r in sys.argv[2:]], set()
while todo:
    name = todo.pop()
    try:
        dist = md.distribution(name)
    except md.PackageNotFoundError:
        # Only a requirement whose environment marker does not hold here is absent; the
        # image build's import check catches anything else.
        print(f"not installed, skipped: {name}", file=sys.stderr)
        continue
    key = re.sub(r"[-_.]+", "-", dist.metadata["Name"]).lower()
    if key in seen:
        continue
    seen.add(key)
    for f in dist.files or []:
        src = Path(dist.locate_file(f)).resolve()
        if ".." in f.parts or "__pycache__" in f.parts or not src.is_file():
            continue
        (dest / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest / f)
    todo += [name_of(r) for r in dist.requires or [] if "extra ==" not in r]
print("staged:", ", ".join(sorted(seen)))
PY
}

# build_and_push NAME CTX [TAG]: build CTX/Containerfile as s2i-bot/NAME:TAG (latest) and push it.
build_and_push() {
  local name=$1 ctx=$2 image=s2i-bot/$1:${3:-latest} cfg
  # Deterministic timestamps: an unchanged context hits the build cache.
  find "$ctx" -exec touch -h -d @0 {} +
  DOCKER_BUILDKIT=0 "$docker" build -q -f "$ctx/Containerfile" -t "$image" -t "$REGISTRY/$image" "$ctx"
  cfg=$(mktemp -d)
  (umask 077; jq -n --arg r "$REGISTRY" \
    --arg a "$(printf '%s:%s' s2ibot "$(cat "$STATE/registry-password")" | base64 -w0)" \
    '{auths: {($r): {auth: $a}}}' >"$cfg/config.json")
  DOCKER_CONFIG=$cfg "$docker" push -q "$REGISTRY/$image"
  rm -rf "$cfg"
}

# tool NAME: the path of the binary scripts/provision.sh cached for NAME (testenv.json), or exit.
tool() {
  local path
  path=$(jq -r --arg n "$1" '.[$n] // empty' "$STATE/testenv.json")
  [ -n "$path" ] && [ -x "$path" ] || {
    echo "no $1 binary${path:+ at $path} (from $STATE/testenv.json): run scripts/provision.sh" >&2
    exit 1
  }
  echo "$path"
}

runner() {
  local ctx name path
  ctx=$(mktemp -d /var/tmp/runner-image.XXXXXX)
  cp "$ROOT/builders/runner/Containerfile" "$ctx/Containerfile"
  for name in s2i crane syft cosign; do
    path=$(tool "$name") || { rm -rf "$ctx"; exit 1; }
    cp "$path" "$ctx/$name"
  done
  stage_python "$ctx" pydantic PyYAML
  # S2I_DEV_RUNNER_TAG: a tag of this working tree's own (tests/support/kube_cluster.py),
  # so that runner images built from other working trees do not replace it under its tests.
  build_and_push runner "$ctx" "${S2I_DEV_RUNNER_TAG:-latest}"
  rm -rf "$ctx"
}

bot() {
  local ctx wheel crane
  ctx=$(mktemp -d /var/tmp/bot-image.XXXXXX)
  cp "$ROOT/builders/bot/Containerfile" "$ctx/Containerfile"
  crane=$(jq -r '.crane // empty' "$STATE/testenv.json")
  [ -x "$crane" ] || { echo "no crane in $STATE/testenv.json: run scripts/provision.sh" >&2; exit 1; }
  cp "$crane" "$ctx/crane"
  wheel=$(bash "$ROOT/scripts/wheel.sh" "$ctx/wheels")
  "$PY" -m pip freeze --exclude-editable >"$ctx/constraints.txt"
  "$PY" -m pip wheel -q -c "$ctx/constraints.txt" -w "$ctx/wheels" "$wheel"
  rm "$ctx/constraints.txt"
  build_and_push bot "$ctx"
  rm -rf "$ctx"
}

for target in "${@:-runner bot}"; do
  for name in $target; do
    case $name in
      runner | bot) "$name" ;;
      *) echo "usage: $0 [runner|bot]..." >&2; exit 2 ;;
    esac
  done
done
