import asyncio
import itertools
from pathlib import Path

import pytest

from bot.build_record import Build
from bot.build_result import BuildResult
from bot.forges.base import PermanentForgeError, RateLimited
from bot.outbox import Outbox
from bot.reporter import Reporter
from bot.store import Delivery, Store
from tests.fakes.forge import RecordingForge

DIGEST = "sha256:" + "a" * 64


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    store.add_delivery(Delivery("d1", "github", "push", {}, b"{}"))
    return store


def add(store: Store, name: str = "web", pr: int | None = None) -> Build:
    return store.add_build(
        delivery_id="d1", name=name, forge="github", repo="acme/app", sha="f" * 40, spec=None,
        pr=pr,
    )  # fmt: skip


def outbox(store: Store, forge: RecordingForge, min_interval: float, settle: float) -> Outbox:
    box = Outbox(store, Reporter(store, {"github": forge}, "http://bot"),
                 min_interval=min_interval, settle=settle)  # fmt: skip
    box.start()
    return box


def sent(forge: RecordingForge) -> list[tuple[str, str]]:
    return [(s.context, s.description) for *_, s in forge.statuses]


def finish(store: Store, build_id: int, result: BuildResult) -> Build:
    finished = store.finish(build_id, result)
    assert finished is not None
    return finished


def running(store: Store, build_id: int) -> Build:
    build = store.mark_running(build_id)
    assert build is not None
    return build


def test_a_superseded_pending_state_is_not_sent(store: Store) -> None:
    forge = RecordingForge()

    async def scenario() -> None:
        box = outbox(store, forge, min_interval=0, settle=0.5)
        build = add(store)
        await box.status(build)
        await box.status(running(store, build.id))
        await asyncio.wait_for(box.drain(), 5)
        await box.status(finish(store, build.id, BuildResult(state="succeeded", digest=DIGEST)))
        await asyncio.wait_for(box.drain(), 5)
        await box.close()

    asyncio.run(scenario())
    assert sent(forge) == [("s2i/web", "building"), ("s2i/web", DIGEST)]


def test_a_pending_state_that_lasts_is_sent_and_writes_are_spaced(store: Store) -> None:
    forge = RecordingForge()

    async def scenario() -> None:
        box = outbox(store, forge, min_interval=0.1, settle=0.01)
        web, api = add(store, "web"), add(store, "api")
        await box.status(web)
        await box.status(api)
        await asyncio.wait_for(box.drain(), 5)
        await box.status(finish(store, api.id, BuildResult(state="failed", reason="no")))
        await asyncio.wait_for(box.drain(), 5)
        await box.close()

    asyncio.run(scenario())
    assert sent(forge) == [("s2i/web", "queued"), ("s2i/api", "queued"), ("s2i/api", "no")]
    times = [t for t, *_ in forge.statuses]
    assert all(b - a >= 0.1 for a, b in itertools.pairwise(times))


def test_a_rate_limited_status_is_sent_again_after_the_wait_the_forge_asked_for(
    store: Store,
) -> None:
    forge = RecordingForge(failures=[RateLimited("slow down", retry_after=0.2)])

    async def scenario() -> float:
        box = outbox(store, forge, min_interval=0, settle=0)
        build = finish(store, add(store).id, BuildResult(state="error", reason="registry down"))
        loop = asyncio.get_running_loop()
        start = loop.time()
        await box.status(build)
        await asyncio.wait_for(box.drain(), 5)
        await box.close()
        return loop.time() - start

    elapsed = asyncio.run(scenario())
    assert sent(forge) == [("s2i/web", "registry down")]
    assert elapsed >= 0.2


def test_what_is_left_at_a_stop_is_sent_after_the_next_start(store: Store) -> None:
    forge = RecordingForge()

    async def stop_before_sending() -> None:
        box = outbox(store, forge, min_interval=0, settle=60)
        await box.status(add(store))
        await box.close()

    async def start_again() -> None:
        box = outbox(store, forge, min_interval=0, settle=0)
        await asyncio.wait_for(box.drain(), 70)
        await box.close()

    asyncio.run(stop_before_sending())
    assert forge.statuses == []
    store.outbox_retry(store.outbox_items()[0], 0, "pretend it was due")  # no need to wait 60s
    asyncio.run(start_again())
    assert sent(forge) == [("s2i/web", "queued")]


def test_a_refused_item_is_dropped_and_the_rest_still_goes(store: Store) -> None:
    forge = RecordingForge(failures=[PermanentForgeError("422 no such commit")])

    async def scenario() -> None:
        box = outbox(store, forge, min_interval=0, settle=0)
        await box.status(finish(store, add(store, "a").id, BuildResult(state="failed")))
        await box.status(finish(store, add(store, "b").id, BuildResult(state="failed")))
        await asyncio.wait_for(box.drain(), 5)
        await box.close()

    asyncio.run(scenario())
    assert [c for c, _ in sent(forge)] == ["s2i/b"]


def test_a_pull_request_build_keeps_one_comment_edited_in_place(store: Store) -> None:
    forge = RecordingForge()

    async def scenario() -> None:
        box = outbox(store, forge, min_interval=0, settle=0)
        build = add(store, pr=7)
        await box.status(build)
        await asyncio.wait_for(box.drain(), 5)
        await box.status(finish(store, build.id, BuildResult(state="succeeded", digest=DIGEST)))
        await asyncio.wait_for(box.drain(), 5)
        await box.close()

    asyncio.run(scenario())
    assert list(forge.comments) == [1]
    repo, pr, body = forge.comments[1]
    assert (repo, pr) == ("acme/app", 7)
    assert "| web |" in body and "succeeded" in body
    assert store.pull_comment("github", "acme/app", 7).comment_id == 1
