"""bot/registry_notifications.py and bot/base_images.py: the tags a registry's notification
names (pure), which builds a moved base image makes stale (pure, given where tags point now),
and the rebuild deliveries stored for them against a real store (SQLite, and PostgreSQL with
the e2e half of `database_url`): once per new digest, whichever way tells first, each read
back by the forge's parser as a push of the build's branch at its commit, that build only."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa

from bot import migrations
from bot.base_images import BaseImageWatch, bases_of, notified, rebuild_id, stale
from bot.build_record import Build, BuildState
from bot.build_result import BuildResult
from bot.build_spec import BuildSpec, SourceSpec
from bot.commit_status import status_for
from bot.events import Event, EventKind
from bot.forges import github_webhooks
from bot.registry_notifications import NotificationError, TagPushed, image_tag, pushed_tags
from bot.store import Delivery, Store
from bot.templates import Artifact, RuntimeStage
from tests.fakes.forge import RecordingForge
from tests.support.databases import database_url

__all__ = ["database_url"]  # the fixture

SECRET = "a webhook secret"
BUILDER = "127.0.0.1:5000/s2i-bot/go:latest"
RUNTIME = "127.0.0.1:5000/s2i-bot/go-runtime:latest"
OLD, NEW = "sha256:" + "1" * 64, "sha256:" + "2" * 64
SHA = "a" * 40
ARTIFACT = Artifact("/opt/app-root/app", "/opt/app-root")


def event(action: str, repository: str, tag: str | None, digest: str, media: str) -> Any:
    target = {"mediaType": media, "digest": digest, "repository": repository,
              "url": f"http://127.0.0.1:5000/v2/{repository}/manifests/{digest}"}  # fmt: skip
    if tag is not None:
        target["tag"] = tag
    return {"id": "e", "action": action, "target": target,
            "request": {"host": "registry.example:5000", "method": "PUT"}}  # fmt: skip


MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def test_a_notification_names_the_tags_a_push_pointed_at_a_manifest() -> None:
    body = json.dumps({"events": [
        event("push", "s2i-bot/go", None, OLD, LAYER),  # a layer: no tag
        event("pull", "s2i-bot/go", "latest", OLD, MANIFEST),
        event("push", "s2i-bot/go", "latest", NEW, MANIFEST),
        event("push", "s2i-bot/py", "3.12", OLD, "application/vnd.oci.image.index.v1+json"),
        event("push", "s2i-bot/go", "latest", "sha1:xyz", MANIFEST),  # not a digest
    ]}).encode()  # fmt: skip
    first, second = pushed_tags(body)
    assert (first.repository, first.tag, first.digest) == ("s2i-bot/go", "latest", NEW)
    assert first.hosts == {"127.0.0.1:5000", "registry.example:5000"}
    assert first.names(BUILDER) and first.names("registry.example:5000/s2i-bot/go")
    assert not first.names(RUNTIME) and not first.names(f"{BUILDER.split(':latest')[0]}:1.22")
    assert (second.tag, second.digest) == ("3.12", OLD)
    for bad in (b"[", b"[]", b'{"events": 3}'):
        with pytest.raises(NotificationError):
            pushed_tags(bad)


def test_an_image_names_its_registry_repository_and_tag_unless_pinned_or_on_docker_hub() -> None:
    assert image_tag(BUILDER) == ("127.0.0.1:5000", "s2i-bot/go", "latest")
    assert image_tag("127.0.0.1:5000/s2i-bot/go") == ("127.0.0.1:5000", "s2i-bot/go", "latest")
    assert image_tag(f"127.0.0.1:5000/s2i-bot/go@{OLD}") is None
    assert image_tag("python:3.12") is None


def spec(
    name: str = "web", runtime: bool = True, image: str = "127.0.0.1:5000/acme/app",
    tag: str = "main",
) -> BuildSpec:  # fmt: skip
    source = SourceSpec(git_url="http://forge/acme/app.git", sha=SHA, ref="refs/heads/main")
    return BuildSpec(
        name=name, repo="acme/app", forge="github", source=source, template="go",
        builder_image=BUILDER, image=image, tags=(tag,),
        runtime=RuntimeStage(image=RUNTIME, artifacts=(ARTIFACT,)) if runtime else None,
    )  # fmt: skip


def built(
    build_id: int, builder: str | None = OLD, runtime: str | None = OLD, **spec_args: Any
) -> Build:
    return Build(
        build_id, f"d{build_id}", "web", "github", "acme/app", SHA, spec(**spec_args),
        BuildState.SUCCEEDED, "", "sha256:" + "9" * 64, 1000, "refs/heads/main",
        builder_digest=builder, runtime_digest=runtime,
    )  # fmt: skip


def test_a_build_is_stale_when_a_base_it_recorded_points_elsewhere_now() -> None:
    now = {BUILDER: OLD, RUNTIME: NEW}.get
    (rebuild,) = stale([built(1), built(2, runtime=NEW)], now)
    assert (rebuild.build.id, rebuild.image, rebuild.digest) == (1, RUNTIME, NEW)
    assert rebuild.rebuilt_on == f"{RUNTIME}@{NEW}"
    assert stale([built(3, builder=None, runtime=None)], now) == []  # recorded nothing
    unknown: dict[str, str] = {}
    assert stale([built(4)], unknown.get) == []  # the registry could not say
    # A build whose own image is the base that moved is not rebuilt by it.
    itself = built(5, image=BUILDER.removesuffix(":latest"), tag="latest")
    assert [b.image for b in bases_of(itself)] == [RUNTIME]
    assert rebuild_id(built(1), RUNTIME, NEW) == rebuild_id(built(7), RUNTIME, NEW)
    assert rebuild_id(built(1), RUNTIME, NEW) != rebuild_id(built(1), RUNTIME, OLD)


def test_a_notification_says_where_only_the_tags_it_names_point() -> None:
    tags = [TagPushed(frozenset({"127.0.0.1:5000"}), "s2i-bot/go", "latest", OLD),
            TagPushed(frozenset({"127.0.0.1:5000"}), "s2i-bot/go", "latest", NEW)]  # fmt: skip
    now = notified(tags)
    assert (now(BUILDER), now(RUNTIME)) == (NEW, None)


def test_a_rebuilt_builds_status_says_on_what_it_was_rebuilt() -> None:
    rebuilt = built(1)
    assert rebuilt.spec is not None
    record = Build(**{**rebuilt.__dict__, "spec": rebuilt.spec.model_copy(
        update={"rebuilt_on": f"{BUILDER}@{NEW}"})})  # fmt: skip
    description = status_for(record, "http://bot").description
    digest = "sha256:" + "9" * 64
    assert description == f"{digest}, rebuilt on 127.0.0.1:5000/s2i-bot/go@sha256:222222222222"
    assert len(description) <= 140  # GitHub's limit: nothing cut
    assert status_for(rebuilt, "http://bot").description.startswith("sha256:9999")


def record(store: Store, name: str, ref: str, state: BuildState, digests: tuple[str, str] | None,
           delivery_id: str) -> Build:  # fmt: skip
    store.add_delivery(Delivery(delivery_id, "github", "push", {}, b"{}"))
    build = store.add_build(
        delivery_id=delivery_id, name=name, forge="github", repo="acme/app", sha=SHA,
        spec=spec(name), ref_key=ref,
    )  # fmt: skip
    if state.finished:
        builder, runtime = digests or (None, None)
        result = BuildResult(
            state="succeeded" if state is BuildState.SUCCEEDED else "failed",
            digest="sha256:" + "9" * 64, builder_digest=builder, runtime_digest=runtime,
        )  # fmt: skip
        store.finish(build.id, result)
    return store.get_build(build.id)


def test_rebuilds_are_stored_once_per_new_digest_for_the_latest_successful_build_of_each_branch(
    database_url: str,
) -> None:
    store = Store(database_url)
    web = record(store, "web", "refs/heads/main", BuildState.SUCCEEDED, (OLD, OLD), "d1")
    assert (web.builder_digest, web.runtime_digest) == (OLD, OLD)  # recorded, read back
    record(store, "web", "refs/heads/main", BuildState.FAILED, None, "d2")  # web@d1 still counts
    record(store, "api", "refs/heads/main", BuildState.SUCCEEDED, (OLD, OLD), "d3")
    record(store, "api", "refs/heads/main", BuildState.QUEUED, None, "d4")  # builds anew anyway
    record(store, "web", "refs/tags/v1", BuildState.SUCCEEDED, (OLD, OLD), "d5")  # tags stay
    record(store, "web", "refs/heads/dev", BuildState.SUCCEEDED, (NEW, OLD), "d6")  # up to date
    for done in ("d1", "d2", "d3", "d4", "d5", "d6"):
        store.finish_delivery(done, "done")
    assert [b.delivery_id for b in store.last_successful_branch_builds()] == ["d1", "d6"]

    forge = RecordingForge()
    forge.ids["acme/app"] = 42
    webhooks = {"github": github_webhooks.github_webhooks(SECRET)}
    asked: list[str] = []

    def registry(image: str) -> str | None:
        asked.append(image)
        return {BUILDER: NEW, RUNTIME: OLD}[image]

    watch = BaseImageWatch(store, {"github": forge}, webhooks, registry)
    (delivery,) = watch.check()
    assert sorted(asked) == sorted([BUILDER, RUNTIME])  # each image asked once per pass
    assert delivery.id == rebuild_id(web, BUILDER, NEW)
    parsed = webhooks["github"].parse(delivery.headers, delivery.body)
    assert isinstance(parsed, Event)
    assert (parsed.kind, parsed.ref, parsed.sha, parsed.only_builds) == (
        EventKind.PUSH, "refs/heads/main", SHA, ("web",),
    )  # fmt: skip
    assert parsed.rebuilt_on == f"{BUILDER}@{NEW}"
    # The notification of the same digest, and the next pass, store nothing more.
    tags = [TagPushed(frozenset({"127.0.0.1:5000"}), "s2i-bot/go", "latest", NEW)]
    assert watch.pushed(tags) == [] and watch.check() == []
    assert [d.id for d in store.unprocessed_deliveries()] == [delivery.id]
    store.close()


def test_a_database_of_the_replicas_schema_is_upgraded_and_its_builds_have_no_digests(
    database_url: str,
) -> None:
    """0003 -> 0004: builds made before record no digests, so nothing rebuilds them."""
    engine = sa.create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        migrations.upgrade(conn, "0003")
        conn.execute(
            sa.text(
                "INSERT INTO deliveries (id, forge, event, headers, body, received_at, attempts)"
                " VALUES ('old', 'github', 'push', '{}', :body, '2025-01-01 00:00:00', 0)"
            ),
            {"body": b"{}"},
        )
        conn.execute(
            sa.text(
                "INSERT INTO builds (id, delivery_id, name, forge, repo, sha, ref_key, spec, "
                "state, reason, created_at, key) VALUES (1, 'old', 'web', 'github', 'acme/app',"
                " :sha, 'refs/heads/main', :spec, 'succeeded', '', '2025-01-01 00:00:00', 'k1')"
            ),
            {"sha": SHA, "spec": spec().model_dump_json()},
        )
    engine.dispose()
    store = Store(database_url)
    (old,) = store.last_successful_branch_builds()
    assert (old.builder_digest, old.runtime_digest) == (None, None) and bases_of(old) == []
    store.close()
