#!/usr/bin/env bash
# A real single-node Kubernetes cluster for s2i-bot's Job-based builds (issue 5), built from
# the Go module proxy (no container registry can be pulled from here) and run as plain
# background processes, in the spirit of kubernetes' hack/local-up-cluster.sh:
# containerd + etcd + kube-apiserver + kube-controller-manager + kube-scheduler + kubelet.
#
#   scripts/cluster.sh up      build (cached) / install / start everything, wait for the node,
#                              then run the smoke test. Idempotent.
#   scripts/cluster.sh smoke   run a Job from the local registry to completion.
#   scripts/cluster.sh status  say what runs.
#   scripts/cluster.sh down    stop what `up` started (by pidfile), clean kubelet mounts.
#
# Needs scripts/provision.sh first (dockerd, the local registry, its password and the
# s2i-bot/go-runtime image). dockerd and the registry are shared: never touched here.
#
# Env: S2I_BOT_CACHE (default /root/.cache/s2i-bot): binaries cached by version;
#      S2I_BOT_STATE (default /var/lib/s2i-bot-dev): state, pidfiles and logs in $STATE/cluster.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${S2I_BOT_CACHE:-/root/.cache/s2i-bot}
STATE=${S2I_BOT_STATE:-/var/lib/s2i-bot-dev}
CL=$STATE/cluster
LOGS=$CL/logs
PORT=${S2I_BOT_REGISTRY_PORT:-5000}
REGISTRY=127.0.0.1:$PORT
REG_USER=s2ibot

# Newest 1.34 patch the module proxy serves (it answers 403 for later ones and, at times,
# for @v/list, so versions are pinned, not discovered). Stay below 1.35: from 1.35 the
# kubelet refuses cgroup v1, which this machine has.
K8S_VERSION=v1.34.12
K8S_STAGING_VERSION=v0.${K8S_VERSION#v1.}          # staging modules: v0.34.12
ETCD_VERSION=v3.6.16
K8S_DIR=$CACHE/kubernetes-$K8S_VERSION
ETCD_DIR=$CACHE/etcd-$ETCD_VERSION
K8S_BINS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl)
PAUSE_IMAGE=$REGISTRY/s2i-bot/pause:3.10
SMOKE_IMAGE=$REGISTRY/s2i-bot/go-runtime:latest

# Addresses. Docker owns 172.17.0.0/16; stay clear of 172.16/12 and 192.168/16 altogether.
POD_CIDR=10.244.0.0/16          # the CNI bridge's host-local range (one node)
SERVICE_CIDR=10.96.0.0/16       # first address (10.96.0.1) = the `kubernetes` Service
CNI_BRIDGE=s2ibot-cni0
APISERVER_PORT=6443
ETCD_CLIENT=127.0.0.1:2379
ETCD_PEER=127.0.0.1:2380
CONTAINERD_SOCK=$CL/containerd/containerd.sock
KUBECONFIG_ADMIN=$CL/admin.kubeconfig

mkdir -p "$CACHE" "$CL" "$LOGS"
export DEBIAN_FRONTEND=noninteractive

# ---------------------------------------------------------------- helpers (as provision.sh)
# step NAME FUNCTION: run FUNCTION with its output in $LOGS/NAME.log, timed.
# The function runs in a subshell with its own `set -e`: errexit is silently ignored
# in functions called from an `if`/`||` context, so we take the exit status afterwards.
step() {
  local name=$1 fn=$2 log=$LOGS/$1.log start=$SECONDS rc=0
  echo "==> $name"
  set +e
  (set -euo pipefail; "$fn") >"$log" 2>&1
  rc=$?
  set -e
  if [ "$rc" -ne 0 ]; then
    echo "!!! step '$name' failed (exit $rc); full log: $log" >&2
    tail -n 25 "$log" | sed 's/^/    /' >&2
    exit "$rc"
  fi
  echo "<== $name ($((SECONDS - start)) s)"
}

# say MSG: a line on the terminal as well as in the step log (steps log to a file).
# fd 3 is the terminal's stdout, saved before any step redirects.
say() { echo "    $*"; echo "    $*" >&3; }

