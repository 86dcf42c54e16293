# shellcheck shell=bash
# Shared helpers of scripts/provision.sh and scripts/cluster.sh (sourced, not run).
# The caller sets LOGS (where step logs go) before calling step.

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
