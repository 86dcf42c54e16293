"""The unprivileged Job layout's contract between its three containers (docs/kubernetes.md),
which the kubelet starts together and which hand over through files in IO_DIR
(bot/runner/handover.py):

1. `prepare` (runner image): fetches the source into the destination volume
   (`<destination>/src`, as s2i places it), writes IO_DIR/assemble.env for the builder and,
   for an incremental build, the previous image's application layer as IO_DIR/previous.tar;
   its exit status last;
2. `assemble` (the builder image itself, as its assemble user): HANDOVER_SCRIPT waits for
   prepare, then runs ASSEMBLE_SCRIPT below, which runs the s2i scripts and tars what they
   wrote below the application directories into IO_DIR/layer.tar (and, for a runtime image,
   the declared artifacts into IO_DIR/artifacts.tar), then writes its exit status;
3. `export` (runner image): waits for prepare, reads what it can ahead, waits for assemble,
   appends that one layer to the builder (or runtime) image in the registry with crane, sets
   the config, pushes; base layers are never pulled.

s2i's contract is kept (https://github.com/openshift/source-to-image/blob/master/docs/builder_image.md):
the source in `<destination>/src`, saved artifacts in `<destination>/artifacts`, the
repository's `.s2i/bin` scripts before the image's, `.s2i/environment` and the build's env
in assemble's environment, assemble run as the assemble user.

The builder needs /bin/sh, GNU tar, find (with -cnewer), awk and sort, as every Debian or
RHEL based s2i builder has (s2i itself requires sh and tar), and GNU sed for a build with
build secrets (its log is masked with `sed -u`: HANDOVER_SCRIPT). The application layer is
every file assemble created or changed (by ctime, which no tool can set back) below the
application directories, with all their parent directories so their modes and owners are
the image's; what assemble deleted of the builder's own files there becomes an OCI whiteout
(`.wh.<name>`, https://github.com/opencontainers/image-spec/blob/main/layer.md#whiteouts):
the script lists those directories before and after assemble, and the export adds a
whiteout for each path gone (complete_layer), and s2i's `<destination>/scripts` (the
repository's `.s2i/bin` scripts, `run` the image's command) when the repository has them.
"""

from __future__ import annotations

import io
import shlex
import tarfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path, PurePosixPath

from bot.runner import handover

# Every container mounts the `io` volume here; the builder mounts the `destination` volume at
# its io.openshift.s2i.destination, the runner's containers at DESTINATION_DIR.
IO_DIR = "/var/run/s2i-bot/io"
DESTINATION_DIR = "/var/run/s2i-bot/destination"
ASSEMBLE_ENV = "assemble.env"
ENV_JSON = "env.json"  # the image's environment from .s2i/environment and the build's env
PREVIOUS_LAYER = "previous.tar"
LAYER = "layer.tar"
ARTIFACTS = "artifacts.tar"
STARTED = "started"
BEFORE = "before.list"  # every path below the application directories before assemble
AFTER = "after.list"  # and after it
# Build secrets' masks (bot/runner/secret_masks.py sed_script), written by `prepare`: a
# memory-backed volume, as the secrets themselves are.
MASKS_DIR = "/var/run/s2i-bot/masks"
MASKS = "masks.sed"
WHITEOUT_PREFIX = ".wh."
# The prepare container's env: the builder's s2i labels as JSON, as the bot read them with the
# digest (an env, not a flag: a runner image older than the bot ignores it and asks the
# registry, where it would refuse an unknown flag).
BUILDER_LABELS_ENV = "S2I_BOT_BUILDER_LABELS"
# Where assemble writes: the application directories (relative to /) a builder declares
# with this label, space-separated; unset: DEFAULT_APP_DIRS (builders/README.md).
APP_DIRS_LABEL = "io.s2i-bot.application-dirs"
DEFAULT_APP_DIRS = ("/opt/app-root",)

