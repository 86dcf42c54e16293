#!/usr/bin/env bash
# Provision a fresh Debian 12 machine (as root) for s2i-bot development and tests:
# packages, the real s2i CLI, dockerd, a local authenticated registry, a locally made
# debian:bookworm base image, the builder images, PostgreSQL.
# Idempotent: a second run only checks and takes a few seconds.
#
# Env: S2I_DEV_CACHE (default /root/.cache/s2i-bot), S2I_DEV_STATE (default
# /var/lib/s2i-bot-dev), S2I_DEV_REGISTRY_PORT (default 5000),
# S2I_DEV_DEBIAN_MIRROR / S2I_DEV_DEBIAN_SECURITY_MIRROR (default: from host apt sources).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${S2I_DEV_CACHE:-/root/.cache/s2i-bot}
STATE=${S2I_DEV_STATE:-/var/lib/s2i-bot-dev}
PORT=${S2I_DEV_REGISTRY_PORT:-5000}
PG_PORT=${S2I_DEV_POSTGRES_PORT:-5433}
REGISTRY=127.0.0.1:$PORT
REG_USER=s2ibot
S2I_VERSION=v1.6.3
S2I_DIR=$CACHE/s2i-$S2I_VERSION
# go-containerregistry's crane: the registry tool of the Kubernetes "native" Job layout (it
# appends the application layer to the builder image in the registry) and of the bot (it
# resolves a builder tag to its digest). Shipped in the runner and bot images.
CRANE_VERSION=v0.22.1
CRANE_DIR=$CACHE/crane-$CRANE_VERSION
# The supply chain of a pushed image (bot/runner/supply_chain.py): syft lists what it holds
# (SPDX), cosign signs it and attaches the SBOM and the provenance. Both from the Go module
# proxy, cached by version like crane; shipped in the runner image.
SYFT_VERSION=v1.57.1
COSIGN_VERSION=v3.1.3
# toolchain fetched from the Go module proxy when the host has no Go >= 1.21
GO_FALLBACK=go1.26.2
LOGS=$STATE/logs
# wrk: the load generator of bench/intake.py; postgresql: the store's tests on PostgreSQL.
APT_PACKAGES=(docker.io docker-registry apache2-utils debootstrap git buildah skopeo curl jq wrk
  postgresql)

mkdir -p "$CACHE" "$STATE" "$LOGS"
export DEBIAN_FRONTEND=noninteractive

# step, wait_for, pid_alive
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"

# ---------------------------------------------------------------- apt
step_apt() {
  local missing=() p
  # npm: bench/incremental.py resolves its Node application's lockfile with the host's npm.
  command -v npm >/dev/null || APT_PACKAGES+=(npm)
  for p in "${APT_PACKAGES[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then echo "all packages present"; return 0; fi
  echo "installing: ${missing[*]}"
  # Keep apt from starting docker/containerd/registry services: we start our own.
  # (not `local`: the EXIT trap runs after the function has returned)
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get update
  apt-get install -y --no-install-recommends "${missing[@]}"
}

# ---------------------------------------------------------------- browser
step_browser() {
  # Debian's Chromium, which the build page's browser tests drive through Playwright
  # (executable_path=/usr/bin/chromium): `playwright install` would download a browser of its own.
  if dpkg -s chromium >/dev/null 2>&1; then chromium --version; return 0; fi
  apt-get update
  apt-get install -y --no-install-recommends chromium
  chromium --version
}