# wait_for SECONDS CMD...: poll CMD every 0.5 s until it succeeds or time runs out.
# With WAIT_PIDFILE set, give up as soon as that daemon has died (e.g. port in use).
wait_for() {
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || { echo "timed out waiting for: $*"; return 1; }
    if [ -n "${WAIT_PIDFILE:-}" ] && ! pid_alive "$WAIT_PIDFILE"; then
      echo "daemon from $WAIT_PIDFILE exited while waiting for: $*"; return 1
    fi
    sleep 0.5
  done
}

# pid_alive PIDFILE [COMM]: the pidfile names a running process (whose /proc/PID/comm is
# COMM, if given: a pid recycled by an unrelated process must never count, nor be killed).
pid_alive() {
  [ -s "$1" ] || return 1
  local pid; pid=$(cat "$1")
  kill -0 "$pid" 2>/dev/null || return 1
  [ -z "${2:-}" ] || [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ]
}

go_bin() {  # the Go toolchain (>= 1.25 for k8s 1.34); provision.sh installs one
  local go
  for go in "$(command -v go || true)" /usr/local/go/bin/go "$CACHE"/go-go*/bin/go; do
    [ -n "$go" ] && [ -x "$go" ] && "$go" version | grep -Eq 'go1\.(2[5-9]|[3-9][0-9])' && { echo "$go"; return; }
  done
  echo "no Go >= 1.25 found: run scripts/provision.sh first" >&2; return 1
}

# ---------------------------------------------------------------- build (cached by version)
# The compile takes 20-40 min on 2 cores, longer than a caller's shell may wait in the
# foreground, so it runs detached (nohup setsid, pidfile, log) and we poll it. If `up` is
# interrupted, the build carries on and the next `up` attaches to it instead of restarting.
# bg_build NAME DIR SCRIPT: run SCRIPT (bash text) in DIR.build, then publish DIR.
bg_build() {
  local name=$1 dir=$2 script=$3 b=$2.build start=$SECONDS last=0
  if ! pid_alive "$b/pid"; then
    rm -rf "$b"; mkdir -p "$b"
    printf '%s\n' "set -euxo pipefail" "cd '$b'" "$script" >"$b/build.sh"
    # rc is written by the detached shell itself, so it survives our own exit.
    nohup setsid bash -c "bash '$b/build.sh' >'$b/build.log' 2>&1; echo \$? >'$b/rc'" \
      >/dev/null 2>&1 </dev/null &
    echo $! >"$b/pid"
    say "$name: building in the background (log $b/build.log)"
  else
    say "$name: attaching to the build already running (pid $(cat "$b/pid"))"
  fi
  while [ ! -s "$b/rc" ]; do
    if ! kill -0 "$(cat "$b/pid")" 2>/dev/null && [ ! -s "$b/rc" ]; then
      sleep 1; [ -s "$b/rc" ] || { echo "build process vanished"; tail -n 30 "$b/build.log"; return 1; }
    fi
    if [ $((SECONDS - last)) -ge 60 ]; then
      last=$SECONDS
      say "$name: still compiling after $(( (SECONDS - start) / 60 )) min"
    fi
    sleep 5
  done
  if [ "$(cat "$b/rc")" != 0 ]; then
    tail -n 40 "$b/build.log"; echo "$name build failed: $b/build.log"; return 1
  fi
  rm -rf "$dir"; mv "$b/out" "$dir"; cp "$b/build.log" "$dir/build.log"
  say "$name: built in $((SECONDS - start)) s (this run's wait), cache $(du -sh "$dir" | cut -f1)"
  rm -rf "$b"
}

