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
# Env: S2I_DEV_CACHE (default /root/.cache/s2i-bot): binaries cached by version;
#      S2I_DEV_STATE (default /var/lib/s2i-bot-dev): state, pidfiles and logs in $STATE/cluster.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${S2I_DEV_CACHE:-/root/.cache/s2i-bot}
STATE=${S2I_DEV_STATE:-/var/lib/s2i-bot-dev}
CL=$STATE/cluster
LOGS=$CL/logs
PORT=${S2I_DEV_REGISTRY_PORT:-5000}
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

# ---------------------------------------------------------------- helpers
# step, wait_for, pid_alive
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"

# say MSG: a line on the terminal as well as in the step log (steps log to a file).
# fd 3 is the terminal's stdout, saved before any step redirects.
say() { echo "    $*"; echo "    $*" >&3; }

go_bin() {  # the Go toolchain (>= 1.25 for k8s 1.34); provision.sh installs one
  local go
  for go in "$(command -v go || true)" /usr/local/go/bin/go "$CACHE"/go-go*/bin/go; do
    [ -n "$go" ] && [ -x "$go" ] && "$go" version | grep -Eq 'go1\.(2[5-9]|[3-9][0-9])' && { echo "$go"; return; }
  done
  echo "no Go >= 1.25 found: run scripts/provision.sh first" >&2; return 1
}

