import asyncio
from pathlib import Path

from bot.build_logs import LogStore
from bot.build_record import Build, BuildState
from bot.build_result import BuildResult
from bot.build_spec import BuildSpec, SourceSpec
from bot.dispatcher import Dispatcher
from bot.outbox import Outbox
from bot.replica import Replica
from bot.reporter import Reporter
from bot.runner.credentials import Credentials
from bot.store import Delivery, Store
from tests.fakes.executor import GatedExecutor
from tests.fakes.forge import RecordingForge


def spec(name: str) -> BuildSpec:
    source = SourceSpec(git_url="http://forge/a/b.git", sha="f" * 40, ref="refs/heads/main")
    return BuildSpec(
        name=name, repo="a/b", forge="github", source=source, template="go",
        builder_image="s2i-bot/go", image="reg/a/b", tags=("main",),
    )  # fmt: skip


def test_builds_run_concurrently_up_to_the_limit_and_each_state_is_stored_and_reported(
    tmp_path: Path,
) -> None:
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    store.add_delivery(Delivery("d1", "github", "push", {}, b"{}"))
    forge, executor = RecordingForge(), GatedExecutor()
    names = ["a", "b", "c"]
    builds = [
        store.add_build(delivery_id="d1", name=n, forge="github", repo="a/b", sha="f" * 40,
                        spec=spec(n))
        for n in names
    ]  # fmt: skip

    async def scenario() -> None:
        outbox = Outbox(
            store, Reporter(store, {"github": forge}, "http://bot"), min_interval=0, settle=0
        )
        outbox.start()
        dispatcher = Dispatcher(
            store, executor, outbox, LogStore(store, tmp_path / "logs"), lambda b: Credentials(), 2
        )
        for build in builds:
            dispatcher.submit(build)
        await executor.wait(lambda: len(executor.running) == 2)
        assert store.get_build(builds[2].id).state is BuildState.QUEUED
        executor.finish(builds[0].id, BuildResult(state="succeeded", digest="sha256:" + "1" * 64))
        await executor.wait(lambda: builds[2].id in executor.running)
        executor.finish(builds[1].id, BuildResult(state="failed", reason="compile error"))
        executor.finish(builds[2].id, BuildResult(state="error", reason="registry down"))
        await asyncio.wait_for(dispatcher.idle(), timeout=5)
        await asyncio.wait_for(outbox.drain(), timeout=5)
        await outbox.close()

    asyncio.run(scenario())
    assert executor.max_running == 2
    states = [store.get_build(b.id).state for b in builds]
    assert states == [BuildState.SUCCEEDED, BuildState.FAILED, BuildState.ERROR]
    final = {s.context: s.state.value for *_, s in forge.statuses}
    assert final == {"s2i/a": "success", "s2i/b": "failure", "s2i/c": "error"}


def test_a_cancelled_build_is_stopped_by_the_executor_and_reported_cancelled(
    tmp_path: Path,
) -> None:
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    store.add_delivery(Delivery("d1", "github", "push", {}, b"{}"))
    forge, executor = RecordingForge(), GatedExecutor()
    build = store.add_build(delivery_id="d1", name="a", forge="github", repo="a/b",
                            sha="f" * 40, spec=spec("a"))  # fmt: skip

    async def scenario() -> None:
        reporter = Reporter(store, {"github": forge}, "http://bot")
        outbox = Outbox(store, reporter, min_interval=0, settle=0)
        outbox.start()
        dispatcher = Dispatcher(
            store, executor, outbox, LogStore(store, tmp_path / "logs"), lambda b: Credentials(), 1
        )
        dispatcher.submit(build)
        await executor.wait(lambda: build.id in executor.running)
        await dispatcher.cancel(build, "cancelled by @maintainer")
        await asyncio.wait_for(dispatcher.idle(), timeout=5)
        await asyncio.wait_for(outbox.drain(), timeout=5)
        await outbox.close()

    asyncio.run(scenario())
    assert executor.cancelled == [build.id]
    assert store.get_build(build.id).state is BuildState.CANCELLED
    *_, last = forge.statuses
    assert (last[3].state.value, last[3].description) == ("cancelled", "cancelled by @maintainer")


