"""The `unprivileged` Job layout's pod (bot/executors/unprivileged_pod.py, pure) and the
builder resolution it runs (bot/executors/resolved_builder.py): a golden file, and the
`restricted` Pod Security Standard checked field by field as the admission controller does
(https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.build_secrets import SecretUse
from bot.executors.job_manifest import SECRETS_DIR, SIGNING_SECRETS, SPEC_ENV, render_job
from bot.executors.resolved_builder import ResolvedBuilder, UnusableBuilder
from bot.executors.unprivileged_pod import CONTAINERS
from bot.runner.app_layer import ASSEMBLE_SCRIPT, BUILDER_LABELS_ENV, HANDOVER_SCRIPT, MASKS_DIR
from bot.runner.handover import TOGETHER_ENV
from bot.settings import KubernetesSettings
from tests.support.job_manifests import RUNNER_REF, SPEC, TEST_CLUSTER, check_manifest

DIGEST = "sha256:" + "ab" * 32
LABELS = {
    "io.openshift.s2i.scripts-url": "image:///usr/libexec/s2i",
    "io.openshift.s2i.destination": "/tmp",
    "io.openshift.s2i.assemble-user": "1001",
}
BUILDER = ResolvedBuilder.from_config(
    "127.0.0.1:5000/s2i-bot/go:latest", DIGEST, {"config": {"Labels": LABELS}}
)
UNPRIVILEGED = TEST_CLUSTER.model_copy(update={"layout": "unprivileged", "host_network": False})
ALLOWED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                   "persistentVolumeClaim", "projected", "secret"}  # fmt: skip


def pod_of(job: dict[str, Any]) -> dict[str, Any]:
    pod: dict[str, Any] = job["spec"]["template"]["spec"]
    return pod


def test_the_unprivileged_job_matches_its_golden_file() -> None:
    job = render_job(42, SPEC, settings=UNPRIVILEGED, builder=BUILDER, runner_ref=RUNNER_REF)
    pod = pod_of(job)
    for container in pod["containers"]:
        for env in container.get("env", []):
            if env["name"] == SPEC_ENV:
                env["value"] = "<the BuildSpec as JSON>"
        if container["name"] == "assemble":
            assert container["command"] == ["/bin/sh", "-c", HANDOVER_SCRIPT, "sh", ASSEMBLE_SCRIPT]
            container["command"][2] = "<bot/runner/app_layer.py HANDOVER_SCRIPT>"
            container["command"][-1] = "<bot/runner/app_layer.py ASSEMBLE_SCRIPT>"
    check_manifest("job-unprivileged.yaml", job)


def test_every_container_passes_the_restricted_pod_security_standard() -> None:
    pod = pod_of(render_job(42, SPEC, settings=UNPRIVILEGED, builder=BUILDER))
    containers = pod["containers"]
    assert [c["name"] for c in containers] == list(CONTAINERS)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 1001
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    assert not {"hostNetwork", "hostPID", "hostIPC"} & pod.keys()
    for volume in pod["volumes"]:
        assert set(volume) - {"name"} <= ALLOWED_VOLUMES, volume
    for container in containers:
        security = container["securityContext"]
        assert security["allowPrivilegeEscalation"] is False, container["name"]
        assert security["capabilities"] == {"drop": ["ALL"]}
        assert security["runAsNonRoot"] is True and "runAsUser" not in security
        assert security["seccompProfile"] == {"type": "RuntimeDefault"}
        assert "ports" not in container


def test_the_builder_runs_by_digest_without_credentials_and_the_runner_read_only() -> None:
    pod = pod_of(render_job(42, SPEC, settings=UNPRIVILEGED, builder=BUILDER))
    prepare, assemble, export = pod["containers"]
    assert assemble["image"] == f"127.0.0.1:5000/s2i-bot/go@{DIGEST}"
    assert assemble["imagePullPolicy"] == "IfNotPresent"
    assert {m["name"] for m in assemble["volumeMounts"]} == {"io", "destination"}
    assert "env" not in assemble
    for runner in (prepare, export):
        assert runner["securityContext"]["readOnlyRootFilesystem"] is True
        assert "secrets" in {m["name"] for m in runner["volumeMounts"]}
        assert ["--builder", BUILDER.ref] == runner["args"][
            runner["args"].index("--builder") : runner["args"].index("--builder") + 2
        ]
    assert assemble["securityContext"]["readOnlyRootFilesystem"] is False
    # The builder sees the destination volume where s2i puts the source: its label's path.
    (destination,) = [m for m in assemble["volumeMounts"] if m["name"] == "destination"]
    assert destination["mountPath"] == "/tmp"


def test_prepare_and_export_run_the_resolved_runner_digest_and_the_builder_its_own() -> None:
    job = render_job(42, SPEC, settings=UNPRIVILEGED, builder=BUILDER, runner_ref=RUNNER_REF)
    pod = pod_of(job)
    images = {c["name"]: (c["image"], c["imagePullPolicy"]) for c in pod["containers"]}
    assert images == {
        "prepare": (RUNNER_REF, "Always"),  # the configured policy, honoured
        "assemble": (BUILDER.ref, "IfNotPresent"),
        "export": (RUNNER_REF, "Always"),
    }
    unresolved = pod_of(render_job(42, SPEC, settings=UNPRIVILEGED, builder=BUILDER))
    assert {c["image"] for c in unresolved["containers"]} == {
        UNPRIVILEGED.runner_image,
        BUILDER.ref,
    }


def test_the_unprivileged_layout_needs_the_resolved_builder() -> None:
    with pytest.raises(ValueError, match="resolved builder"):
        render_job(42, SPEC, settings=UNPRIVILEGED)


@pytest.mark.parametrize(
    ("labels", "uid", "gid", "destination"),
    [
        ({}, 1001, 0, "/tmp"),
        (LABELS, 1001, 0, "/tmp"),
        ({"io.openshift.s2i.assemble-user": "185:185", "io.openshift.s2i.destination": "/x/"},
         185, 185, "/x"),
    ],
)  # fmt: skip
def test_a_builder_resolves_to_its_digest_user_and_destination(
    labels: dict[str, str], uid: int, gid: int, destination: str
) -> None:
    builder = ResolvedBuilder.from_config(
        "registry.example.com:5000/b/go:1.19", DIGEST, {"config": {"Labels": labels}}
    )
    assert builder.ref == f"registry.example.com:5000/b/go@{DIGEST}"
    assert (builder.uid, builder.gid, builder.destination) == (uid, gid, destination)
    assert builder.app_dirs == ("/opt/app-root",)


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ({"io.openshift.s2i.assemble-user": "0"}, "non-root uid"),
        ({"io.openshift.s2i.assemble-user": "default"}, "numeric non-root uid"),
        ({"io.openshift.s2i.destination": "tmp"}, "not an absolute directory"),
        ({"io.s2i-bot.application-dirs": "/opt/../etc"}, "not an absolute directory"),
        ({"io.s2i-bot.application-dirs": "/"}, "not an absolute directory"),
    ],
)
def test_a_builder_that_breaks_the_contract_is_refused_saying_why(
    labels: dict[str, str], message: str
) -> None:
    with pytest.raises(UnusableBuilder, match=message):
        ResolvedBuilder.from_config("b/go:1", DIGEST, {"config": {"Labels": labels}})


def test_when_signing_the_key_is_mounted_in_the_export_alone_which_runs_the_images_tools() -> None:
    job = render_job(42, SPEC, settings=UNPRIVILEGED, builder=BUILDER,
                     signing_builder_id="https://bot.example.com")  # fmt: skip
    pod = pod_of(job)
    prepare, assemble, export = pod["containers"]
    mounts = {c["name"]: {m["name"]: m for m in c["volumeMounts"]}
              for c in (prepare, assemble, export)}  # fmt: skip
    assert SIGNING_SECRETS not in mounts["prepare"] | mounts["assemble"]
    assert "secrets" not in mounts["assemble"]
    assert mounts["export"][SIGNING_SECRETS] == {
        "name": SIGNING_SECRETS, "mountPath": SECRETS_DIR, "readOnly": True,
    }  # fmt: skip
    assert "secrets" not in mounts["export"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    sources = {s["secret"]["name"]: [i["key"] for i in s["secret"]["items"]]
               for s in volumes[SIGNING_SECRETS]["projected"]["sources"]}  # fmt: skip
    assert sources == {
        "registry": [".dockerconfigjson"],
        "s2i-bot-build-42-git": ["git-token", "cosign.key", "cosign-password"],
    }
    prepare_keys = [i["key"] for s in volumes["secrets"]["projected"]["sources"]
                    for i in s["secret"]["items"]]  # fmt: skip
    assert "cosign.key" not in prepare_keys and "cosign-password" not in prepare_keys
    assert export["args"][export["args"].index("--syft") :][:6] == [
        "--syft", "/usr/local/bin/syft", "--cosign", "/usr/local/bin/cosign",
        "--builder-id", "https://bot.example.com",
    ]  # fmt: skip
    assert "--cosign" not in prepare["args"]
    # The key reaches no container through its environment, and syft and cosign write to
    # emptyDirs only (/tmp and the workspace) under the read-only root filesystem.
    for container in (prepare, assemble, export):
        assert all("valueFrom" not in e for e in container.get("env", []))
    assert export["securityContext"]["readOnlyRootFilesystem"] is True
    assert {"tmp", "workspace"} <= mounts["export"].keys()
    assert volumes[SIGNING_SECRETS]["projected"]["defaultMode"] == 0o440


def test_without_signing_no_key_volume_and_no_signing_tools() -> None:
    pod = pod_of(render_job(42, SPEC, settings=UNPRIVILEGED, builder=BUILDER))
    assert SIGNING_SECRETS not in {v["name"] for v in pod["volumes"]}
    assert "--cosign" not in pod["containers"][2]["args"]


def test_build_secrets_are_mounted_in_assemble_and_prepare_only_and_the_builders_log_masked() -> (
    None
):
    spec = SPEC.model_copy(
        update={"secrets": (SecretUse(name="npmrc", env="NPM_CONFIG_USERCONFIG"),
                            SecretUse(name="pip-conf"))}
    )  # fmt: skip
    secrets = {"npmrc": "npm-registry", "pip-conf": "pip/pip.conf", "unused": "other"}
    job = render_job(42, spec, settings=UNPRIVILEGED, builder=BUILDER, build_secrets=secrets)
    pod = pod_of(job)
    prepare, assemble, export = pod["containers"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == "build-secrets"]
    assert volume["projected"] == {
        "defaultMode": 0o440,
        "sources": [
            {"secret": {"name": "npm-registry", "items": [{"key": "npmrc", "path": "npmrc"}],
                        "optional": True}},
            {"secret": {"name": "pip", "items": [{"key": "pip.conf", "path": "pip-conf"}],
                        "optional": True}},
        ],
    }  # fmt: skip
    mount = {"name": "build-secrets", "mountPath": "/run/secrets", "readOnly": True}
    assert mount in assemble["volumeMounts"] and mount in prepare["volumeMounts"]
    assert "build-secrets" not in {m["name"] for m in export["volumeMounts"]}
    # The builder's output goes through the masks prepare wrote (in memory, read-only there).
    assert assemble["command"] == [
        "/bin/sh", "-c", HANDOVER_SCRIPT, "sh", ASSEMBLE_SCRIPT, "masked"
    ]  # fmt: skip
    assert {"name": "masks", "mountPath": MASKS_DIR, "readOnly": True} in assemble["volumeMounts"]
    (masks,) = [v for v in pod["volumes"] if v["name"] == "masks"]
    assert masks["emptyDir"]["medium"] == "Memory"
    # No registry or git credential in the builder's container, no secret as an env value.
    assert "secrets" not in {m["name"] for m in assemble["volumeMounts"]}
    assert "env" not in assemble
    test_every_container_passes_the_restricted_pod_security_standard()


def test_without_build_secrets_the_builder_has_neither_their_mount_nor_the_masks() -> None:
    pod = pod_of(render_job(42, SPEC, settings=UNPRIVILEGED, builder=BUILDER,
                            build_secrets={"npmrc": "npm-registry"}))  # fmt: skip
    assert not {"build-secrets", "masks"} & {v["name"] for v in pod["volumes"]}
    for container in pod["containers"]:
        assert not {"build-secrets", "masks"} & {m["name"] for m in container["volumeMounts"]}


def test_the_unprivileged_layout_is_the_default_and_buildah_an_option() -> None:
    assert KubernetesSettings().layout == "unprivileged"
    assert KubernetesSettings(layout="buildah").layout == "buildah"
    with pytest.raises(ValueError, match="resolved builder"):
        render_job(42, SPEC, settings=KubernetesSettings())


def test_prepare_gets_the_builders_s2i_labels_as_the_bot_read_them_with_the_digest() -> None:
    builder = ResolvedBuilder.from_config(
        "127.0.0.1:5000/s2i-bot/go:latest", DIGEST,
        {"config": {"Labels": LABELS | {"maintainer": "someone", "io.s2i-bot.application-dirs":
                                         "/opt/app-root"}}},
    )  # fmt: skip
    pod = pod_of(render_job(42, SPEC, settings=UNPRIVILEGED, builder=builder))
    prepare, _, export = pod["containers"]
    (passed,) = [e["value"] for e in prepare["env"] if e["name"] == BUILDER_LABELS_ENV]
    assert json.loads(passed) == LABELS | {"io.s2i-bot.application-dirs": "/opt/app-root"}
    assert BUILDER_LABELS_ENV not in {e["name"] for e in export["env"]}


def test_the_three_steps_start_together_in_order_and_hand_over_through_the_io_volume() -> None:
    pod = pod_of(render_job(42, SPEC, settings=UNPRIVILEGED, builder=BUILDER))
    # No init container: the kubelet starts the next one only at its next relist (up to 1 s).
    assert "initContainers" not in pod
    assert [c["name"] for c in pod["containers"]] == ["prepare", "assemble", "export"]
    assert pod["restartPolicy"] == "Never"
    prepare, assemble, export = pod["containers"]
    for runner in (prepare, export):  # bot/runner/handover.py
        assert {"name": TOGETHER_ENV, "value": "1"} in runner["env"]
        assert "io" in {m["name"] for m in runner["volumeMounts"]}
    assert "io" in {m["name"] for m in assemble["volumeMounts"]}
    # Each runner container writes its own spec file: they start at once.
    specs = [r["args"][r["args"].index("--spec") + 1] for r in (prepare, export)]
    assert specs == ["/workspace/prepare.spec.json", "/workspace/export.spec.json"]
    assert all(spec in r["command"][2] for spec, r in zip(specs, (prepare, export), strict=True))


def test_the_pod_requests_about_what_the_build_asks_for_though_its_steps_run_together() -> None:
    # Regular containers' requests add up (an init container's did not): the build's
    # resources are assemble's, the runner's steps request little, with the build's limits.
    pod = pod_of(render_job(42, SPEC, settings=UNPRIVILEGED, builder=BUILDER))
    prepare, assemble, export = pod["containers"]
    assert assemble["resources"] == UNPRIVILEGED.resources
    for runner in (prepare, export):
        assert runner["resources"] == {
            "requests": {"cpu": "50m", "memory": "128Mi"},
            "limits": UNPRIVILEGED.resources["limits"],
        }