# Run by the builder image's /bin/sh; the values it reads come from ASSEMBLE_ENV.
ASSEMBLE_SCRIPT = r"""set -eu
io=__IO__
. "$io/assemble.env"
cd /
if [ -f "$io/previous.tar" ]; then
  # The previous image's application layer back in place gives save-artifacts what it had
  # there. Then the builder is put back as it was, as in a fresh container: the layer's
  # files removed, the image's own files it had overwritten restored from a copy.
  # "STEP n/2: RUN <script>" as buildah prints it: bot/failure_reason.py names the script.
  echo "STEP 1/2: RUN $S2I_BOT_SAVE_ARTIFACTS (the previous build's, restoring its artifacts)"
  tar -tf "$io/previous.tar" >"$io/previous.list"
  while IFS= read -r f; do
    if [ -f "/$f" ] || [ -L "/$f" ]; then echo "$f"; fi
  done <"$io/previous.list" >"$io/overwritten.list"
  tar -cf "$io/overwritten.tar" --no-recursion -T "$io/overwritten.list"
  # Directories that are not the build user's keep their mode: tar's complaints about them
  # are left out.
  quiet='Cannot change mode|Cannot utime|Cannot change ownership|Exiting with failure status'
  # Its whiteouts (what the previous assemble deleted) are no files to restore.
  { tar -xf "$io/previous.tar" --no-overwrite-dir --no-same-owner --exclude='.wh.*' -C / 2>&1 ||
    true; } |
    { grep -Ev "$quiet" >&2 || true; }
  mkdir -p "$S2I_BOT_DESTINATION/artifacts"
  if "$S2I_BOT_SAVE_ARTIFACTS" | tar -xf - -C "$S2I_BOT_DESTINATION/artifacts"; then :; else
    echo "WARNING: save-artifacts failed: building without the previous artifacts" >&2
    rm -rf "$S2I_BOT_DESTINATION/artifacts"
  fi
  while IFS= read -r f; do
    [ -d "/$f" ] || rm -f "/$f"
  done <"$io/previous.list"
  { tar -xf "$io/overwritten.tar" --no-overwrite-dir -C / 2>&1 || true; } |
    { grep -Ev "$quiet" >&2 || true; }
  rm -f "$io/previous.tar" "$io/overwritten.tar"
fi
dirs=
for d in $S2I_BOT_APP_DIRS; do [ -e "$d" ] && dirs="$dirs $d"; done
# What the image has there, so that the export can record what assemble deletes. (No
# directory: no `find`, which would list the whole root.)
if [ -n "$dirs" ]; then find $dirs -print; fi | sort >"$io/before.list"
touch "$io/started"
echo "STEP 2/2: RUN $S2I_BOT_ASSEMBLE (as uid $(id -u))"
# The build secrets' variables (NPM_CONFIG_USERCONFIG=/run/secrets/npmrc ...), for assemble
# alone, as the buildah path's RUN --mount sets them.
env ${S2I_BOT_SECRET_ENV:-} "$S2I_BOT_ASSEMBLE"
dirs=
for d in $S2I_BOT_APP_DIRS; do [ -e "$d" ] && dirs="$dirs $d"; done
if [ -n "$dirs" ]; then find $dirs -print; fi | sort >"$io/after.list"
# Every path assemble created or changed, with each of its parents.
if [ -n "$dirs" ]; then find $dirs -cnewer "$io/started" -print; fi |
  awk '{ n = split($0, p, "/"); s = p[1]; print s
         for (i = 2; i <= n; i++) { s = s "/" p[i]; print s } }' |
  sort -u >"$io/layer.list"
tar -cf "$io/layer.tar" --no-recursion -T "$io/layer.list"
echo "---> Application layer: $(wc -l <"$io/layer.list") paths below$dirs"
if [ -n "${S2I_BOT_ARTIFACTS:-}" ]; then
  tar -cf "$io/artifacts.tar" $S2I_BOT_ARTIFACTS
fi
""".replace("__IO__", IO_DIR)

# The assemble container's command: ASSEMBLE_SCRIPT (its $1) run beside prepare, which it
# waits for, and the export, which waits for the exit status this writes
# (bot/runner/handover.py: the FIFO held open on fd 3 tells the export this shell still
# runs; the builder's scripts run without it). With `masked` (its $2, when the build mounts
# build secrets) the output goes through the masks `prepare` computed from the secrets, as
# the runner masks its own log (the bot follows this container's log as it is). GNU sed:
# `-u` writes each line as it comes; LC_ALL=C takes bytes as they are.
HANDOVER_SCRIPT = r"""io=__IO__
# prepare, started just before, ends first: nothing of the repository's runs before it has
# (its status is the last thing it writes). One that never says it runs never will.
if sleep 0.01 2>/dev/null; then tick=0.05 limit=1200; else tick=1 limit=60; fi
n=0
while [ ! -f "$io/__PREPARED__" ]; do
  if [ ! -f "$io/__PREPARING__" ]; then
    n=$((n + 1))
    if [ "$n" -gt "$limit" ]; then
      echo "BUILD ERROR: the prepare step did not start" >&2
      exit 1
    fi
  fi
  sleep "$tick"
done
# A prepare that failed is the build's result (its termination message): nothing to do.
[ "$(cat "$io/__PREPARED__")" = 0 ] || exit 0
mkfifo "$io/__ALIVE__" 2>/dev/null || :
exec 3<>"$io/__ALIVE__"
: >"$io/__RUNNING__"
if [ "${2:-}" != masked ]; then
  /bin/sh -c "$1" 3>&-
  status=$?
elif echo | LC_ALL=C sed -u -f __MASKS__/masks.sed >/dev/null 2>&1; then
  { /bin/sh -c "$1" 2>&1; echo $? >"$io/assemble.exit"; } 3>&- |
    LC_ALL=C sed -u -f __MASKS__/masks.sed 3>&-
  status=$(cat "$io/assemble.exit" 2>/dev/null || echo 1)
else
  echo "BUILD ERROR: build secrets need GNU sed (sed -u) in the builder image" \
    "to mask them in the log" >&2
  status=1
fi
echo "$status" >"$io/__STATUS__.tmp" && mv -f "$io/__STATUS__.tmp" "$io/__STATUS__"
exit "$status"
"""
for _name, _value in (
    ("__IO__", IO_DIR),
    ("__MASKS__", MASKS_DIR),
    ("__ALIVE__", handover.ALIVE),
    ("__RUNNING__", handover.RUNNING),
    ("__STATUS__", handover.STATUS),
    ("__PREPARED__", f"{handover.PREPARE}.status"),
    ("__PREPARING__", f"{handover.PREPARE}.running"),
):
    HANDOVER_SCRIPT = HANDOVER_SCRIPT.replace(_name, _value)


