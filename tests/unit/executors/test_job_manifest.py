"""Golden files for the Job and Secret a build becomes (bot/executors/job_manifest.py, pure).

After an intended change: UPDATE_GOLDEN=1 pytest tests/unit/executors rewrites them and fails;
review the diff and run again (tests/support/golden.py).
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from bot.build_secrets import SecretUse
from bot.build_spec import BuildSpec
from bot.executors.job_manifest import (
    CAPABILITIES,
    SPEC_ENV,
    build_selector,
    label_value,
    render_job,
    render_secret,
)
from bot.settings import KubernetesSettings
from tests.support.job_manifests import (
    DEFAULTS,
    RUNNER_REF,
    SPEC,
    TEST_CLUSTER,
    check_manifest,
)


@pytest.mark.parametrize(
    ("golden", "settings", "insecure", "runner_ref"),
    [
        ("job-defaults.yaml", DEFAULTS, (), None),
        ("job-test-cluster.yaml", TEST_CLUSTER, ("127.0.0.1:5000",), RUNNER_REF),
    ],
)
def test_the_job_matches_its_golden_file(
    golden: str, settings: KubernetesSettings, insecure: tuple[str, ...], runner_ref: str | None
) -> None:
    job = render_job(
        42, SPEC, settings=settings, insecure_registries=insecure, runner_ref=runner_ref
    )
    # The spec's JSON is checked by its round trip below, not here: BuildSpec grows fields.
    for env in job["spec"]["template"]["spec"]["containers"][0]["env"]:
        if env["name"] == SPEC_ENV:
            env["value"] = "<the BuildSpec as JSON>"
    check_manifest(golden, job)


def test_the_secret_matches_its_golden_file() -> None:
    secret = render_secret(42, SPEC, "ghs_token", settings=DEFAULTS)
    check_manifest("secret.yaml", secret)
    assert render_secret(42, SPEC, None, settings=DEFAULTS)["stringData"] == {}


def test_secrets_are_mounted_files_never_env_values_or_arguments() -> None:
    job = render_job(42, SPEC, settings=TEST_CLUSTER)
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert all("valueFrom" not in e for e in container["env"])
    (secrets,) = [v for v in pod["volumes"] if v["name"] == "secrets"]
    names = [s["secret"]["name"] for s in secrets["projected"]["sources"]]
    assert names == ["registry", "s2i-bot-build-42-git"]
    # The spec travels whole and parses back; it holds no secret by construction.
    (spec_env,) = [e for e in container["env"] if e["name"] == SPEC_ENV]
    assert BuildSpec.model_validate(json.loads(spec_env["value"])) == SPEC
    assert "ghs_token" not in json.dumps(job)


def test_the_signing_key_travels_in_the_builds_secret_and_reaches_the_runner_as_files() -> None:
    key = b"-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nc2VjcmV0\n"
    secret = render_secret(42, SPEC, "ghs_token", settings=DEFAULTS, signing_key=key,
                           signing_password="hunter2")  # fmt: skip
    assert secret["stringData"] == {"git-token": "ghs_token", "cosign-password": "hunter2"}
    assert base64.b64decode(secret["data"]["cosign.key"]) == key
    assert "data" not in render_secret(42, SPEC, "ghs_token", settings=DEFAULTS)

    job = render_job(42, SPEC, settings=TEST_CLUSTER, signing_builder_id="https://bot.example")
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert all("valueFrom" not in e for e in container["env"])
    (secrets,) = [v for v in pod["volumes"] if v["name"] == "secrets"]
    (own,) = [s["secret"] for s in secrets["projected"]["sources"]
              if s["secret"]["name"] == "s2i-bot-build-42-git"]  # fmt: skip
    assert [item["path"] for item in own["items"]] == ["git-token", "cosign.key", "cosign-password"]
    assert container["args"][-6:] == [
        "--syft", "/usr/local/bin/syft", "--cosign", "/usr/local/bin/cosign",
        "--builder-id", "https://bot.example",
    ]  # fmt: skip
    assert "hunter2" not in json.dumps(job)
    # Without signing: neither the key's files nor the tools' options.
    unsigned = render_job(42, SPEC, settings=TEST_CLUSTER)["spec"]["template"]["spec"]
    assert "--cosign" not in unsigned["containers"][0]["args"]
    assert "cosign.key" not in json.dumps(unsigned["volumes"])


def test_the_pod_is_locked_down_except_for_what_buildah_needs() -> None:
    pod = render_job(42, SPEC, settings=DEFAULTS)["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert "hostNetwork" not in pod
    security = pod["containers"][0]["securityContext"]
    assert security["capabilities"] == {"drop": ["ALL"], "add": CAPABILITIES}
    assert security["allowPrivilegeEscalation"] is False and security["privileged"] is False


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("acme/hello", "acme.hello"),
        ("Acme/hello_world.v2", "Acme.hello_world.v2"),
        ("group/sub group/x", "group.sub-group.x"),
        ("-weird/", "weird"),
        ("a/" + "b" * 80, "a." + "b" * 61),
    ],
)
def test_repository_names_become_valid_label_values(text: str, value: str) -> None:
    assert label_value(text) == value


def test_the_build_selector_matches_the_labels() -> None:
    labels = render_job(7, SPEC, settings=DEFAULTS)["metadata"]["labels"]
    wanted = dict(part.split("=") for part in build_selector(7).split(","))
    assert wanted.items() <= labels.items()


def test_builds_keep_their_images_on_the_node_only_when_configured() -> None:
    def storage(settings: KubernetesSettings) -> dict[str, Any]:
        volumes = render_job(42, SPEC, settings=settings)["spec"]["template"]["spec"]["volumes"]
        return next(v for v in volumes if v["name"] == "containers-storage")

    assert storage(DEFAULTS) == {"name": "containers-storage", "emptyDir": {}}
    cached = DEFAULTS.model_copy(update={"image_cache_host_path": "/var/cache/s2i-bot/images"})
    assert storage(cached) == {
        "name": "containers-storage",
        "hostPath": {"path": "/var/cache/s2i-bot/images", "type": "DirectoryOrCreate"},
    }


@pytest.mark.parametrize(
    ("timeout", "deadline"), [(None, 1800), (5, 5), (1800, 1800), (7200, 1800)]
)
def test_the_jobs_deadline_is_the_builds_timeout_capped_by_max_build_seconds(
    timeout: int | None, deadline: int
) -> None:
    spec = SPEC.model_copy(update={"timeout": timeout})
    job = render_job(42, spec, settings=DEFAULTS, max_build_seconds=1800)
    assert job["spec"]["activeDeadlineSeconds"] == deadline


def test_builds_run_in_the_build_namespace_never_the_bots() -> None:
    settings = KubernetesSettings(namespace="ci", layout="buildah")
    assert settings.build_namespace == "ci-builds"
    assert render_job(42, SPEC, settings=settings)["metadata"]["namespace"] == "ci-builds"
    assert render_secret(42, SPEC, "t", settings=settings)["metadata"]["namespace"] == "ci-builds"
    with pytest.raises(ValueError, match="must not be the bot's namespace"):
        KubernetesSettings(namespace="ci", build_namespace="ci")


def test_only_the_build_secrets_the_spec_names_are_projected_as_files_of_their_secret() -> None:
    spec = SPEC.model_copy(
        update={"secrets": (SecretUse(name="npmrc", env="NPM_CONFIG_USERCONFIG"),
                            SecretUse(name="settings-xml"))}
    )  # fmt: skip
    secrets = {"npmrc": "npm-token", "settings-xml": "maven/settings.xml", "pip": "pip-conf"}
    job = render_job(42, spec, settings=TEST_CLUSTER, build_secrets=secrets)
    pod = job["spec"]["template"]["spec"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == "secrets"]
    assert volume["projected"]["defaultMode"] == 0o400
    assert volume["projected"]["sources"][2:] == [
        {"secret": {"name": "npm-token", "items": [{"key": "npmrc", "path": "build-secrets/npmrc"}],
                    "optional": True}},
        {"secret": {"name": "maven", "items": [{"key": "settings.xml",
                                                 "path": "build-secrets/settings-xml"}],
                    "optional": True}},
    ]  # fmt: skip
    (container,) = pod["containers"]
    assert all("valueFrom" not in e and "npm-token" not in str(e) for e in container["env"])
    assert "envFrom" not in container


def test_the_runner_runs_the_resolved_digest_with_the_configured_pull_policy() -> None:
    (runner,) = render_job(42, SPEC, settings=TEST_CLUSTER, runner_ref=RUNNER_REF)["spec"][
        "template"
    ]["spec"]["containers"]
    assert runner["image"] == RUNNER_REF
    assert runner["imagePullPolicy"] == "Always"
    # Unresolved (the executor's fallback), the tag as configured.
    (runner,) = render_job(42, SPEC, settings=DEFAULTS)["spec"]["template"]["spec"]["containers"]
    assert (runner["image"], runner["imagePullPolicy"]) == ("s2i-bot/runner:latest", "IfNotPresent")
