from typing import Any

from bot.build_spec import BuildSpec, SourceSpec
from bot.provenance import BUILD_TYPE, slsa_predicate
from bot.templates import Artifact, RuntimeStage

SHA = "c0ffee" + "0" * 34
BUILDER = "registry/s2i-bot/go:latest"
RUNTIME = "registry/s2i-bot/go-runtime:latest"
DIGEST = "sha256:" + "b" * 64


def spec(runtime: RuntimeStage | None = None) -> BuildSpec:
    source = SourceSpec(
        git_url="https://forge/acme/app.git", sha=SHA, ref="refs/heads/main", context_dir="svc"
    )
    return BuildSpec(
        name="web", repo="acme/app", forge="github", source=source, template="go",
        builder_image=BUILDER, runtime=runtime, env={"B": "2", "A": "1"},
        image="registry/acme/app", tags=("main", "sha-c0ffee"), incremental=True,
    )  # fmt: skip


def predicate(build: BuildSpec) -> dict[str, Any]:
    return slsa_predicate(
        build, image_digests={BUILDER: DIGEST, RUNTIME: "sha256:" + "c" * 64},
        builder_id="https://bot.example", versions={"s2i-bot": "0.1.0", "s2i": "v1.6.3"},
        invocation_id="https://bot.example/builds/k3y", started=0, finished=61,
    )  # fmt: skip


def test_the_provenance_names_the_commit_the_builder_by_digest_and_what_the_user_asked() -> None:
    made = predicate(spec())
    definition = made["buildDefinition"]
    assert definition["buildType"] == BUILD_TYPE
    assert definition["externalParameters"] == {
        "repository": "https://forge/acme/app.git", "ref": "refs/heads/main", "revision": SHA,
        "build": "web", "template": "go", "context": "svc", "env": {"A": "1", "B": "2"},
    }  # fmt: skip
    assert definition["resolvedDependencies"] == [
        {"uri": "git+https://forge/acme/app.git@refs/heads/main", "digest": {"gitCommit": SHA}},
        {"uri": f"oci://{BUILDER}", "digest": {"sha256": "b" * 64}},
    ]
    assert made["runDetails"]["builder"] == {
        "id": "https://bot.example", "version": {"s2i": "v1.6.3", "s2i-bot": "0.1.0"},
    }  # fmt: skip
    assert made["runDetails"]["metadata"] == {
        "invocationId": "https://bot.example/builds/k3y",
        "startedOn": "1970-01-01T00:00:00Z", "finishedOn": "1970-01-01T00:01:01Z",
    }  # fmt: skip


def test_a_runtime_image_is_a_dependency_too_and_an_unknown_digest_is_left_out() -> None:
    runtime = RuntimeStage(image=RUNTIME, artifacts=(Artifact.parse("/opt/app-root/app:/opt"),))
    made = predicate(spec(runtime))
    assert made["buildDefinition"]["resolvedDependencies"][2] == {
        "uri": f"oci://{RUNTIME}", "digest": {"sha256": "c" * 64},
    }  # fmt: skip
    unknown = slsa_predicate(
        spec(), image_digests={}, builder_id="b", versions={}, invocation_id="i",
        started=0, finished=0,
    )  # fmt: skip
    assert unknown["buildDefinition"]["resolvedDependencies"][1] == {"uri": f"oci://{BUILDER}"}
