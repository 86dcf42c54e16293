"""A build as a Kubernetes Job: pure rendering, BuildSpec -> manifest dicts (no client here).

Two layouts (kubernetes.layout). `unprivileged`: the builder image runs assemble as the pod's
own container under the `restricted` Pod Security Standard and crane appends the application
layer in the registry (bot/executors/unprivileged_pod.py renders that pod; the Job, its
Secret, labels and volumes of credentials are this module's). `buildah`, described here:
the Job runs `python -m bot.runner` in the runner image (builders/runner/Containerfile):
- the BuildSpec (no secrets) as JSON in the env var S2I_BOT_SPEC, written to a file first;
- credentials mounted as files in SECRETS_DIR, laid out as bot/runner/credentials.py reads
  them: `.dockerconfigjson` from the registry Secret named in the settings, `git-token` from
  the build's own Secret (render_secret; it is owned by the Job, so it goes with it);
- the BuildResult written to the container's termination message (TERMINATION_LOG), where
  the executor reads it back; the log is the container's stdout;
- in the build namespace (`kubernetes.build_namespace`), never the bot's own: the bot's
  Secrets are not where a build pod could mount them (docs/security.md);
- `activeDeadlineSeconds` is the build's time limit (its `.s2i.yaml` timeout, capped by
  max_build_seconds): past it the Job controller stops the pod and the build has timed out;
- buildah with vfs storage and chroot isolation in emptyDirs, as root in the container but
  with only the capabilities it needs: CHOWN SETUID SETGID SETFCAP SYS_CHROOT, seccomp
  Unconfined (buildah maps its user namespace with unshare(CLONE_NEWUSER), which the
  runtime's default seccomp profile refuses, and writing the uid map of root needs SETFCAP),
  no privilege escalation, no service account token;
- the credentials stay out of the build's reach as on the local executor (docs/security.md):
  the Secrets are mounted read-only, 0400, outside the workspace that holds the source; the
  runner copies each one into PRIVATE_DIR (a memory-backed emptyDir, also outside the
  workspace) only for the step that needs it; the runner's environment is the allow-list of
  bot/runner/environment.py; the B2I download policy comes as the runner's flags;
- the build secrets its spec names (bot/build_secrets.py) are keys of Kubernetes Secrets in
  the build namespace (`build_secrets.<name>.kubernetes_secret`: `name[/key]`), projected
  into SECRETS_DIR/build-secrets/<name> beside the registry auth, never an env of the Job;
  only the keys this build names are mounted. Each is optional to the kubelet, so a missing
  Secret fails the build with the runner's reason instead of a pod that never starts;
- when the bot signs images (settings `signing`, docs/supply-chain.md), the operator's cosign
  key and its password travel in the build's own Secret (render_secret) and are projected
  into SECRETS_DIR (`cosign.key`, `cosign-password`) of the container that signs alone: this
  layout's runner, the unprivileged layout's `export` (SIGNING_SECRETS, its own volume), never
  an init container nor the builder's; syft and cosign are the runner image's (SIGNING_TOOLS).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from bot.build_spec import BuildSpec
from bot.executors import unprivileged_pod
from bot.executors.resolved_builder import ResolvedBuilder
from bot.executors.time_limit import DEFAULT_MAX_BUILD_SECONDS, time_limit
from bot.runner.credentials import (
    BUILD_SECRETS,
    DOCKER_CONFIG_JSON,
    GIT_TOKEN,
    SIGNING_KEY,
    SIGNING_PASSWORD,
)
from bot.settings import KubernetesSettings

if TYPE_CHECKING:
    from bot.runner.artifact import ArtifactPolicy

MANAGED_BY = "app.kubernetes.io/managed-by"
BUILD_ID = "s2i-bot/build-id"
REPO = "s2i-bot/repo"
SHA = "s2i-bot/sha"
CONTAINER = "runner"
SECRETS_DIR = "/var/run/s2i-bot/secrets"
PRIVATE_DIR = "/var/run/s2i-bot/private"
WORKSPACE = "/workspace"
TERMINATION_LOG = "/dev/termination-log"
SPEC_ENV = "S2I_BOT_SPEC"
CAPABILITIES = ["CHOWN", "SETUID", "SETGID", "SETFCAP", "SYS_CHROOT"]
# The credentials volume with the cosign key, for the container that signs (unprivileged layout).
SIGNING_SECRETS = "secrets-signing"
# Where builders/runner/Containerfile puts syft and cosign.
SIGNING_TOOLS = ("--syft", "/usr/local/bin/syft", "--cosign", "/usr/local/bin/cosign")

_LABEL_BAD = re.compile(r"[^A-Za-z0-9_.-]+")


def job_name(build_id: int) -> str:
    return f"s2i-bot-build-{build_id}"


def secret_name(build_id: int) -> str:
    return f"{job_name(build_id)}-git"


def label_value(text: str) -> str:
    """A label value (at most 63 of [A-Za-z0-9_.-], alphanumeric at both ends):
    `acme/hello-world` -> `acme.hello-world`."""
    value = _LABEL_BAD.sub("-", text.replace("/", "."))[:63]
    return re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", value)


def build_selector(build_id: int) -> str:
    """The label selector of the Job (and pod) of one build."""
    return f"{MANAGED_BY}=s2i-bot,{BUILD_ID}={build_id}"


def labels(build_id: int, spec: BuildSpec) -> dict[str, str]:
    return {
        MANAGED_BY: "s2i-bot",
        BUILD_ID: str(build_id),
        REPO: label_value(spec.repo),
        SHA: label_value(spec.source.sha),
    }


def render_secret(
    build_id: int, spec: BuildSpec, git_token: str | None, *, settings: KubernetesSettings,
    signing_key: bytes | None = None, signing_password: str = "",
) -> dict[str, Any]:  # fmt: skip
    """The build's own Secret: the forge token git clones with (empty without one) and, when
    the bot signs images, its cosign key and the key's password."""
    secret: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": secret_name(build_id),
            "namespace": settings.build_namespace,
            "labels": labels(build_id, spec),
        },
        "type": "Opaque",
        "stringData": {GIT_TOKEN: git_token} if git_token else {},
    }
    if signing_key is not None:
        secret["stringData"][SIGNING_PASSWORD] = signing_password
        secret["data"] = {SIGNING_KEY: base64.b64encode(signing_key).decode()}
    return secret


