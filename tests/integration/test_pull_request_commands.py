"""Pull request commands through the running bot, on both forges (each against its fake):
`/s2i ok-to-test` approves only the commit the waiting notice named, and the bot ignores
comments by its own account."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import http
from tests.support.bot_in_process import InProcessBot
from tests.support.forges import Harness, forge
from tests.support.names import unique
from tests.support.wait import wait_until

__all__ = ["forge"]  # the fixture (tests/support/forges.py): each test once per forge

WRITER = "maintainer"
BOT_LOGIN = "s2i-bot"  # the account both fakes give the token
CONFIG = (
    "builds:\n  - name: web\n    template: go\n    image: 127.0.0.1:9/acme/web\n"
    "    triggers: {branches: [main], pull_requests: true}\n"
)


@pytest.fixture
def bot(forge: Harness, tmp_path: Path) -> Iterator[InProcessBot]:
    settings = {"forge_write_interval": 0, **forge.bot_settings()}
    if forge.forge == "gitlab":  # the GitHub side must still be configured: point it nowhere
        settings.setdefault("github", {"api_url": "http://127.0.0.1:9/api/v3"})
    workdir = tmp_path / "bot"
    workdir.mkdir()
    started = InProcessBot(workdir, settings).start()
    yield started
    started.stop()


def commented(forge: Harness, repo: str, number: int, text: str) -> None:
    try:
        forge.wait_for(lambda: any(text in c for c in forge.comments(repo, number)), timeout=30)
    except TimeoutError:
        raise AssertionError(f"no comment has {text!r}: {forge.comments(repo, number)}") from None


def outbox_sent(bot: InProcessBot) -> None:
    """Wait until the bot's outbox has nothing left to send (GET /healthz)."""
    wait_until(
        lambda: http.get(f"{bot.url}/healthz").json()["unsent_outbox_items"] == 0,
        timeout=30, what="the bot to have sent everything in its outbox",
    )  # fmt: skip


def test_ok_to_test_after_a_push_builds_nothing_and_the_reply_says_why(
    forge: Harness, bot: InProcessBot
) -> None:
    repo = forge.create_repo(unique("acme/app"))
    forge.commit(repo, {".s2i.yaml": CONFIG})
    forge.grant_write(repo, WRITER)
    number, first = forge.open_pull(bot, repo, {"a.txt": "1"}, author="mallory", fork=True)
    commented(forge, repo, number, f"(for commit {first[:7]})")
    # The forge shows the notice a moment before the bot records when it was published (what
    # an `/s2i ok-to-test` is checked against: bot/reporter.py, Store.notice_shown). The bot
    # records it only after the forge took the comment, so an approval can never name a head
    # the approver was not shown; a comment sent in between rightly finds no notice. The
    # record is part of sending the outbox item, so once /healthz shows nothing unsent, the
    # bot knows the notice is published.
    outbox_sent(bot)

    # A push the approver has not seen (its webhook not even processed yet).
    second = forge.commit(f"mallory/{repo.split('/')[-1]}", {"a.txt": "2"}, branch="feature")
    forge.comment(bot, repo, number, "/s2i ok-to-test", author=WRITER)
    commented(
        forge, repo, number,
        f"@{WRITER}: the head moved from {first[:7]} to {second[:7]} since the notice; "
        f"nothing was built; comment `/s2i ok-to-test` again to build {second[:7]}.",
    )  # fmt: skip
    commented(forge, repo, number, f"(for commit {second[:7]})")  # the notice moved on
    outbox_sent(bot)  # and the bot recorded it (see above)
    assert forge.statuses(repo, first) == [] and forge.statuses(repo, second) == []

    # Approving what the notice now names goes on to plan its builds: the bot's table gets a
    # row for that commit (a build, or a failed s2i/config where the operator's image policy
    # refuses the image).
    forge.comment(bot, repo, number, "/s2i ok-to-test", author=WRITER)
    commented(forge, repo, number, f" | `{second[:7]}` | ")
    assert not any(f"`{first[:7]}`" in c for c in forge.comments(repo, number))
    assert forge.statuses(repo, first) == []


def test_a_comment_by_the_bots_own_account_does_nothing(forge: Harness, bot: InProcessBot) -> None:
    repo = forge.create_repo(unique("acme/app"))
    forge.commit(repo, {"README": "no config"})
    forge.grant_write(repo, WRITER)
    forge.grant_write(repo, BOT_LOGIN)
    number, _ = forge.open_pull(bot, repo, {"a.txt": "1"}, author=WRITER, fork=False)
    forge.comment(bot, repo, number, "/s2i help", author=BOT_LOGIN)
    forge.comment(bot, repo, number, "/s2i help", author=WRITER)  # processed: it is answered
    commented(forge, repo, number, "**s2i-bot commands**")
    helps = [c for c in forge.comments(repo, number) if "**s2i-bot commands**" in c]
    assert len(helps) == 1  # one answer: to the writer, none to the bot itself
    outcomes = [http.get(f"{bot.url}/deliveries/{d}").json()["outcome"] for d in delivered_ids(bot)]
    assert "a comment by the bot itself: ignored" in outcomes


def delivered_ids(bot: InProcessBot) -> list[str]:
    import sqlite3

    with sqlite3.connect(bot.data_dir / "s2i-bot.db") as db:
        return [row[0] for row in db.execute("select id from deliveries")]