step_build_kubernetes() {
  local b ok=1
  for b in "${K8S_BINS[@]}"; do [ -x "$K8S_DIR/$b" ] || ok=0; done
  if [ $ok = 1 ] && "$K8S_DIR/kubectl" version --client | grep -q "$K8S_VERSION"; then
    echo "cached: $K8S_DIR"; "$K8S_DIR/kubectl" version --client; return 0
  fi
  local go; go=$(go_bin)
  # k8s.io/kubernetes cannot be `go install`ed: its go.mod replaces the 31 staging modules
  # (k8s.io/api, client-go, ...) with ./staging. A wrapper module pins each of them to the
  # published v0.34.N instead; the replaces must exist before requiring k8s.io/kubernetes,
  # or `go get` tries to resolve v0.0.0 versions. godebug as upstream's go.mod sets it.
  local script
  script=$(cat <<EOF
export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false CGO_ENABLED=0
GO='$go'
mkdir -p wrap out; cd wrap
"\$GO" mod init s2i-bot/kubernetes-wrapper
"\$GO" mod download -json k8s.io/kubernetes@$K8S_VERSION >mod.json
modfile=\$(jq -r .GoMod mod.json); moddir=\$(jq -r .Dir mod.json)
for m in \$(grep -Eo '^[[:space:]]*k8s\.io/[a-z0-9-]+ => \./staging' "\$modfile" | awk '{print \$1}'); do
  "\$GO" mod edit -replace "\$m=\$m@$K8S_STAGING_VERSION"
done
"\$GO" mod edit -godebug default=go1.24
printf '//go:build tools\n\npackage tools\n\nimport (\n' >tools.go
for c in ${K8S_BINS[*]}; do printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "\$c" >>tools.go; done
printf ')\n' >>tools.go
pkgs=\$(for c in ${K8S_BINS[*]}; do echo k8s.io/kubernetes/cmd/\$c; done)
"\$GO" get \$(for p in \$pkgs; do echo \$p@$K8S_VERSION; done)
# Without these, every binary reports v0.0.0-master (and kubectl warns about skew).
v=k8s.io/component-base/version; cv=k8s.io/client-go/pkg/version
ld="-s -w"
for p in \$v \$cv; do
  ld="\$ld -X \$p.gitVersion=$K8S_VERSION -X \$p.gitMajor=1 -X \$p.gitMinor=$(echo "$K8S_VERSION" | cut -d. -f2)"
  ld="\$ld -X \$p.gitTreeState=clean -X \$p.buildDate=\$(date -u +%Y-%m-%dT%H:%M:%SZ)"
done
# One build for all five: shared packages compile once. -mod=mod: let it add any go.sum
# line `go get` did not.
time "\$GO" build -mod=mod -trimpath -ldflags "\$ld" -o ../out/ \$pkgs
# pause.c (the sandbox image's program) comes from the same module
cp "\$moddir/build/pause/linux/pause.c" ../out/
../out/kubectl version --client
EOF
)
  bg_build kubernetes "$K8S_DIR" "$script"
  "$K8S_DIR/kubectl" version --client
}

step_build_etcd() {
  if [ -x "$ETCD_DIR/etcd" ] && "$ETCD_DIR/etcd" --version | grep -q "${ETCD_VERSION#v}"; then
    echo "cached: $ETCD_DIR"; "$ETCD_DIR/etcd" --version; return 0
  fi
  local go; go=$(go_bin)
  # etcd's server module has local replaces too (../api, ../client/...); a wrapper module
  # resolves the published modules of the same version instead. The etcd binary's main
  # package is go.etcd.io/etcd/server/v3 itself; etcdctl is handy for debugging.
  local script
  script=$(cat <<EOF
export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false CGO_ENABLED=0
GO='$go'
mkdir -p wrap out; cd wrap
"\$GO" mod init s2i-bot/etcd-wrapper
printf '//go:build tools\n\npackage tools\n\nimport (\n\t_ "go.etcd.io/etcd/server/v3"\n\t_ "go.etcd.io/etcd/etcdctl/v3"\n)\n' >tools.go
"\$GO" get go.etcd.io/etcd/server/v3@$ETCD_VERSION go.etcd.io/etcd/etcdctl/v3@$ETCD_VERSION
time "\$GO" build -mod=mod -trimpath -ldflags "-s -w" -o ../out/ go.etcd.io/etcd/server/v3 go.etcd.io/etcd/etcdctl/v3
# go names a /vN package after the element before it: server/v3 -> "server"
mv ../out/server ../out/etcd
ls -l ../out; ../out/etcd --version
EOF
)
  bg_build etcd "$ETCD_DIR" "$script"
  "$ETCD_DIR/etcd" --version
}

# ---------------------------------------------------------------- main
cmd_build() {
  step build-kubernetes step_build_kubernetes
  step build-etcd step_build_etcd
}

exec 3>&1
case "${1:-}" in
  build) cmd_build ;;
  *) echo "usage: $0 up|down|status|smoke|build" >&2; exit 2 ;;
esac
