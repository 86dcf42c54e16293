"""bot/missed_deliveries.py: which logged deliveries to fetch (pure), how a fetched one is
stored (sealed, so the same parser takes it), and a pass against a real store."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.catch_up import catch_up_id
from bot.events import Event, EventKind
from bot.forges.base import HookDeliveryItem, LoggedDelivery
from bot.forges.github_webhooks import github_webhooks, signature_of
from bot.missed_deliveries import (
    OVERLAP,
    RECOVERED_HEADER,
    MissedDeliveries,
    delivery_of,
    oldest_wanted,
    to_fetch,
)
from bot.store import Delivery, Store
from tests.fakes.forge import RecordingForge

SECRET = "a webhook secret"
HOOK = "acme/app:7"
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
SHA = "a" * 40


def item(guid: str, minutes_ago: int, status_code: int = 502, entry: int = 0) -> HookDeliveryItem:
    entry = entry or 1000 - minutes_ago
    when = NOW - timedelta(minutes=minutes_ago)
    return HookDeliveryItem(HOOK, entry, guid, "push", None, when, status_code)


def push(guid: str) -> LoggedDelivery:
    payload = {
        "ref": "refs/heads/main", "after": SHA, "sender": {"login": "octocat"},
        "repository": {"id": 42, "full_name": "acme/app", "html_url": "https://x/acme/app"},
    }  # fmt: skip
    body = json.dumps(payload).encode()
    headers = {
        "X-GitHub-Delivery": guid, "X-GitHub-Event": "push", "Content-Type": "application/json",
        "X-Hub-Signature-256": signature_of(body, "the secret the hook had then"),
    }  # fmt: skip
    return LoggedDelivery(guid, "push", headers, payload)


def test_what_the_store_has_or_the_bot_acknowledged_is_not_fetched() -> None:
    listed = [
        item("stored", 5),
        item("acked", 4, status_code=202),
        item("ping", 3, status_code=200),
        item("missed", 2),
    ]
    chosen, waiting = to_fetch(listed, {"stored"}, limit=10)
    assert [i.guid for i in chosen] == ["missed"] and waiting == 0


def test_an_event_is_fetched_once_whatever_its_attempts_and_not_when_one_was_acknowledged() -> None:
    failed_twice = [item("twice", 9, entry=1), item("twice", 8, entry=2)]
    redelivered = [item("redelivered", 7, entry=3), item("redelivered", 1, 202, entry=4)]
    chosen, _ = to_fetch([*failed_twice, *redelivered], set(), limit=10)
    assert [(i.guid, i.id) for i in chosen] == [("twice", 1)]


def test_the_oldest_are_fetched_first_and_a_pass_takes_at_most_its_limit() -> None:
    listed = [item("newest", 1), item("middle", 5), item("oldest", 9)]  # as GitHub lists them
    chosen, waiting = to_fetch(listed, set(), limit=2)
    assert [i.guid for i in chosen] == ["oldest", "middle"] and waiting == 1


def test_the_logs_are_read_back_to_the_max_age_and_never_past_the_retention() -> None:
    assert oldest_wanted(NOW, 3600, retention_days=30) == NOW - timedelta(hours=1)
    assert oldest_wanted(NOW, 7 * 86400, retention_days=2) == NOW - timedelta(days=2)
    assert oldest_wanted(NOW, 7 * 86400, retention_days=0) == NOW - timedelta(days=7)


def test_a_recovered_delivery_is_stored_under_its_guid_and_passes_the_same_parser() -> None:
    webhooks = github_webhooks(SECRET)
    logged = push("guid-1")
    delivery = delivery_of(logged, item("guid-1", 3), webhooks)
    assert (delivery.id, delivery.forge, delivery.event) == ("guid-1", "github", "push")
    assert delivery.headers[RECOVERED_HEADER] == f"{HOOK} delivery 997"
    event = webhooks.parse(delivery.headers, delivery.body)  # the secret's check included
    assert isinstance(event, Event) and (event.kind, event.sha) == (EventKind.PUSH, SHA)
    assert event.delivery_id == "guid-1"


def test_a_form_encoded_hook_delivery_is_stored_as_json() -> None:
    logged = push("guid-2")
    form = {**logged.headers, "Content-Type": "application/x-www-form-urlencoded"}
    delivery = delivery_of(
        LoggedDelivery("guid-2", "push", form, logged.payload), item("guid-2", 1),
        github_webhooks(SECRET),
    )  # fmt: skip
    assert delivery.headers["content-type"] == "application/json"
    assert json.loads(delivery.body) == logged.payload


def test_a_pass_stores_what_was_missed_once_and_never_fetches_it_again(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    github = RecordingForge()
    github.hook_logs[HOOK] = [item("missed", 1), item("delivered", 2), item("old", 60 * 48)]
    github.logged[(HOOK, 999)] = push("missed")
    store.add_delivery(Delivery("delivered", "github", "push", {}, b"{}"))
    broken = LoggedDelivery("broken", "push", {}, {"ref": 1})
    missed = MissedDeliveries(
        store, github_webhooks(SECRET), github, [HOOK], max_age=86400, retention_days=30,
        per_pass=10,
    )  # fmt: skip

    found = missed.recover(NOW)
    assert [d.id for d in found] == ["missed"] and github.fetched == [(HOOK, 999)]
    assert missed.recover(NOW) == [] and github.fetched == [(HOOK, 999)]

    # A payload the webhook route would refuse is stored finished, so it is not fetched again.
    github.hook_logs[HOOK].insert(0, item("broken", 0))
    github.logged[(HOOK, 1000)] = broken
    assert missed.recover(NOW) == []
    assert missed.recover(NOW) == [] and github.fetched.count((HOOK, 1000)) == 1
    info = store.delivery_info("broken")
    assert info is not None and info.processed and str(info.outcome).startswith("refused: ")


def test_a_push_whose_head_the_catch_up_built_is_stored_finished_not_built_again(
    tmp_path: Path,
) -> None:
    # The catch-up ran between the push GitHub failed to deliver and GitHub logging the
    # attempt (once it ended), and built the head; the log then offers the push itself.
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    caught_up = catch_up_id("github", "acme/app", "main", SHA)
    store.add_delivery(Delivery(caught_up, "github", "push", {}, b"{}"))
    github = RecordingForge()
    github.hook_logs[HOOK] = [item("pushed", 1), item("other-branch", 2)]
    github.logged[(HOOK, 999)] = push("pushed")
    other = push("other-branch")
    github.logged[(HOOK, 998)] = LoggedDelivery(
        other.guid, other.event, other.headers, {**other.payload, "ref": "refs/heads/dev"}
    )
    missed = MissedDeliveries(
        store, github_webhooks(SECRET), github, [HOOK], max_age=86400, retention_days=30,
        per_pass=10,
    )  # fmt: skip

    assert [d.id for d in missed.recover(NOW)] == ["other-branch"]  # its head: never built
    info = store.delivery_info("pushed")
    assert info is not None and info.processed
    assert info.outcome == f"built by the catch-up ({caught_up})"
    assert missed.recover(NOW) == [] and github.fetched.count((HOOK, 999)) == 1


def test_after_a_clean_pass_the_logs_are_read_back_only_to_what_it_saw(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    github = RecordingForge()
    github.hook_logs[HOOK] = [item("newer", 1), item("older", 30)]
    github.logged[(HOOK, 999)] = push("newer")
    github.logged[(HOOK, 970)] = push("older")
    missed = MissedDeliveries(
        store, github_webhooks(SECRET), github, [HOOK], max_age=86400, retention_days=30,
        per_pass=1,
    )  # fmt: skip
    assert [d.id for d in missed.recover(NOW)] == ["older"]  # one waits: not a clean pass
    assert [d.id for d in missed.recover(NOW)] == ["newer"]
    missed.recover(NOW)
    newest = NOW - timedelta(minutes=1)
    assert github.listed_since == [
        NOW - timedelta(days=1), NOW - timedelta(days=1),
        newest - timedelta(seconds=OVERLAP),
    ]  # fmt: skip
