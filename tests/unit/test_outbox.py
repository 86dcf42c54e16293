import asyncio
import itertools

from bot.build import Build, BuildState
from bot.outbox import StatusOutbox
from bot.reporter import Reporter
from tests.fakes.forge import RecordingForge


def build(state: BuildState, build_id: int = 1, name: str = "web") -> Build:
    digest = "sha256:" + "a" * 64 if state is BuildState.SUCCEEDED else None
    return Build(build_id, "d1", name, "github", "acme/app", "f" * 40, None, state, "", digest, 10)


def outbox(forge: RecordingForge, min_interval: float, settle: float) -> StatusOutbox:
    return StatusOutbox(
        Reporter({"github": forge}, "http://bot"), min_interval=min_interval, settle=settle
    )


def test_a_superseded_pending_state_is_not_sent() -> None:
    forge = RecordingForge()

    async def scenario() -> None:
        box = outbox(forge, min_interval=0, settle=0.05)
        box.put(build(BuildState.QUEUED))
        box.put(build(BuildState.RUNNING))
        await box.drain()
        box.put(build(BuildState.SUCCEEDED))
        await box.close()

    asyncio.run(scenario())
    assert [s.description for *_, s in forge.statuses] == [
        "building",
        "sha256:" + "a" * 64 + " (10 B)",
    ]


def test_a_pending_state_that_lasts_is_sent_and_writes_are_spaced() -> None:
    forge = RecordingForge()

    async def scenario() -> None:
        box = outbox(forge, min_interval=0.1, settle=0.01)
        box.put(build(BuildState.QUEUED, 1, "web"))
        box.put(build(BuildState.QUEUED, 2, "api"))
        await box.drain()
        box.put(build(BuildState.FAILED, 2, "api"))
        await box.close()

    asyncio.run(scenario())
    sent = [(s.context, s.state.value) for *_, s in forge.statuses]
    assert sent == [("s2i/web", "pending"), ("s2i/api", "pending"), ("s2i/api", "failure")]
    times = [t for t, *_ in forge.statuses]
    assert all(b - a >= 0.1 for a, b in itertools.pairwise(times))


def test_a_final_state_replacing_a_waiting_one_is_sent_without_the_settle_delay() -> None:
    forge = RecordingForge()

    async def scenario() -> None:
        box = outbox(forge, min_interval=0, settle=60)
        box.put(build(BuildState.QUEUED))
        box.put(build(BuildState.FAILED))
        await asyncio.wait_for(box.close(), timeout=5)

    asyncio.run(scenario())
    assert [s.state.value for *_, s in forge.statuses] == ["failure"]
