#!/usr/bin/env bash
# Stop the docker-registry and dockerd that scripts/provision.sh started (by pidfile only;
# a daemon started some other way is left alone).
set -euo pipefail
STATE=${S2I_DEV_STATE:-/var/lib/s2i-bot-dev}

stop() {  # stop NAME PIDFILE EXPECTED-COMMAND
  local name=$1 pidfile=$2 expect=$3 pid i
  if [ ! -s "$pidfile" ]; then echo "$name: no pidfile"; return 0; fi
  pid=$(cat "$pidfile")
  # Guard against a recycled pid: only signal the process we started.
  if ! kill -0 "$pid" 2>/dev/null || [ "$(cat /proc/"$pid"/comm 2>/dev/null)" != "$expect" ]; then
    echo "$name: pid $pid not running"; rm -f "$pidfile"; return 0
  fi
  kill -TERM "$pid"
  for i in $(seq 1 60); do   # up to 30 s: dockerd stops its containers first
    kill -0 "$pid" 2>/dev/null || { echo "$name: stopped (pid $pid)"; rm -f "$pidfile"; return 0; }
    sleep 0.5
  done
  echo "$name: pid $pid did not exit after 30 s" >&2
  return 1
}

stop registry "$STATE/registry.pid" docker-registry
stop dockerd "$STATE/dockerd.pid" dockerd