# ---------------------------------------------------------------- s2i
go_bin() {
  # Prints a go binary that can build s2i (needs >= 1.21 for toolchain switching).
  local go
  go=$(command -v go || true)
  [ -x /usr/local/go/bin/go ] && go=${go:-/usr/local/go/bin/go}
  if [ -n "$go" ] && "$go" version | grep -Eq 'go1\.(2[1-9]|[3-9][0-9])'; then
    echo "$go"; return
  fi
  # No usable Go: fetch a toolchain zip from the module proxy (what GOTOOLCHAIN=auto does).
  local dir=$CACHE/go-$GO_FALLBACK
  if [ ! -x "$dir/bin/go" ]; then
    local mod=golang.org/toolchain@v0.0.1-$GO_FALLBACK.linux-amd64 tmp
    tmp=$(mktemp -d)
    curl -fsSL -o "$tmp/go.zip" "https://proxy.golang.org/golang.org/toolchain/@v/v0.0.1-$GO_FALLBACK.linux-amd64.zip"
    python3 -m zipfile -e "$tmp/go.zip" "$tmp/x"
    rm -rf "$dir"; mv "$tmp/x/$mod" "$dir"; rm -rf "$tmp"
    chmod +x "$dir"/bin/* "$dir"/pkg/tool/*/*   # zipfile drops the mode bits
  fi
  echo "$dir/bin/go"
}

step_s2i() {
  if [ -x "$S2I_DIR/s2i" ] && "$S2I_DIR/s2i" version | grep -q "$S2I_VERSION"; then
    echo "cached: $S2I_DIR/s2i"
  else
    # `go install .../cmd/s2i@v1.6.3` fails here: the module proxy answers 403 for
    # @v/list, which `go install` needs to check deprecation. A throwaway wrapper module
    # + `go get` + `go build` resolves exactly the same versions (s2i's go.mod via MVS).
    local go wrap
    go=$(go_bin); wrap=$(mktemp -d)
    mkdir -p "$S2I_DIR"
    cd "$wrap"
    "$go" mod init s2i-wrapper
    printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/openshift/source-to-image/cmd/s2i"\n' >tools.go
    export GOTOOLCHAIN=auto GOFLAGS=-buildvcs=false CGO_ENABLED=0
    "$go" get "github.com/openshift/source-to-image/cmd/s2i@$S2I_VERSION"
    local v=github.com/openshift/source-to-image/pkg/version
    "$go" build -trimpath -o "$S2I_DIR/s2i.tmp" \
      -tags 'exclude_graphdriver_btrfs exclude_graphdriver_devicemapper containers_image_openpgp' \
      -ldflags "-X $v.versionFromGit=$S2I_VERSION -X $v.majorFromGit=1 -X $v.minorFromGit=6" \
      github.com/openshift/source-to-image/cmd/s2i
    mv "$S2I_DIR/s2i.tmp" "$S2I_DIR/s2i"
    cd /; rm -rf "$wrap"
  fi
  ln -sfn "$S2I_DIR/s2i" /usr/local/bin/s2i
  s2i version
}

# ---------------------------------------------------------------- crane
step_crane() {
  if [ -x "$CRANE_DIR/crane" ] && "$CRANE_DIR/crane" version | grep -qx "$CRANE_VERSION"; then
    echo "cached: $CRANE_DIR/crane"
  else
    local go
    go=$(go_bin)
    mkdir -p "$CRANE_DIR"
    # Static (the runner image and the bot's may be any Linux); `crane version` prints the
    # module version go install records.
    GOTOOLCHAIN=auto GOFLAGS=-buildvcs=false CGO_ENABLED=0 GOBIN="$CRANE_DIR/bin.tmp" \
      "$go" install -trimpath "github.com/google/go-containerregistry/cmd/crane@$CRANE_VERSION"
    mv "$CRANE_DIR/bin.tmp/crane" "$CRANE_DIR/crane"
    rmdir "$CRANE_DIR/bin.tmp"
  fi
  ln -sfn "$CRANE_DIR/crane" /usr/local/bin/crane
  crane version
}