def test_a_repository_runs_at_most_its_limit_and_its_next_build_waits_without_a_slot(
    tmp_path: Path,
) -> None:
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    store.add_delivery(Delivery("d1", "github", "push", {}, b"{}"))
    forge, executor = RecordingForge(), GatedExecutor()

    def add(name: str, repo: str) -> Build:
        return store.add_build(delivery_id="d1", name=name, forge="github", repo=repo,
                               sha="f" * 40, spec=spec(name))  # fmt: skip

    busy = [add(f"busy{i}", "acme/busy") for i in range(3)]
    other = add("other", "acme/other")

    async def scenario() -> None:
        outbox = Outbox(
            store, Reporter(store, {"github": forge}, "http://bot"), min_interval=0, settle=0
        )
        outbox.start()
        dispatcher = Dispatcher(
            store, executor, outbox, LogStore(store, tmp_path / "logs"), lambda b: Credentials(), 3,
            max_per_repo=2,
        )  # fmt: skip
        for build in [*busy, other]:
            dispatcher.submit(build)
        # Three shared slots, but acme/busy may hold only two: its third waits, while the
        # other repository's build takes the slot that is left.
        await executor.wait(lambda: executor.running == {busy[0].id, busy[1].id, other.id})
        assert store.get_build(busy[2].id).state is BuildState.QUEUED
        assert busy[2].id not in executor.started
        executor.finish(busy[0].id, BuildResult(state="succeeded", digest="sha256:" + "1" * 64))
        await executor.wait(lambda: busy[2].id in executor.running)
        for build in (busy[1], busy[2], other):
            executor.finish(build.id, BuildResult(state="succeeded", digest="sha256:" + "2" * 64))
        await asyncio.wait_for(dispatcher.idle(), timeout=5)
        await asyncio.wait_for(outbox.drain(), timeout=5)
        await outbox.close()

    asyncio.run(scenario())
    assert executor.started[3] == busy[2].id and len(executor.started) == 4
    assert all(store.get_build(b.id).state is BuildState.SUCCEEDED for b in [*busy, other])


def test_a_build_cancelled_on_another_replica_is_stopped_by_its_owner_and_reported_once(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    owner, other = Store(url, Replica("owner")), Store(url, Replica("other"))
    owner.add_delivery(Delivery("d1", "github", "push", {}, b"{}"))
    forge = RecordingForge()
    build = owner.add_build(delivery_id="d1", name="a", forge="github", repo="a/b",
                            sha="f" * 40, spec=spec("a"))  # fmt: skip
    runs, elsewhere = GatedExecutor(), GatedExecutor()

    def dispatcher(store: Store, executor: GatedExecutor, outbox: Outbox) -> Dispatcher:
        logs = LogStore(store, tmp_path / store.replica.id)
        return Dispatcher(store, executor, outbox, logs, lambda b: Credentials(), 1)

    async def scenario() -> None:
        boxes = [
            Outbox(s, Reporter(s, {"github": forge}, "http://bot"), min_interval=0, settle=0)
            for s in (owner, other)
        ]
        for box in boxes:
            box.start()
        running_here = dispatcher(owner, runs, boxes[0])
        running_here.submit(build)
        await runs.wait(lambda: build.id in runs.running)
        await dispatcher(other, elsewhere, boxes[1]).cancel(build, "superseded by 1234567")
        assert elsewhere.cancelled == [build.id]  # a Job would be deleted from there
        # The owner's heartbeat learns it lost the build, and stops it.
        lost = owner.renew(deliveries_held=set(), builds_held=running_here.held, outbox_held=set())
        assert lost == {build.id}
        await running_here.lose(lost)
        assert runs.running == set()
        await asyncio.wait_for(running_here.idle(), timeout=5)
        for box in reversed(boxes):  # what the other put, then the owner's (woken to look:
            box.wake()  # the outbox-sweep duty does that in a running bot)
            await asyncio.wait_for(box.drain(), timeout=5)
        for box in boxes:
            await box.close()

    asyncio.run(scenario())
    assert owner.get_build(build.id).state is BuildState.CANCELLED
    finals = [s for *_, s in forge.statuses if s.state.value not in ("pending", "running")]
    assert [(s.state.value, s.description) for s in finals] == [
        ("cancelled", "superseded by 1234567")
    ]