def signing_args(signing_builder_id: str | None) -> list[str]:
    """The runner's signing options (bot/runner/supply_chain.py) with the runner image's
    tools; none when images are not signed."""
    if signing_builder_id is None:
        return []
    return [*SIGNING_TOOLS, "--builder-id", signing_builder_id]


def runner_args(
    settings: KubernetesSettings,
    insecure_registries: tuple[str, ...],
    artifact_policy: ArtifactPolicy | None = None,
    signing_builder_id: str | None = None,
) -> list[str]:
    args = [
        "--spec", f"{WORKSPACE}/spec.json", "--secrets", SECRETS_DIR,
        "--private-dir", PRIVATE_DIR,
        "--workdir", f"{WORKSPACE}/build", "--result", TERMINATION_LOG,
        "--engine", "buildah", "--s2i", "/usr/local/bin/s2i",
    ]  # fmt: skip
    if artifact_policy is not None:
        args += artifact_policy.argv()
    for registry in insecure_registries:
        args += ["--insecure-registry", registry]
    return args + signing_args(signing_builder_id)


def render_job(
    build_id: int,
    spec: BuildSpec,
    *,
    settings: KubernetesSettings,
    insecure_registries: tuple[str, ...] = (),
    max_build_seconds: int = DEFAULT_MAX_BUILD_SECONDS,
    artifact_policy: ArtifactPolicy | None = None,
    build_secrets: Mapping[str, str] | None = None,
    builder: ResolvedBuilder | None = None,
    signing_builder_id: str | None = None,
    runner_ref: str | None = None,
) -> dict[str, Any]:
    """The Job that runs one build, stopped after its time limit; its pod as
    settings.layout says (the `unprivileged` one needs the resolved builder).
    `runner_ref`: the runner image the pod's runner containers run, as the executor
    resolved it (`repository@sha256:...`, bot/executors/resolved_runner.py); unset, the
    settings' runner_image as it is.
    `build_secrets`: each build secret's Kubernetes Secret, `name[/key]` (the settings'
    kubernetes_secret). `signing_builder_id`: when the pushed image is signed (the Secret
    then holds the key), the bot's public URL, the provenance's builder id."""
    build_labels = labels(build_id, spec)
    if settings.layout == "unprivileged":
        if builder is None:
            raise ValueError("the unprivileged layout runs a resolved builder image")
        pod_spec = unprivileged_pod.render_pod(
            build_id, spec, builder, settings=settings,
            insecure_registries=insecure_registries, artifact_policy=artifact_policy,
            signing_builder_id=signing_builder_id,
            build_secrets=build_secrets, runner_ref=runner_ref,
        )  # fmt: skip
    else:
        pod_spec = _buildah_pod(
            build_id, spec, settings, insecure_registries, artifact_policy, build_secrets or {},
            signing_builder_id, runner_ref or settings.runner_image,
        )  # fmt: skip
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job_name(build_id),
            "namespace": settings.build_namespace,
            "labels": build_labels,
            "annotations": {
                "s2i-bot/repo": spec.repo,
                "s2i-bot/build-name": spec.name,
                "s2i-bot/image": spec.output,
            },
        },
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": time_limit(spec, max_build_seconds),
            "ttlSecondsAfterFinished": settings.ttl_seconds_after_finished,
            "template": {"metadata": {"labels": dict(build_labels)}, "spec": pod_spec},
        },
    }