# ---------------------------------------------------------------- syft, cosign
# go_tool NAME MODULE/cmd/NAME VERSION: `go install` once into $CACHE/NAME-VERSION (static),
# linked into /usr/local/bin. Large dependency trees: minutes on a fresh machine, then cached.
go_tool() {
  local name=$1 package=$2 version=$3 dir=$CACHE/$1-$3 go
  if [ -x "$dir/$name" ]; then
    echo "cached: $dir/$name"
  else
    go=$(go_bin)
    mkdir -p "$dir"
    GOTOOLCHAIN=auto GOFLAGS=-buildvcs=false CGO_ENABLED=0 GOBIN="$dir/bin.tmp" \
      "$go" install -trimpath -ldflags='-s -w' "$package@$version"
    mv "$dir/bin.tmp/$name" "$dir/$name"
    rmdir "$dir/bin.tmp"
  fi
  ln -sfn "$dir/$name" "/usr/local/bin/$name"
}

step_supply_chain_tools() {
  go_tool syft github.com/anchore/syft/cmd/syft "$SYFT_VERSION"
  go_tool cosign github.com/sigstore/cosign/v3/cmd/cosign "$COSIGN_VERSION"
}

# ---------------------------------------------------------------- dockerd
# /usr/local/bin/docker (if any) may be a newer client than Debian's dockerd 20.10;
# it negotiates the API version down. Fall back to Debian's client if it cannot.
docker_cli() {
  local c
  for c in "$(command -v docker || true)" /usr/bin/docker; do
    [ -n "$c" ] && [ -x "$c" ] && "$c" version >/dev/null 2>&1 && { echo "$c"; return; }
  done
  echo /usr/bin/docker
}

step_dockerd() {
  if ! /usr/bin/docker info >/dev/null 2>&1; then
    if pid_alive "$STATE/dockerd.pid"; then
      echo "dockerd (pid $(cat "$STATE/dockerd.pid")) running but not answering yet"
    else
      echo "starting dockerd, log $STATE/dockerd.log"
      # setsid + closed stdio: the daemon must not hold our step log or caller's pipe.
      setsid dockerd --host unix:///var/run/docker.sock --data-root /var/lib/docker \
        --pidfile "$STATE/dockerd.pid" >>"$STATE/dockerd.log" 2>&1 </dev/null &
    fi
    wait_for 60 /usr/bin/docker info || { tail -n 20 "$STATE/dockerd.log"; return 1; }
  fi
  local cli; cli=$(docker_cli)
  echo "docker client: $cli"
  "$cli" version --format 'client {{.Client.Version}} (API {{.Client.APIVersion}}), server {{.Server.Version}} (API {{.Server.APIVersion}})'
  echo "$cli" >"$STATE/docker-cli"
}

# ---------------------------------------------------------------- registry
reg_code() {  # HTTP status of GET /v2/ (args: extra curl options)
  curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$@" "http://$REGISTRY/v2/" || true
}
registry_ok() {
  [ "$(reg_code)" = 401 ] && [ "$(reg_code -u "$REG_USER:$(cat "$STATE/registry-password")")" = 200 ]
}
registry_stop() {
  pid_alive "$STATE/registry.pid" || return 0
  kill "$(cat "$STATE/registry.pid")"
  wait_for 15 sh -c "! kill -0 $(cat "$STATE/registry.pid")"
}