# ---------------------------------------------------------------- build (cached by version)
# The compile takes about 8 min here (2 cores; up to 40 min on slower machines), longer than
# a caller's shell may wait in the foreground, so it runs detached (nohup setsid, pidfile,
# log) and we poll it. If `up` is interrupted, the build carries on and the next `up`
# attaches to it (or publishes its result) instead of starting over.
# bg_build NAME DIR SCRIPT: run SCRIPT (bash text) in DIR.build, then publish DIR.
bg_build() {
  local name=$1 dir=$2 script=$3 b=$2.build start=$SECONDS last=$SECONDS
  if [ "$(cat "$b/rc" 2>/dev/null)" = 0 ] && [ -d "$b/out" ]; then
    say "$name: an earlier, interrupted run's build finished: publishing it"
  elif pid_alive "$b/pid" bash; then
    say "$name: attaching to the build already running (pid $(cat "$b/pid"))"
  else
    rm -rf "$b"; mkdir -p "$b"   # a failed or abandoned earlier build starts over
    printf '%s\n' "set -euxo pipefail" "cd '$b'" "$script" >"$b/build.sh"
    # rc is written by the detached shell itself, so it survives our own exit.
    nohup setsid bash -c "bash '$b/build.sh' >'$b/build.log' 2>&1; echo \$? >'$b/rc'" \
      >/dev/null 2>&1 </dev/null 3>&- 9>&- &
    echo $! >"$b/pid"
    say "$name: building in the background (log $b/build.log)"
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
  # (grep without -q: with pipefail, -q's early exit can SIGPIPE the writer and fail the test)
  if [ $ok = 1 ] && "$K8S_DIR/kubectl" version --client | grep -F "$K8S_VERSION" >/dev/null; then
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
# line that go get did not.
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
  if [ -x "$ETCD_DIR/etcd" ] && "$ETCD_DIR/etcd" --version | grep -F "${ETCD_VERSION#v}" >/dev/null; then
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

# ---------------------------------------------------------------- host packages
APT_PACKAGES=(containerd runc containernetworking-plugins iptables conntrack socat ethtool
              gcc libc6-dev buildah skopeo jq openssl curl)
step_apt() {
  local missing=() p
  for p in "${APT_PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [ ${#missing[@]} -eq 0 ]; then echo "all packages present"; return 0; fi
  echo "installing: ${missing[*]}"
  # Keep apt from starting a system containerd: we run our own, with our own config.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get update
  apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=300 "${missing[@]}"
}

# ---------------------------------------------------------------- pause image
reg_password() {
  [ -s "$STATE/registry-password" ] || { echo "no $STATE/registry-password: run scripts/provision.sh" >&2; return 1; }
  cat "$STATE/registry-password"
}
# A throwaway auth file (docker config.json format, read by buildah/skopeo --authfile):
# the password never appears on a command line. The caller removes it.
make_authfile() {
  local f; f=$(mktemp)
  (umask 077; jq -n --arg r "$REGISTRY" --arg a "$(printf '%s:%s' "$REG_USER" "$(reg_password)" | base64 -w0)" \
    '{auths: {($r): {auth: $a}}}' >"$f")
  echo "$f"
}

step_pause_image() {
  # No registry.k8s.io here: the sandbox ("pause") image is compiled from the pause.c
  # shipped in the kubernetes module, statically, and is the image's only file.
  local key
  key=$( (cat "$K8S_DIR/pause.c"; gcc -dumpfullversion) | sha256sum | cut -c1-16)
  auth=$(make_authfile)   # not `local`: the EXIT trap runs after the function has returned
  trap 'rm -f "$auth"' EXIT
  if [ "$(skopeo inspect --tls-verify=false --authfile "$auth" "docker://$PAUSE_IMAGE" 2>/dev/null |
          jq -r '.Labels["org.s2i-bot.pause"] // empty')" = "$key" ]; then
    echo "$PAUSE_IMAGE up to date ($key)"; return 0
  fi
  local work; work=$(mktemp -d /var/tmp/pause.XXXXXX)
  gcc -Os -Wall -Werror -static -DVERSION=v3.10-s2ibot -o "$work/pause" "$K8S_DIR/pause.c"
  strip "$work/pause"
  # buildah with its own throwaway storage: the shared docker/buildah stores stay untouched.
  export STORAGE_DRIVER=vfs BUILDAH_ISOLATION=chroot
  local b=(buildah --root "$work/storage" --runroot "$work/run") c
  c=$("${b[@]}" from scratch)
  "${b[@]}" copy "$c" "$work/pause" /pause
  "${b[@]}" config --entrypoint '["/pause"]' --user 65535:65535 --label "org.s2i-bot.pause=$key" "$c"
  "${b[@]}" commit "$c" "$PAUSE_IMAGE"
  "${b[@]}" push --tls-verify=false --authfile "$auth" "$PAUSE_IMAGE" "docker://$PAUSE_IMAGE"
  "${b[@]}" rm -a >/dev/null; "${b[@]}" rmi -a -f >/dev/null || true
  rm -rf "$work"
  echo "pushed $PAUSE_IMAGE ($key)"
}

# ---------------------------------------------------------------- host setup
node_ip() {
  # The host's primary address (the one its default route uses); the kubelet and the
  # apiserver's advertise address must not be guessed by them (the VM may lack a default
  # route), and loopback is refused for the `kubernetes` Service's endpoints.
  local ip
  ip=$(ip -4 route get 1.1.1.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p' | head -n 1)
  [ -n "$ip" ] || ip=$(ip -4 -o addr show scope global | grep -Ev " (docker0|$CNI_BRIDGE|veth)" |
                       awk '{print $4}' | cut -d/ -f1 | head -n 1)
  echo "${ip:-127.0.0.1}"
}
node_name() { hostname | tr '[:upper:]' '[:lower:]'; }

# iptables RULE in CHAIN unless present.
ipt_ensure() { local chain=$1; shift; iptables -C "$chain" "$@" 2>/dev/null || iptables -I "$chain" 1 "$@"; }

step_host() {
  # The kubelet needs shared mount propagation (volume mounts must reach the containers),
  # and routing between the CNI bridge and the host.
  mount --make-rshared /
  sysctl -w net.ipv4.ip_forward=1
  # dockerd sets the FORWARD policy to DROP; DOCKER-USER is the chain it leaves to us
  # (FORWARD itself if docker is not running).
  local chain=FORWARD
  iptables -nL DOCKER-USER >/dev/null 2>&1 && chain=DOCKER-USER
  ipt_ensure "$chain" -s "$POD_CIDR" -m comment --comment s2i-bot-cluster -j ACCEPT
  ipt_ensure "$chain" -d "$POD_CIDR" -m comment --comment s2i-bot-cluster -j ACCEPT
  iptables -S "$chain"

  # CNI: one bridge, host-local addresses, masquerade to the outside, portmap for hostPort.
  mkdir -p /etc/cni/net.d
  cat >/etc/cni/net.d/10-s2i-bot.conflist.tmp <<EOF
{
  "cniVersion": "1.0.0",
  "name": "s2i-bot",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$CNI_BRIDGE",
      "isGateway": true,
      "ipMasq": true,
      "hairpinMode": true,
      "mtu": $(cat /sys/class/net/"$(ip -4 route get 1.1.1.1 2>/dev/null | sed -n 's/.* dev \([^ ]*\).*/\1/p' | head -n 1)"/mtu 2>/dev/null || echo 1500),
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "$POD_CIDR"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
  mv /etc/cni/net.d/10-s2i-bot.conflist.tmp /etc/cni/net.d/10-s2i-bot.conflist
  cat /etc/cni/net.d/10-s2i-bot.conflist

  # containerd reads per-registry settings from config_path: the local registry speaks
  # plain HTTP. (Its credentials go in containerd's own config, below.)
  mkdir -p "/etc/containerd/certs.d/$REGISTRY"
  cat >"/etc/containerd/certs.d/$REGISTRY/hosts.toml" <<EOF
# written by s2i-bot scripts/cluster.sh
server = "http://$REGISTRY"

[host."http://$REGISTRY"]
  capabilities = ["pull", "resolve", "push"]
  skip_verify = true
EOF
}

# ---------------------------------------------------------------- certificates
PKI=$CL/pki
# cert NAME CN O EKU [SANS]: a key and a certificate signed by our CA ($CA, default `ca`),
# kept if present and its subject/SANs have not changed.
cert() {
  local name=$1 cn=$2 o=$3 eku=$4 sans=${5:-} subj want ca=${CA:-ca}
  subj="/CN=$cn"; [ -z "$o" ] || subj="/O=$o$subj"
  want="$ca|$subj|$eku|$sans"
  if [ -s "$PKI/$name.crt" ] && [ "$(cat "$PKI/$name.id" 2>/dev/null)" = "$want" ]; then return 0; fi
  [ -s "$PKI/$name.key" ] || openssl ecparam -name prime256v1 -genkey -noout -out "$PKI/$name.key"
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$eku"
    [ -z "$sans" ] || echo "subjectAltName=$sans"
  } >"$PKI/$name.ext"
  openssl req -new -key "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr"
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/$ca.crt" -CAkey "$PKI/$ca.key" -CAcreateserial \
    -days 3650 -sha256 -extfile "$PKI/$name.ext" -out "$PKI/$name.crt"
  rm -f "$PKI/$name.csr" "$PKI/$name.ext"
  echo "$want" >"$PKI/$name.id"
  echo "issued $name: $subj ${sans:+($sans)}"
}

# kubeconfig FILE CERTNAME: a kubeconfig with an embedded client certificate.
kubeconfig() {
  local f=$1 c=$2 k="$K8S_DIR/kubectl"
  rm -f "$f.tmp"
  "$k" --kubeconfig "$f.tmp" config set-cluster s2i-bot --server "https://127.0.0.1:$APISERVER_PORT" \
    --certificate-authority "$PKI/ca.crt" --embed-certs >/dev/null
  "$k" --kubeconfig "$f.tmp" config set-credentials "$c" --client-certificate "$PKI/$c.crt" \
    --client-key "$PKI/$c.key" --embed-certs >/dev/null
  "$k" --kubeconfig "$f.tmp" config set-context s2i-bot --cluster s2i-bot --user "$c" >/dev/null
  "$k" --kubeconfig "$f.tmp" config use-context s2i-bot >/dev/null
  chmod 600 "$f.tmp"; mv "$f.tmp" "$f"
}

step_pki() {
  mkdir -p "$PKI"; chmod 700 "$PKI"
  local ip node; ip=$(node_ip); node=$(node_name)
  # The cluster CA, and a separate one for the front proxy (request-header auth of the
  # aggregation layer): a client certificate from the cluster CA must not be able to
  # assert identities through X-Remote-User headers.
  local ca
  for ca in ca front-proxy-ca; do
    [ -s "$PKI/$ca.crt" ] && continue
    openssl ecparam -name prime256v1 -genkey -noout -out "$PKI/$ca.key"
    openssl req -x509 -new -key "$PKI/$ca.key" -subj "/CN=s2i-bot-cluster-$ca" -days 3650 -sha256 \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
      -out "$PKI/$ca.crt"
  done
  # Service-account token signing key (apiserver signs, controller-manager's token
  # controllers sign too; both verify with the public half).
  [ -s "$PKI/sa.key" ] || openssl genrsa -out "$PKI/sa.key" 2048
  openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
  # The first address of the service range is the `kubernetes` Service's ClusterIP.
  local svc_ip; svc_ip=$(echo "$SERVICE_CIDR" | awk -F'[./]' '{print $1"."$2"."$3"."$4+1}')
  cert apiserver kube-apiserver "" serverAuth \
    "IP:$ip,IP:127.0.0.1,IP:$svc_ip,DNS:localhost,DNS:$node,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  cert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters clientAuth
  cert admin kubernetes-admin system:masters clientAuth
  cert controller-manager system:kube-controller-manager "" clientAuth
  cert scheduler system:kube-scheduler "" clientAuth
  cert kubelet "system:node:$node" system:nodes clientAuth
  cert kubelet-serving "$node" "" serverAuth "IP:$ip,IP:127.0.0.1,DNS:$node,DNS:localhost"
  CA=front-proxy-ca cert front-proxy-client front-proxy-client "" clientAuth
  chmod 600 "$PKI"/*.key
  kubeconfig "$CL/admin.kubeconfig" admin
  kubeconfig "$CL/controller-manager.kubeconfig" controller-manager
  kubeconfig "$CL/scheduler.kubeconfig" scheduler
  kubeconfig "$CL/kubelet.kubeconfig" kubelet
  echo "node $node, address $ip"
}

# ---------------------------------------------------------------- daemons
# start_daemon NAME CONFIGFILES -- CMD...: start CMD detached with $CL/NAME.pid and
# $LOGS/NAME.daemon.log. Already running with the same command line and config files:
# left alone. Changed: restarted. (comm is the kernel's 15-character process name.)
start_daemon() {
  local name=$1; shift
  local files=() sig
  while [ "$1" != -- ]; do files+=("$1"); shift; done; shift
  local comm; comm=$(basename "$1"); comm=${comm:0:15}
  sig=$( (printf '%s\n' "$@"; [ ${#files[@]} -eq 0 ] || cat "${files[@]}") | sha256sum | cut -c1-16)
  if pid_alive "$CL/$name.pid" "$comm"; then
    if [ "$(cat "$CL/$name.sig" 2>/dev/null)" = "$sig" ]; then
      echo "$name already running (pid $(cat "$CL/$name.pid"))"; return 0
    fi
    echo "$name: command line or config changed, restarting"
    stop_daemon "$name" "$comm"
  fi
  echo "starting $name: $*" | tee -a "$LOGS/$name.daemon.log"
  # setsid + closed stdio: the daemon must not hold our step log or the caller's pipe.
  setsid "$@" >>"$LOGS/$name.daemon.log" 2>&1 </dev/null 3>&- 9>&- &
  echo $! >"$CL/$name.pid"
  echo "$sig" >"$CL/$name.sig"
}

# stop_daemon NAME COMM: TERM the pidfile's process if it is still ours, wait, then KILL.
stop_daemon() {
  local name=$1 comm=$2 pid
  if ! pid_alive "$CL/$name.pid" "$comm"; then
    rm -f "$CL/$name.pid" "$CL/$name.sig"; echo "$name: not running"; return 0
  fi
  pid=$(cat "$CL/$name.pid")
  kill -TERM "$pid"
  if ! wait_for 30 sh -c "! kill -0 $pid"; then
    echo "$name (pid $pid) ignored TERM for 30 s, killing"
    kill -KILL "$pid" 2>/dev/null || true
    wait_for 10 sh -c "! kill -0 $pid" || true
  fi
  rm -f "$CL/$name.pid" "$CL/$name.sig"
  echo "$name: stopped (pid $pid)"
}

# Wait for a daemon's health check; give up early if it died, and show its log tail.
await() {
  local name=$1 secs=$2; shift 2
  WAIT_PIDFILE=$CL/$name.pid wait_for "$secs" "$@" || { tail -n 30 "$LOGS/$name.daemon.log"; return 1; }
  echo "$name healthy"
}

ctr_() { ctr --address "$CONTAINERD_SOCK" "$@"; }

step_containerd() {
  mkdir -p "$CL/containerd"
  # Our own containerd, separate from the one dockerd runs (root, state and socket
  # differ), with the CRI plugin on. The local registry needs credentials: containerd 1.6
  # takes them from registry.configs.<host>.auth even with config_path (only mirrors and
  # configs.tls conflict with config_path). Hence 0600: the file holds the password.
  (umask 077; cat >"$CL/containerd/config.toml.tmp" <<EOF
version = 2
root = "$CL/containerd/root"
state = "/run/s2i-bot-containerd"

[grpc]
  address = "$CONTAINERD_SOCK"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # This machine's root lacks CAP_SYS_RESOURCE, so no process may lower its oom_score_adj:
  # runc fails the sandbox ("can't get final child's PID from pipe: EOF", really
  # "failed to update /proc/self/oom_score_adj: Permission denied") on the -998 containerd
  # gives sandboxes and the -997 the kubelet gives Guaranteed pods. Clamp them to
  # containerd's own score instead.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        # runc's state next to ours, not in /run/containerd/runc shared with other users.
        Root = "/run/s2i-bot-containerd/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "/etc/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "/etc/containerd/certs.d"
    [plugins."io.containerd.grpc.v1.cri".registry.configs."$REGISTRY".auth]
      username = "$REG_USER"
      password = "$(reg_password)"
EOF
  )
  mv "$CL/containerd/config.toml.tmp" "$CL/containerd/config.toml"
  start_daemon containerd "$CL/containerd/config.toml" /etc/containerd/certs.d/"$REGISTRY"/hosts.toml \
    /etc/cni/net.d/10-s2i-bot.conflist -- containerd --config "$CL/containerd/config.toml"
  await containerd 30 ctr_ version
  ctr_ version
  # The CRI plugin loaded (it fails soft, e.g. on a bad config section).
  ctr_ plugins ls | grep -E 'io.containerd.grpc.v1 +cri +.* ok' >/dev/null
}

step_etcd() {
  mkdir -p "$CL/etcd"; chmod 700 "$CL/etcd"
  # Loopback only and plain HTTP, as hack/local-up-cluster.sh does: nothing else can reach it.
  start_daemon etcd -- "$ETCD_DIR/etcd" --name s2i-bot --data-dir "$CL/etcd" \
    --listen-client-urls "http://$ETCD_CLIENT" --advertise-client-urls "http://$ETCD_CLIENT" \
    --listen-peer-urls "http://$ETCD_PEER" --initial-advertise-peer-urls "http://$ETCD_PEER" \
    --initial-cluster "s2i-bot=http://$ETCD_PEER" --listen-metrics-urls http://127.0.0.1:2381 \
    --quota-backend-bytes 2147483648 --log-level warn
  await etcd 60 sh -c "curl -fsS http://$ETCD_CLIENT/health | grep -q '\"health\":\"true\"'"
}

api_get() {  # api_get PATH: GET on the apiserver as admin
  curl -fsS --max-time 5 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" \
    "https://127.0.0.1:$APISERVER_PORT$1"
}

step_apiserver() {
  local ip; ip=$(node_ip)
  # The requestheader/proxy-client flags fill kube-system/extension-apiserver-authentication
  # completely; without them the controller-manager and scheduler log an error every few
  # seconds, and aggregated APIs (metrics-server, ...) could not authenticate requests.
  start_daemon kube-apiserver "$PKI/apiserver.crt" "$PKI/sa.pub" "$PKI/front-proxy-client.crt" -- "$K8S_DIR/kube-apiserver" \
    --etcd-servers "http://$ETCD_CLIENT" \
    --advertise-address "$ip" --secure-port "$APISERVER_PORT" \
    --service-cluster-ip-range "$SERVICE_CIDR" \
    --client-ca-file "$PKI/ca.crt" \
    --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
    --kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" \
    --kubelet-client-key "$PKI/apiserver-kubelet-client.key" \
    --kubelet-certificate-authority "$PKI/ca.crt" \
    --kubelet-preferred-address-types InternalIP,Hostname \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$PKI/sa.pub" \
    --service-account-signing-key-file "$PKI/sa.key" \
    --requestheader-client-ca-file "$PKI/front-proxy-ca.crt" \
    --requestheader-allowed-names front-proxy-client \
    --requestheader-username-headers X-Remote-User --requestheader-group-headers X-Remote-Group \
    --requestheader-extra-headers-prefix X-Remote-Extra- \
    --proxy-client-cert-file "$PKI/front-proxy-client.crt" --proxy-client-key-file "$PKI/front-proxy-client.key" \
    --authorization-mode Node,RBAC \
    --enable-admission-plugins NodeRestriction \
    --allow-privileged=true \
    --profiling=false
  await kube-apiserver 120 api_get /readyz
  api_get /version
}

step_controllers() {
  # --root-ca-file and --service-account-private-key-file: without them the token
  # controllers do not run, and pods get no service account token (or no kube-root-ca.crt).
  # Node CIDRs are not allocated: the CNI bridge's host-local IPAM owns $POD_CIDR.
  start_daemon kube-controller-manager "$PKI/ca.crt" "$PKI/sa.key" -- "$K8S_DIR/kube-controller-manager" \
    --kubeconfig "$CL/controller-manager.kubeconfig" \
    --authentication-kubeconfig "$CL/controller-manager.kubeconfig" \
    --authorization-kubeconfig "$CL/controller-manager.kubeconfig" \
    --bind-address 127.0.0.1 --leader-elect=false \
    --root-ca-file "$PKI/ca.crt" \
    --service-account-private-key-file "$PKI/sa.key" \
    --use-service-account-credentials=true \
    --cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key" \
    --service-cluster-ip-range "$SERVICE_CIDR" --allocate-node-cidrs=false \
    --profiling=false
  start_daemon kube-scheduler -- "$K8S_DIR/kube-scheduler" \
    --kubeconfig "$CL/scheduler.kubeconfig" \
    --authentication-kubeconfig "$CL/scheduler.kubeconfig" \
    --authorization-kubeconfig "$CL/scheduler.kubeconfig" \
    --bind-address 127.0.0.1 --leader-elect=false --profiling=false
  await kube-controller-manager 60 curl -fsSk https://127.0.0.1:10257/healthz
  await kube-scheduler 60 curl -fsSk https://127.0.0.1:10259/healthz
}

step_kubelet() {
  local ip node; ip=$(node_ip); node=$(node_name)
  mkdir -p "$CL/kubelet"
  # cgroupfs: no systemd here (and cgroup v1, which 1.34 still accepts). No clusterDNS:
  # there is no CoreDNS image, pods use the host's resolv.conf. imageGC at 100 %: the
  # kubelet must never garbage-collect images (the pause image cannot be re-pulled from
  # anywhere but our registry, and builds reuse their builder images).
  cat >"$CL/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
failSwapOn: false
# No CAP_SYS_RESOURCE here: the kubelet cannot lower its own score to the default -999.
oomScoreAdj: 0
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
address: $ip
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
tlsCertFile: $PKI/kubelet-serving.crt
tlsPrivateKeyFile: $PKI/kubelet-serving.key
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: $PKI/ca.crt
authorization:
  mode: Webhook
resolvConf: /etc/resolv.conf
clusterDomain: cluster.local
serializeImagePulls: false
evictionHard:
  memory.available: 100Mi
  nodefs.available: 5%
  imagefs.available: 5%
EOF
  start_daemon kubelet "$CL/kubelet/config.yaml" "$CL/kubelet.kubeconfig" -- "$K8S_DIR/kubelet" \
    --config "$CL/kubelet/config.yaml" \
    --kubeconfig "$CL/kubelet.kubeconfig" \
    --root-dir "$CL/kubelet/root" \
    --cert-dir "$CL/kubelet/pki" \
    --hostname-override "$node" \
    --node-ip "$ip"
  await kubelet 60 curl -fsS http://127.0.0.1:10248/healthz
}

kc() { "$K8S_DIR/kubectl" --kubeconfig "$KUBECONFIG_ADMIN" "$@"; }

# node_ready_since NODE EPOCH: Ready=True, reported at or after EPOCH.
node_ready_since() {
  local st hb
  read -r st hb < <(kc get node "$1" -o jsonpath='{range .status.conditions[?(@.type=="Ready")]}{.status} {.lastHeartbeatTime}{end}')
  [ "$st" = True ] && [ "$(date -d "$hb" +%s)" -ge "$2" ]
}

step_node_ready() {
  local node; node=$(node_name)
  WAIT_PIDFILE=$CL/kubelet.pid wait_for 120 kc get node "$node" ||
    { tail -n 30 "$LOGS/kubelet.daemon.log"; return 1; }
  # After a restart the Node object still says Ready from the previous run (the node
  # controller takes 40 s to notice), so only a Ready heartbeat from this kubelet counts.
  WAIT_PIDFILE=$CL/kubelet.pid wait_for 180 node_ready_since "$node" "$(date -r "$CL/kubelet.pid" +%s)" ||
    { kc describe node "$node"; tail -n 30 "$LOGS/kubelet.daemon.log"; return 1; }
  kc get nodes -o wide
  jq -n --arg kubeconfig "$KUBECONFIG_ADMIN" --arg kubectl "$K8S_DIR/kubectl" \
    --arg server "https://127.0.0.1:$APISERVER_PORT" --arg version "$K8S_VERSION" --arg node "$node" \
    --arg node_ip "$(node_ip)" --arg pod_cidr "$POD_CIDR" --arg service_cidr "$SERVICE_CIDR" \
    --arg etcd "$ETCD_VERSION" --arg pause "$PAUSE_IMAGE" \
    '{kubeconfig: $kubeconfig, kubectl: $kubectl, server: $server, version: $version, node: $node,
      node_ip: $node_ip, pod_cidr: $pod_cidr, service_cidr: $service_cidr, etcd_version: $etcd,
      pause_image: $pause}' >"$CL/cluster.json.tmp"
  mv "$CL/cluster.json.tmp" "$CL/cluster.json"
  cat "$CL/cluster.json"
}

# ---------------------------------------------------------------- smoke test
SMOKE_NS=s2i-bot-smoke
step_smoke() {
  kc get namespace "$SMOKE_NS" >/dev/null 2>&1 || kc create namespace "$SMOKE_NS"
  # The serviceaccount controller creates `default` shortly after the namespace; the
  # ServiceAccount admission plugin refuses pods until it exists.
  wait_for 60 kc -n "$SMOKE_NS" get serviceaccount default || { echo "no default ServiceAccount"; return 1; }
  echo "default ServiceAccount present"
  # A Job of this run's own: two `up`s at once (two test sessions) each watch their own, and
  # each deletes its own after (ttlSecondsAfterFinished removes one a killed run left).
  local job="smoke-$$-$RANDOM"
  # The image comes from the local registry, pulled by containerd with the credentials
  # of its config: the path a build Job takes.
  kc -n "$SMOKE_NS" apply -f - <<EOF
apiVersion: batch/v1
kind: Job
metadata:
  name: $job
spec:
  backoffLimit: 0
  ttlSecondsAfterFinished: 300
  activeDeadlineSeconds: 240
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: smoke
          image: $SMOKE_IMAGE
          imagePullPolicy: Always
          command: ["sh", "-c", "echo ok; test -s /var/run/secrets/kubernetes.io/serviceaccount/token && echo token mounted"]
EOF
  local deadline=$((SECONDS + 240)) s f sel
  # This Job's pods only.
  sel=batch.kubernetes.io/controller-uid=$(kc -n "$SMOKE_NS" get job "$job" -o jsonpath='{.metadata.uid}')
  while :; do
    s=$(kc -n "$SMOKE_NS" get job "$job" -o jsonpath='{.status.succeeded}')
    f=$(kc -n "$SMOKE_NS" get job "$job" -o jsonpath='{.status.failed}')
    [ "${s:-0}" -ge 1 ] && break
    if [ "${f:-0}" -ge 1 ] || [ "$SECONDS" -ge "$deadline" ]; then
      echo "smoke Job did not complete (failed=${f:-0})"
      kc -n "$SMOKE_NS" describe job "$job"; kc -n "$SMOKE_NS" describe pods -l "$sel"
      kc -n "$SMOKE_NS" get events --sort-by=.lastTimestamp
      return 1
    fi
    sleep 1
  done
  local log ip
  log=$(kc -n "$SMOKE_NS" logs "job/$job")
  ip=$(kc -n "$SMOKE_NS" get pods -l "$sel" -o jsonpath='{.items[0].status.podIP}')
  kc -n "$SMOKE_NS" get pods -l "$sel" -o wide
  say "smoke Job completed; pod IP ${ip:-none}; log: $(echo "$log" | tr '\n' ' ')"
  [ "$(echo "$log" | head -n 1)" = ok ] || { echo "unexpected log"; return 1; }
  grep -F "token mounted" >/dev/null <<<"$log" || { echo "no service account token in the pod"; return 1; }
  [ -n "$ip" ] || { echo "pod had no IP"; return 1; }
  kc -n "$SMOKE_NS" delete job "$job" --cascade=background --wait=false >/dev/null
}

# ---------------------------------------------------------------- down / status
COMPONENTS=(kubelet kube-scheduler kube-controller-manager kube-apiserver etcd containerd)
comm_of() { case $1 in etcd) echo etcd ;; *) echo "${1:0:15}" ;; esac; }

step_down() {
  # 1. Let the kubelet stop the pods itself (through CRI, so CNI releases their addresses
  #    and network namespaces): stop the controllers so nothing recreates them, delete them.
  # cluster.json says "a cluster is up": tests must not find a stale one.
  rm -f "$CL/cluster.json"
  stop_daemon kube-controller-manager kube-controller
  stop_daemon kube-scheduler kube-scheduler
  if pid_alive "$CL/kubelet.pid" kubelet && api_get /readyz >/dev/null 2>&1; then
    kc delete pods --all-namespaces --all --grace-period=5 --wait=true --timeout=90s ||
      echo "some pods did not terminate in time; killing their tasks below"
  fi
  stop_daemon kubelet kubelet
  stop_daemon kube-apiserver kube-apiserver
  stop_daemon etcd etcd
  # 2. Safety net: containers still running under our containerd (its shims outlive it).
  if pid_alive "$CL/containerd.pid" containerd; then
    local t
    for t in $(ctr_ -n k8s.io tasks ls 2>/dev/null | awk '$3 == "RUNNING" {print $1}'); do
      ctr_ -n k8s.io tasks kill -s SIGKILL "$t" 2>/dev/null || true
    done
    wait_for 20 sh -c "! ctr --address '$CONTAINERD_SOCK' -n k8s.io tasks ls | grep -q RUNNING" || true
    for t in $(ctr_ -n k8s.io tasks ls -q 2>/dev/null); do ctr_ -n k8s.io tasks delete "$t" || true; done
  fi
  stop_daemon containerd containerd
  # 3. Mounts left by the kubelet (volumes, tokens) and by our containerd (rootfs, shm);
  #    innermost first. Nothing outside our own directories is touched.
  local m
  awk '{print $5}' /proc/self/mountinfo | { grep -E "^($CL/kubelet/|/run/s2i-bot-containerd/|$CL/containerd/)" || true; } |
    sort -r | while read -r m; do umount "$m" 2>/dev/null || umount -l "$m" || true; done
  # 4. The CNI bridge (empty now) and our FORWARD exceptions; `up` puts them back.
  ip link delete "$CNI_BRIDGE" 2>/dev/null || true
  local chain
  for chain in DOCKER-USER FORWARD; do
    while iptables -D "$chain" -s "$POD_CIDR" -m comment --comment s2i-bot-cluster -j ACCEPT 2>/dev/null; do :; done
    while iptables -D "$chain" -d "$POD_CIDR" -m comment --comment s2i-bot-cluster -j ACCEPT 2>/dev/null; do :; done
  done
  echo "remaining mounts under our dirs: $(awk '{print $5}' /proc/self/mountinfo | grep -cE "^($CL/|/run/s2i-bot-containerd/)" || true)"
}

cmd_status() {
  local c comm rc=0
  for c in "${COMPONENTS[@]}"; do
    comm=$(comm_of "$c")
    if pid_alive "$CL/$c.pid" "$comm"; then printf '%-24s running (pid %s)\n' "$c" "$(cat "$CL/$c.pid")"
    else printf '%-24s stopped\n' "$c"; rc=1; fi
  done
  if [ -s "$PKI/admin.crt" ] && api_get /readyz >/dev/null 2>&1; then
    kc get nodes -o wide
    echo "kubeconfig: $KUBECONFIG_ADMIN ($CL/cluster.json)"
  else
    echo "apiserver not answering"
  fi
  return $rc
}

# ---------------------------------------------------------------- main
cmd_build() {
  step build-kubernetes step_build_kubernetes
  step build-etcd step_build_etcd
}

cmd_up() {
  local total=$SECONDS
  step apt step_apt
  cmd_build
  step pause-image step_pause_image
  step host step_host
  step pki step_pki
  step containerd step_containerd
  step etcd step_etcd
  step kube-apiserver step_apiserver
  step controllers step_controllers
  step kubelet step_kubelet
  step node-ready step_node_ready
  step smoke step_smoke
  echo "cluster up in $((SECONDS - total)) s: export KUBECONFIG=$KUBECONFIG_ADMIN (details in $CL/cluster.json)"
}

exec 3>&1
# One at a time: test sessions of several working trees (and CI) bring the same cluster up at
# once; the steps are idempotent, not safe to interleave (a kubelet restarted under another
# run's smoke Job). Held until this script exits.
if [ "${1:-}" != status ]; then
  exec 9>"$CL/.cluster.lock"
  flock 9
fi
case "${1:-}" in
  up) cmd_up ;;
  down) step down step_down ;;
  status) cmd_status ;;
  smoke) step smoke step_smoke ;;
  build) cmd_build ;;
  *) echo "usage: $0 up|down|status|smoke|build" >&2; exit 2 ;;
esac