def _buildah_pod(
    build_id: int,
    spec: BuildSpec,
    settings: KubernetesSettings,
    insecure_registries: tuple[str, ...],
    artifact_policy: ArtifactPolicy | None,
    build_secrets: Mapping[str, str],
    signing_builder_id: str | None,
    runner_ref: str,
) -> dict[str, Any]:
    """The `buildah` layout's pod: the runner builds s2i's Dockerfile with buildah."""
    # The spec goes in through the environment, into a file the runner reads: a plain
    # `sh -c` so the image needs no entrypoint of ours. "$@" are the runner's arguments.
    script = f'printf %s "${SPEC_ENV}" >{WORKSPACE}/spec.json && exec python3 -m bot.runner "$@"'
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": 10,
        "containers": [
            {
                "name": CONTAINER,
                "image": runner_ref,
                "imagePullPolicy": settings.runner_image_pull_policy,
                "command": ["sh", "-c", script, "bot.runner"],
                "args": runner_args(
                    settings, insecure_registries, artifact_policy, signing_builder_id
                ),
                "env": [
                    {"name": SPEC_ENV, "value": spec.model_dump_json()},
                    {"name": "STORAGE_DRIVER", "value": "vfs"},
                    {"name": "BUILDAH_ISOLATION", "value": "chroot"},
                ],
                "workingDir": WORKSPACE,
                "resources": settings.resources,
                "terminationMessagePath": TERMINATION_LOG,
                "terminationMessagePolicy": "File",
                "securityContext": {
                    "runAsUser": 0,
                    "allowPrivilegeEscalation": False,
                    "privileged": False,
                    "capabilities": {"drop": ["ALL"], "add": CAPABILITIES},
                    "seccompProfile": {"type": "Unconfined"},
                },
                "volumeMounts": [
                    {"name": "workspace", "mountPath": WORKSPACE},
                    {"name": "containers-storage", "mountPath": "/var/lib/containers"},
                    {"name": "secrets", "mountPath": SECRETS_DIR, "readOnly": True},
                    {"name": "private", "mountPath": PRIVATE_DIR},
                ],
            }
        ],
        "volumes": [
            {"name": "workspace", "emptyDir": {}},
            _containers_storage(settings),
            # The runner's per-step credential copies: in memory, never on the node's disk.
            {"name": "private", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}},
            secrets_volume(
                build_id,
                settings,
                extra=build_secret_sources(spec, build_secrets),
                signing=signing_builder_id is not None,
            ),
        ],
    }
    if settings.host_network:
        pod_spec["hostNetwork"] = True
    return pod_spec


def secrets_volume(
    build_id: int,
    settings: KubernetesSettings,
    *,
    mode: int = 0o400,
    extra: Sequence[dict[str, Any]] = (),
    signing: bool = False,
    name: str = "secrets",
) -> dict[str, Any]:
    """The registry Secret and the build's own (the git token), as read-only files; `extra`:
    more projected sources (the build secrets the spec names). `signing`: with the cosign key
    and its password from the build's own Secret, for the container that signs."""
    own = [GIT_TOKEN, *((SIGNING_KEY, SIGNING_PASSWORD) if signing else ())]
    return {
        "name": name,
        "projected": {
            "defaultMode": mode,
            "sources": [
                {
                    "secret": {
                        "name": settings.registry_secret,
                        "items": [{"key": DOCKER_CONFIG_JSON, "path": DOCKER_CONFIG_JSON}],
                    }
                },
                {
                    "secret": {
                        "name": secret_name(build_id),
                        "items": [{"key": key, "path": key} for key in own],
                        "optional": True,
                    }
                },
                *extra,
            ],
        },
    }


def build_secret_sources(
    spec: BuildSpec, secrets: Mapping[str, str], directory: str = BUILD_SECRETS
) -> list[dict[str, Any]]:
    """The projected sources of the build secrets the spec names: one key each, as
    `<directory>/<name>` of the volume."""
    sources = []
    for use in spec.secrets:
        if use.name not in secrets:  # gone from the settings: the runner says it is missing
            continue
        name, _, key = secrets[use.name].partition("/")
        path = f"{directory}/{use.name}" if directory else use.name
        item = {"key": key or use.name, "path": path}
        sources.append({"secret": {"name": name, "items": [item], "optional": True}})
    return sources


def _containers_storage(settings: KubernetesSettings) -> dict[str, Any]:
    """buildah's storage: an emptyDir per build, or the node's image cache when configured."""
    if settings.image_cache_host_path:
        path = {"path": settings.image_cache_host_path, "type": "DirectoryOrCreate"}
        return {"name": "containers-storage", "hostPath": path}
    return {"name": "containers-storage", "emptyDir": {}}