step_registry() {
  local dir=$STATE/registry pwf=$STATE/registry-password
  mkdir -p "$dir/data"
  if [ ! -s "$pwf" ]; then
    (umask 077; head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$pwf")
  fi
  chmod 600 "$pwf"
  # (Re)write htpasswd only when it does not match the persisted password.
  if ! htpasswd -vb "$dir/htpasswd" "$REG_USER" "$(cat "$pwf")" >/dev/null 2>&1; then
    htpasswd -Bbn "$REG_USER" "$(cat "$pwf")" >"$dir/htpasswd.tmp"
    mv "$dir/htpasswd.tmp" "$dir/htpasswd"
    registry_stop   # it reads the htpasswd file at start-up only
  fi
  [ -s "$dir/http-secret" ] || (umask 077; head -c 32 /dev/urandom | base64 >"$dir/http-secret")
  cat >"$dir/config.yml.tmp" <<EOF
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
http:
  addr: $REGISTRY
  secret: $(cat "$dir/http-secret")
auth:
  htpasswd:
    realm: s2i-bot
    path: $dir/htpasswd
EOF
  if ! cmp -s "$dir/config.yml.tmp" "$dir/config.yml"; then
    mv "$dir/config.yml.tmp" "$dir/config.yml"; registry_stop
  else
    rm "$dir/config.yml.tmp"
  fi
  registry_ok && { echo "registry answering on $REGISTRY"; return 0; }
  if [ "$(reg_code)" != 000 ] && ! pid_alive "$STATE/registry.pid"; then
    echo "something else answers on $REGISTRY (not our registry); set S2I_DEV_REGISTRY_PORT"
    return 1
  fi
  registry_stop
  echo "starting docker-registry, log $STATE/registry.log"
  setsid docker-registry serve "$dir/config.yml" >>"$STATE/registry.log" 2>&1 </dev/null &
  echo $! >"$STATE/registry.pid"
  WAIT_PIDFILE=$STATE/registry.pid wait_for 30 registry_ok || { tail -n 20 "$STATE/registry.log"; return 1; }
  echo "registry answering on $REGISTRY (401 anonymous, 200 with credentials)"
}

# ---------------------------------------------------------------- containers config
# Mark the local registry insecure (plain HTTP) for containers/image users: s2i (which
# otherwise warns "could not inspect the builder image" because it tries HTTPS), buildah,
# skopeo. s2i then reads credentials from $DOCKER_CONFIG/config.json.
step_containers_conf() {
  local f=/etc/containers/registries.conf.d/50-s2i-bot.conf
  mkdir -p "$(dirname "$f")"
  printf '# written by s2i-bot scripts/provision.sh\n[[registry]]\nlocation = "%s"\ninsecure = true\n' "$REGISTRY" >"$f.tmp"
  mv "$f.tmp" "$f"
}

# ---------------------------------------------------------------- base image
# First URI of the host's apt sources that ends in $1 (e.g. /debian), else $2.
host_mirror() {
  local m
  m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
      grep -Eo 'https?://[^ ]+' | sed 's:/*$::' | grep -E "$1\$" | head -n 1 || true)
  echo "${m:-$2}"
}