def relative(path: str) -> str:
    """`/opt/app-root/` -> `opt/app-root`: the builder script works from / with relative
    paths, as a layer's tar names them."""
    return path.strip("/")


def assemble_env(
    *,
    destination: str,
    assemble: str,
    save_artifacts: str,
    app_dirs: Sequence[str],
    artifacts: Sequence[str],
    env: Mapping[str, str],
    secret_env: Mapping[str, str] | None = None,
) -> str:
    """IO_DIR/assemble.env, sourced by ASSEMBLE_SCRIPT: its own S2I_BOT_* values, then the
    build's environment exported for assemble (.s2i/environment, then the .s2i.yaml env).
    `secret_env`: each build secret's variable and its mounted path, for assemble alone."""
    values = {
        "S2I_BOT_DESTINATION": destination,
        "S2I_BOT_ASSEMBLE": assemble,
        "S2I_BOT_SAVE_ARTIFACTS": save_artifacts,
        "S2I_BOT_APP_DIRS": " ".join(relative(d) for d in app_dirs),
        "S2I_BOT_ARTIFACTS": " ".join(relative(a) for a in artifacts),
        # Variable names and paths only (bot/build_secrets.py checks both): no value to quote.
        "S2I_BOT_SECRET_ENV": " ".join(f"{k}={v}" for k, v in (secret_env or {}).items()),
    }
    lines = [f"{key}={shlex.quote(value)}" for key, value in values.items()]
    lines += [f"export {key}={shlex.quote(value)}" for key, value in env.items()]
    return "\n".join(lines) + "\n"


def deleted_paths(before: Iterable[str], after: Iterable[str]) -> list[str]:
    """What assemble deleted (in `before`, not in `after`): only the topmost of each deleted
    tree, as one whiteout hides a directory with everything below it."""
    gone = set(before) - set(after)
    return sorted(
        path
        for path in gone
        if not any(parent.as_posix() in gone for parent in PurePosixPath(path).parents)
    )


def whiteout(path: str) -> str:
    """`opt/app-root/venv/bin/x` -> `opt/app-root/venv/bin/.wh.x` (OCI image layer spec)."""
    parent, _, name = path.strip("/").rpartition("/")
    return f"{parent}/{WHITEOUT_PREFIX}{name}" if parent else f"{WHITEOUT_PREFIX}{name}"


def complete_layer(
    layer: Path, *, deleted: Iterable[str], scripts_dir: str = "",
    scripts: Mapping[str, bytes] | None = None, uid: int = 1001,
) -> None:  # fmt: skip
    """Append to the layer assemble wrote (an uncompressed tar) a whiteout for each deleted
    path and, as s2i's `COPY --chown=<uid>:0 upload/scripts <destination>/scripts` does, the
    repository's .s2i/bin scripts into `scripts_dir` (executable; `run` is the command)."""
    with tarfile.open(layer, "a") as tar:
        for path in deleted:
            tar.addfile(tarfile.TarInfo(whiteout(path)), io.BytesIO(b""))
        if scripts:
            # Its parent too (the destination): a layer without a directory's entry makes
            # the engine create it 0755 root:root over the image's (`/tmp`, 1777 by the FHS:
            # no user could write to it any more). The builder's own destination is hidden
            # by the pod's volume, so its mode is /tmp's, or else the assemble user's 0775.
            parent = PurePosixPath(relative(scripts_dir)).parent.as_posix()
            if parent != ".":
                tmp = parent == "tmp"
                tar.addfile(_directory(parent, 0o1777 if tmp else 0o775, 0 if tmp else uid))
            tar.addfile(_directory(relative(scripts_dir), 0o775, uid))
            for name, content in sorted(scripts.items()):
                info = tarfile.TarInfo(f"{relative(scripts_dir)}/{name}")
                info.size, info.mode, info.uid = len(content), 0o775, uid
                tar.addfile(info, io.BytesIO(content))


def _directory(name: str, mode: int, uid: int) -> tarfile.TarInfo:
    entry = tarfile.TarInfo(name)
    entry.type, entry.mode, entry.uid, entry.gid = tarfile.DIRTYPE, mode, uid, 0
    return entry
