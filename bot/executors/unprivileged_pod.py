"""The pod of the `unprivileged` Job layout (kubernetes.layout; docs/kubernetes.md): pure
rendering, BuildSpec + ResolvedBuilder -> pod spec. bot/runner/app_layer.py is the contract
between its containers, which the kubelet starts together, in this order, and which hand
over through files in the `io` volume (bot/runner/handover.py):

- `prepare` (runner image): fetches the source at the sha into the `destination` volume and
  writes what assemble needs into the `io` volume (previous application layer for an
  incremental build), then its exit status;
- `assemble` (the builder image by digest, pulled by the kubelet like any image and cached
  on the node): waits for prepare's status, runs the s2i scripts as the builder's assemble
  user and tars what they wrote below the application directories, then its exit status;
- `export` (runner image): waits for prepare, reads what it can ahead (the builder's config,
  the runtime's digest) while assemble runs, waits for assemble, appends that layer to the
  builder image (or the artifacts to the runtime image) in the registry with crane and
  writes the BuildResult as its termination message. When prepare or assemble failed the
  export ends without one: the bot reads prepare's, or the reason from assemble's own log.

No init containers: the kubelet learns that a container ended from its PLEG, which relists
containers once a second, and starts the next init container (or reports the pod finished)
only then; regular containers start at once. Nothing of the repository's runs before
prepare has ended (assemble's wrapper waits for it; the builder image itself is the
operator's, from the templates), so prepare, which holds the credentials, never reads what
the repository's code could have written.

Every container runs under the `restricted` Pod Security Standard
(https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted): non-root
(the builder's numeric assemble user, also for the runner's containers so the files they
share have one owner), no privilege escalation, all capabilities dropped, seccomp
RuntimeDefault, no service account token, only emptyDir and projected volumes. The runner's
containers have a read-only root filesystem (they write to emptyDirs only); the builder's
stays writable, as assemble installs into the image's own directories (builders/README.md).
Credentials are mounted in the runner's containers only, never in the builder's; the cosign
key, when the bot signs images, in `export` alone, which signs what it pushed.

Build secrets (bot/build_secrets.py) the spec names: their keys, in a projected volume of
their own, at /run/secrets/<name> in `assemble`, the one container where a repository's code
runs with them (the whole of it is assemble, and save-artifacts before it for an
incremental build), and in `prepare`, which reads them to write the masks of the builder's
log into an in-memory volume; never in `export`, never an env value. Outside the exported
application directories (prepare refuses a builder that would export them), so in no layer.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from bot.build_secrets import MOUNT_DIR
from bot.build_spec import BuildSpec
from bot.executors.resolved_builder import ResolvedBuilder
from bot.runner import handover, s2i
from bot.runner.app_layer import (
    APP_DIRS_LABEL,
    ASSEMBLE_SCRIPT,
    BUILDER_LABELS_ENV,
    DESTINATION_DIR,
    HANDOVER_SCRIPT,
    IO_DIR,
    MASKS_DIR,
)
from bot.settings import KubernetesSettings

if TYPE_CHECKING:
    from bot.runner.artifact import ArtifactPolicy

PREPARE = "prepare"
ASSEMBLE = "assemble"
EXPORT = "export"
CONTAINERS = (PREPARE, ASSEMBLE, EXPORT)  # in the order they start (and the bot shows their logs)
RUNNER_REQUESTS = {"cpu": "50m", "memory": "128Mi"}  # each of prepare and export
# The builder's labels the prepare step reads (bot/runner/prepare.py).
PREPARE_LABELS = (s2i.SCRIPTS_URL, s2i.DESTINATION, s2i.ASSEMBLE_USER, APP_DIRS_LABEL)


def restricted_security(*, read_only_root: bool) -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "readOnlyRootFilesystem": read_only_root,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def runner_resources(settings: KubernetesSettings) -> dict[str, Any]:
    """The runner's steps request little (they fetch, copy and talk to the registry); the
    build's `resources` are assemble's. Their requests add up now that the steps run together
    (an init container's did not: the pod requests the largest of them), so a pod still
    requests about what the build asks for. Its limits stay the build's (syft, when signing,
    reads a whole image)."""
    resources: dict[str, Any] = {"requests": dict(RUNNER_REQUESTS)}
    if "limits" in settings.resources:
        resources["limits"] = copy.deepcopy(settings.resources["limits"])
    return resources


def render_pod(
    build_id: int,
    spec: BuildSpec,
    builder: ResolvedBuilder,
    *,
    settings: KubernetesSettings,
    insecure_registries: tuple[str, ...] = (),
    artifact_policy: ArtifactPolicy | None = None,
    signing_builder_id: str | None = None,
    build_secrets: Mapping[str, str] | None = None,
    runner_ref: str | None = None,
) -> dict[str, Any]:
    """`build_secrets`: each build secret's Kubernetes Secret, `name[/key]`. `runner_ref`:
    the runner image prepare and export run, as the executor resolved it
    (`repository@sha256:...`); unset, the settings' runner_image."""
    # Imported here: job_manifest imports this module for its `unprivileged` layout.
    from bot.executors import job_manifest as common

    signs = signing_builder_id is not None
    secret_sources = common.build_secret_sources(spec, build_secrets or {}, directory="")
    # The build secrets, read-only, and where prepare leaves their masks for the builder.
    secret_mounts = (
        [{"name": "build-secrets", "mountPath": MOUNT_DIR, "readOnly": True}]
        if secret_sources
        else []
    )

    def runner(name: str, step: str, extra: list[str]) -> dict[str, Any]:
        # The export signs: its credentials volume is the one with the cosign key.
        secrets = common.SIGNING_SECRETS if signs and step == "export" else "secrets"
        args = [
            # Each its own spec file: the two runner containers start at once.
            "--step", step, "--spec", f"{common.WORKSPACE}/{step}.spec.json",
            # A directory of the step's own below the mount: the runner makes it 0700, which
            # only its owner may (the mount point is the kubelet's).
            "--secrets", common.SECRETS_DIR, "--private-dir", f"{common.PRIVATE_DIR}/{step}",
            "--workdir", f"{common.WORKSPACE}/{step}", "--result", common.TERMINATION_LOG,
            "--builder", builder.ref, *extra,
        ]  # fmt: skip
        for registry in insecure_registries:
            args += ["--insecure-registry", registry]
        for relay in settings.loopback_relays:
            args += ["--relay", relay]
        return {
            "name": name,
            "image": runner_ref or settings.runner_image,
            "imagePullPolicy": settings.runner_image_pull_policy,
            "command": ["sh", "-c", script(step), "bot.runner"],
            "args": args,
            "env": [
                {"name": common.SPEC_ENV, "value": spec.model_dump_json()},
                # The labels prepare reads, as the bot read them with the digest: one
                # registry request fewer in the pod (they are the digest's).
                *(
                    [{"name": BUILDER_LABELS_ENV, "value": json.dumps(s2i_labels, sort_keys=True)}]
                    if step == "prepare"
                    else []
                ),
                # Started together: hand over through the io volume (bot/runner/handover.py).
                {"name": handover.TOGETHER_ENV, "value": "1"},
            ],
            "workingDir": common.WORKSPACE,
            "resources": runner_resources(settings),
            "terminationMessagePath": common.TERMINATION_LOG,
            "terminationMessagePolicy": "File",
            "securityContext": restricted_security(read_only_root=True),
            "volumeMounts": [
                {"name": "workspace", "mountPath": common.WORKSPACE},
                {"name": "tmp", "mountPath": "/tmp"},
                {"name": "io", "mountPath": IO_DIR},
                *(
                    [{"name": "destination", "mountPath": DESTINATION_DIR}]
                    if step == "prepare"
                    else []
                ),
                {"name": secrets, "mountPath": common.SECRETS_DIR, "readOnly": True},
                {"name": "private", "mountPath": common.PRIVATE_DIR},
                *(
                    [*secret_mounts, {"name": "masks", "mountPath": MASKS_DIR}]
                    if step == "prepare" and secret_sources
                    else []
                ),
            ],
        }

    s2i_labels = {k: v for k, v in builder.labels.items() if k in PREPARE_LABELS}

    def script(step: str) -> str:
        return (
            f'printf %s "${common.SPEC_ENV}" >{common.WORKSPACE}/{step}.spec.json'
            ' && exec python3 -m bot.runner "$@"'
        )

    prepare_args = ["--destination", builder.destination]
    if artifact_policy is not None:
        prepare_args += artifact_policy.argv()
    assemble = {
        "name": ASSEMBLE,
        "image": builder.ref,
        "imagePullPolicy": "IfNotPresent",  # a digest: what the node has is what was asked
        "command": ["/bin/sh", "-c", HANDOVER_SCRIPT, "sh", ASSEMBLE_SCRIPT]
        + (["masked"] if secret_sources else []),
        "resources": copy.deepcopy(settings.resources),
        # The builder's own output is the build's log; its tail, the reason when it fails.
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "securityContext": restricted_security(read_only_root=False),
        "volumeMounts": [
            {"name": "io", "mountPath": IO_DIR},
            {"name": "destination", "mountPath": builder.destination},
            *(
                [*secret_mounts, {"name": "masks", "mountPath": MASKS_DIR, "readOnly": True}]
                if secret_sources
                else []
            ),
        ],
    }
    pod: dict[str, Any] = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": 10,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": builder.uid,
            "runAsGroup": builder.gid,
            # The Secrets' files belong to this group (0440 below): readable by the runner's
            # containers, which run as the assemble user; the builder's never mounts them.
            "fsGroup": builder.gid,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        # In this order: the kubelet starts them so, and the steps' waits rely on it.
        "containers": [
            runner(PREPARE, "prepare", prepare_args),
            assemble,
            runner(EXPORT, "export", common.signing_args(signing_builder_id)),
        ],
        "volumes": [
            {"name": "workspace", "emptyDir": {}},
            {"name": "tmp", "emptyDir": {}},
            {"name": "io", "emptyDir": {}},
            {"name": "destination", "emptyDir": {}},
            {"name": "private", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}},
            common.secrets_volume(build_id, settings, mode=0o440),
        ],
    }
    if signs:
        pod["volumes"].append(common.secrets_volume(
            build_id, settings, mode=0o440, signing=True, name=common.SIGNING_SECRETS
        ))  # fmt: skip
    if secret_sources:
        # 0440 for fsGroup, the assemble user's group: the builder reads them as that user.
        pod["volumes"] += [
            {
                "name": "build-secrets",
                "projected": {"defaultMode": 0o440, "sources": secret_sources},
            },
            {"name": "masks", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}},
        ]
    if settings.host_network:
        pod["hostNetwork"] = True
    return pod