step_base_image() {
  local mirror security tar key docker
  docker=$(cat "$STATE/docker-cli")
  mirror=${S2I_DEV_DEBIAN_MIRROR:-$(host_mirror /debian http://deb.debian.org/debian)}
  security=${S2I_DEV_DEBIAN_SECURITY_MIRROR:-$(host_mirror /debian-security http://deb.debian.org/debian-security)}
  mkdir -p "$CACHE/rootfs"
  # Reuse the newest cached debootstrap tarball; delete it to refresh.
  tar=$(ls -1 "$CACHE"/rootfs/debian-bookworm-minbase-*.tar 2>/dev/null | sort | tail -n 1 || true)
  if [ -z "$tar" ]; then
    tar=$CACHE/rootfs/debian-bookworm-minbase-$(date +%Y%m%d).tar
    local rootfs; rootfs=$(mktemp -d /var/tmp/rootfs.XXXXXX)
    echo "debootstrap from $mirror"
    debootstrap --variant=minbase bookworm "$rootfs" "$mirror"
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" --numeric-owner -cf "$tar.tmp" .
    mv "$tar.tmp" "$tar"; rm -rf "$rootfs"
  fi
  # The image content = cached rootfs + host CA bundle + apt sources: key on all three.
  local sources
  sources=$(printf 'deb %s bookworm main\ndeb %s bookworm-updates main\ndeb %s bookworm-security main\n' \
    "$mirror" "$mirror" "$security")
  key=$(basename "$tar" .tar | sed 's/^debian-bookworm-//')-$( (cat /etc/ssl/certs/ca-certificates.crt; echo "$sources") | sha256sum | cut -c1-12)
  if [ "$("$docker" image inspect -f '{{index .Config.Labels "org.s2i-bot.base"}}' debian:bookworm 2>/dev/null)" = "$key" ]; then
    echo "debian:bookworm up to date ($key)"; return 0
  fi
  local work; work=$(mktemp -d /var/tmp/rootfs.XXXXXX)
  tar -C "$work" --numeric-owner -xf "$tar"
  # HTTPS here goes through a CA Debian's bundle lacks. Install the host bundle both as
  # the bundle itself and as a local CA, so that when a later image installs the
  # ca-certificates package, update-ca-certificates regenerates a bundle that keeps it.
  mkdir -p "$work/usr/local/share/ca-certificates" "$work/etc/ssl/certs"
  cp /etc/ssl/certs/ca-certificates.crt "$work/etc/ssl/certs/ca-certificates.crt"
  cp /etc/ssl/certs/ca-certificates.crt "$work/usr/local/share/ca-certificates/host-ca.crt"
  rm -f "$work/etc/apt/sources.list.d/"*
  echo "$sources" >"$work/etc/apt/sources.list"
  # Image hygiene as in Debian's official images: no services, no host identity.
  printf '#!/bin/sh\nexit 101\n' >"$work/usr/sbin/policy-rc.d"; chmod +x "$work/usr/sbin/policy-rc.d"
  : >"$work/etc/resolv.conf"; : >"$work/etc/hostname"
  tar -C "$work" --numeric-owner -c . | "$docker" import \
    --change "LABEL org.s2i-bot.base=$key" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' - debian:bookworm
  rm -rf "$work"
  # In docker both names are the same reference; tag explicitly anyway for clarity.
  "$docker" tag debian:bookworm docker.io/library/debian:bookworm
  "$docker" tag debian:bookworm "debian:bookworm-$key"
  # Drop tags of earlier base keys so old rootfs images can be pruned.
  "$docker" image ls --format '{{.Repository}}:{{.Tag}}' debian | grep -E '^debian:bookworm-minbase-' |
    grep -vx "debian:bookworm-$key" | xargs -r "$docker" rmi || true
  "$docker" image ls debian
}

# ---------------------------------------------------------------- builders
# Builders in dependency order: a builder whose Dockerfile FROMs s2i-bot/<x> comes after x.
builder_order() {
  local done=" " progress name dep ok
  local all=()
  for d in "$ROOT"/builders/*; do [ -f "$d/Dockerfile" ] && all+=("$(basename "$d")"); done
  while :; do
    progress=0
    for name in "${all[@]}"; do
      case "$done" in *" $name "*) continue ;; esac
      ok=1
      for dep in $(grep -Eio '^FROM[[:space:]]+[^[:space:]]*s2i-bot/[a-z0-9._-]+' "$ROOT/builders/$name/Dockerfile" | sed 's:.*s2i-bot/::'); do
        case "$done" in *" $dep "*) ;; *) ok=0 ;; esac
      done
      [ $ok = 1 ] && { echo "$name"; done="$done$name "; progress=1; }
    done
    [ $progress = 1 ] || break
  done
}

# A throwaway DOCKER_CONFIG holding the registry auth: never touch root's ~/.docker.
# The caller removes the directory.
make_docker_config() {
  local d; d=$(mktemp -d)
  (umask 077; jq -n --arg r "$REGISTRY" --arg a "$(printf '%s:%s' "$REG_USER" "$(cat "$STATE/registry-password")" | base64 -w0)" \
    '{auths: {($r): {auth: $a}}}' >"$d/config.json")
  echo "$d"
}

step_builders() {
  local docker name
  docker=$(cat "$STATE/docker-cli")
  cfg=$(make_docker_config)   # global: the EXIT trap needs it
  trap 'rm -rf "$cfg"' EXIT
  for name in $(builder_order); do
    echo "--- building $name"
    # DOCKER_BUILDKIT=0: the legacy builder is what Debian's dockerd 20.10 + a client
    # without buildx give; say so explicitly so the behaviour does not depend on plugins.
    DOCKER_BUILDKIT=0 "$docker" build -q -t "s2i-bot/$name:latest" -t "$REGISTRY/s2i-bot/$name:latest" "$ROOT/builders/$name"
    DOCKER_CONFIG=$cfg "$docker" push -q "$REGISTRY/s2i-bot/$name:latest"
  done
  "$docker" image ls "s2i-bot/*"
}

# ---------------------------------------------------------------- testenv.json
# ---------------------------------------------------------------- postgres
# A PostgreSQL server of Debian's package for the store's tests: its own cluster in the state
# directory, owned by the postgres user, on loopback only (and a socket in the state
# directory), trust authentication (nothing but this machine reaches it). Debian's own cluster
# (pg_ctlcluster) is left alone.
step_postgres() {
  local bin dir=$STATE/postgres run=$STATE/postgres-run
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  mkdir -p "$run"; chown postgres:postgres "$run"
  if [ ! -s "$dir/PG_VERSION" ]; then
    mkdir -p "$dir"; chown postgres:postgres "$dir"; chmod 700 "$dir"
    runuser -u postgres -- "$bin/initdb" -D "$dir" -U postgres -A trust -E UTF8 --locale=C.UTF-8
  fi
  if ! runuser -u postgres -- "$bin/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
    runuser -u postgres -- "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 \
      -o "-p $PG_PORT -k $run -c listen_addresses=127.0.0.1" start
  fi
  runuser -u postgres -- "$bin/pg_isready" -h 127.0.0.1 -p "$PG_PORT"
  echo "postgresql://postgres@127.0.0.1:$PG_PORT/postgres" >"$STATE/postgres-url"
}

step_testenv() {
  local images='{}' name
  for name in $(builder_order); do
    images=$(jq -c --arg n "$name" --arg r "$REGISTRY/s2i-bot/$name:latest" '. + {($n): $r}' <<<"$images")
  done
  (umask 077; jq -n \
    --arg registry "$REGISTRY" --arg user "$REG_USER" --arg pass "$(cat "$STATE/registry-password")" \
    --arg s2i "$S2I_DIR/s2i" --arg crane "$CRANE_DIR/crane" \
    --arg syft "$CACHE/syft-$SYFT_VERSION/syft" --arg cosign "$CACHE/cosign-$COSIGN_VERSION/cosign" --argjson images "$images" \
    --arg docker "$(cat "$STATE/docker-cli")" \
    --arg postgres "$(cat "$STATE/postgres-url")" \
    '{registry: $registry, registry_username: $user, registry_password: $pass, s2i: $s2i,
      crane: $crane, syft: $syft, cosign: $cosign,
      builder_registry: $registry, images: $images,
      docker_host: "unix:///var/run/docker.sock", docker_cli: $docker,
      postgres_url: $postgres}' >"$STATE/testenv.json.tmp")
  mv "$STATE/testenv.json.tmp" "$STATE/testenv.json"
  # The registry credentials as a dockerconfigjson, for `scripts/serve` (registry_auth_file).
  (umask 077; jq -n --arg r "$REGISTRY" \
    --arg auth "$(printf '%s:%s' "$REG_USER" "$(cat "$STATE/registry-password")" | base64 -w0)" \
    '{auths: {($r): {auth: $auth}}}' >"$STATE/registry-auth.json")
  jq 'del(.registry_password)' "$STATE/testenv.json"
}

total=$SECONDS
step apt step_apt
step browser step_browser
step s2i step_s2i
step crane step_crane
step supply-chain-tools step_supply_chain_tools
step dockerd step_dockerd
step registry step_registry
step containers-conf step_containers_conf
step base-image step_base_image
step builders step_builders
step postgres step_postgres
step testenv step_testenv
echo "provisioned in $((SECONDS - total)) s; test environment: $STATE/testenv.json"
