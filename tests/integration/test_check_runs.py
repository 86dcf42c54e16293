"""GitHub check runs (issue 11: 4), the bot as a GitHub App against the fake GitHub, which
checks every request body (annotations too) against GitHub's OpenAPI description: one check
run per build, queued -> in progress -> completed with a summary (image, digest, size, pull
line, timings; a failure's reason and log tail), annotations on the repository's files (50 a
request), "Re-run" for writers only, and a check run a stopped bot left in progress completed
after its restart.

The bot runs in the test's process (tests/support/bot_in_process.py) with fake executors
(tests/fakes/executor.py): a failing build replays the recorded output of a real failing Go
build (tests/unit/data/failures/go-compile-docker.log); the real build is tests/e2e."""

from __future__ import annotations

import json
import re
import signal
import uuid
from pathlib import Path
from typing import Any

import pytest

from bot.build_result import BuildResult
from bot.executors.base import Executor
from tests.fakes.executor import FileGatedExecutor, QuickBuilds
from tests.fakes.github import FakeGitHub, FakeRepo
from tests.fakes.github_app import shared_app_key
from tests.fakes.github_checks import CheckRunRecord
from tests.fakes.webhooks import (
    ZERO_SHA,
    check_run_rerequested_payload,
    check_suite_rerequested_payload,
    github_headers,
    pull_request_payload,
    push_payload,
)
from tests.support import http
from tests.support.bot_in_process import InProcessBot, InProcessBotFactory
from tests.support.bot_process import BotProcess, RunningBot
from tests.support.forges import WEBHOOK_SECRET
from tests.support.names import unique
from tests.support.wait import wait_until

APP_ID = 4242
REGISTRY = "127.0.0.1:9"  # the images' registry, which the policy allows: nothing is pushed
FAILURES = Path(__file__).parents[1] / "unit" / "data" / "failures"
GO_REASON = "assemble failed: main.go:24:7: undefined: fmt.NopeFprintln"
# What the runner writes when a real Go build fails: the engine step, then its verdict.
GO_LOG = (FAILURES / "go-compile-docker.log").read_text() + f"BUILD FAILED: {GO_REASON}\n"
GO_FAILED = BuildResult(state="failed", reason=GO_REASON)
DIGEST = "sha256:" + "5e" * 32
SUCCEEDED = BuildResult(state="succeeded", digest=DIGEST, size=12_345_678)
WAIT = 30  # seconds: the builds end at once; a loaded machine is slow to report them


class App:
    """The GitHub App the bot runs as, installed on one account."""

    def __init__(self, github: FakeGitHub) -> None:
        self.key, _ = shared_app_key()
        github.register_app(APP_ID, self.key)
        self.owner = unique("acme")
        self.installation = github.install_app(APP_ID, self.owner)
        self.github = github

    def start(
        self, start_bot: InProcessBotFactory, executor: Executor, check_runs: str = "auto",
        **more: Any,
    ) -> InProcessBot:  # fmt: skip
        github = {"api_url": self.github.api_url, "app_id": APP_ID, "private_key": self.key,
                  "webhook_secret": WEBHOOK_SECRET, "check_runs": check_runs}  # fmt: skip
        return start_bot(
            executor, builder_registry=REGISTRY, image_policy={"registries": [REGISTRY]},
            missed_delivery_interval=0, github=github, **more,
        )  # fmt: skip

    def repo(self, *names: str, context: str = "") -> tuple[FakeRepo, str]:
        """A repository of the installation's account whose .s2i.yaml builds `names`, each
        into its own image; its head commit."""
        repo = self.github.create_repo(f"{self.owner}/{unique('app')}")
        files = {"main.go": "package main\n", ".s2i.yaml": config(repo, *names, context=context)}
        return repo, repo.commit(files, "app")

    def deliver(self, bot: RunningBot, event: str, payload: dict[str, Any]) -> str:
        """POST a signed delivery from the App's hook; its id."""
        payload["installation"] = {"id": self.installation, "node_id": "MDIzOkludGVncmF0aW9u"}
        body = json.dumps(payload).encode()
        delivery = str(uuid.uuid4())
        headers = github_headers(event, body, WEBHOOK_SECRET, delivery)
        response = http.post(
            f"{bot.url}/webhooks/github", content=body, headers=headers, timeout=10
        )
        assert response.status_code == 202, response.text
        return delivery

    def push(self, bot: RunningBot, repo: FakeRepo, sha: str) -> str:
        payload = push_payload(repo, ref="refs/heads/main", before=ZERO_SHA, after=sha)
        return self.deliver(bot, "push", payload)


@pytest.fixture
def app(github: FakeGitHub) -> App:
    return App(github)


def image(repo: FakeRepo, name: str) -> str:
    """Where build `name` pushes: under the repository's own name, as the policy allows."""
    return f"{REGISTRY}/{repo.full_name.lower()}/{name}"


def config(repo: FakeRepo, *names: str, context: str = "") -> str:
    entries = "".join(
        f"  - name: {name}\n    template: go\n    image: {image(repo, name)}\n"
        f"    triggers: {{branches: [main], pull_requests: true}}\n"
        + (f"    context: {context}\n" if context else "")
        for name in names
    )
    return f"builds:\n{entries}"


def runs(github: FakeGitHub, repo: FakeRepo) -> dict[str, CheckRunRecord]:
    """The repository's newest check run of each name."""
    return {run.name: run for run in github.check_runs(repo.full_name)}


def completed(github: FakeGitHub, repo: FakeRepo, count: int = 1) -> list[CheckRunRecord]:
    """Wait until `count` check runs of the repository are completed; all of its check runs."""
    github.wait_for(
        lambda: sum(r.status == "completed" for r in github.check_runs(repo.full_name)) >= count,
        timeout=WAIT,
    )
    return github.check_runs(repo.full_name)


def outcome(bot: InProcessBot, delivery: str) -> str:
    def processed() -> bool:
        return bool(http.get(f"{bot.url}/deliveries/{delivery}", timeout=5).json().get("processed"))

    wait_until(processed, timeout=WAIT, what=f"delivery {delivery} to be processed")
    return str(http.get(f"{bot.url}/deliveries/{delivery}", timeout=5).json()["outcome"])


def test_each_build_is_one_check_run_queued_then_in_progress_then_completed_with_its_image(
    github: FakeGitHub, app: App, start_bot_in_process: InProcessBotFactory, tmp_path: Path
) -> None:
    gates = tmp_path / "gates"
    gates.mkdir()
    executor = FileGatedExecutor(gates)
    bot = app.start(start_bot_in_process, executor, max_concurrent_builds=1)
    repo, sha = app.repo("api", "web")
    app.push(bot, repo, sha)

    # One build runs, the other waits for the one slot: in progress and queued.
    github.wait_for(
        lambda: sorted(r.status for r in runs(github, repo).values()) == ["in_progress", "queued"],
        timeout=WAIT,
    )
    first = executor.runs()[0][0]
    executor.finish(first, SUCCEEDED)
    github.wait_for(lambda: len(executor.runs()) == 2, timeout=WAIT)
    waiting = next(r for r in runs(github, repo).values() if r.statuses[0] == "queued")
    github.wait_for(lambda: runs(github, repo)[waiting.name].status == "in_progress", timeout=WAIT)
    executor.finish(executor.runs()[1][0], SUCCEEDED)
    checks = completed(github, repo, 2)

    assert len(checks) == 2  # one check run per build, created once, then updated
    assert [r.method for r in github.requests if "/check-runs" in r.path].count("POST") == 2
    waited = runs(github, repo)[waiting.name]
    assert waited.statuses == ["queued", "in_progress", "completed/success"]
    for run in checks:
        assert run.statuses[-2:] == ["in_progress", "completed/success"]
        assert (run.head_sha, run.conclusion, run.app_id) == (sha, "success", APP_ID)
        # The build's page is the details; the check run's external id is the build's key.
        assert run.details_url == f"{bot.url}/builds/{run.external_id}"
        # JSON asked for: the same URL is the build's HTML page for a browser (issue 11: 1).
        json_answer = {"Accept": "application/json"}
        build = http.get(str(run.details_url), headers=json_answer, timeout=5).json()
        assert (build["name"], build["sha"], build["state"]) == (
            run.name[len("s2i/") :],
            sha,
            "succeeded",
        )
        assert run.title == f"{DIGEST} (12.3 MB)"
        summary = run.summary or ""
        pushed = image(repo, run.name[len("s2i/") :])
        assert f"| image | `{pushed}:main` |" in summary
        assert f"| digest | `{DIGEST}` |" in summary and "| size | 12.3 MB |" in summary
        assert f"```\ndocker pull {pushed}@{DIGEST}\n```" in summary
        assert re.search(r"\| queued \| \d+\.\d s \|", summary), summary
        assert re.search(r"\| \*\*total\*\* \| \d+\.\d s \|", summary), summary
        assert run.started_at and run.completed_at
    # A GitHub App shows builds as check runs only (github.check_runs: auto).
    assert github.statuses(repo.full_name, sha) == []


def test_a_failed_go_build_completes_with_its_reason_the_log_tail_and_an_annotation_on_the_file(
    github: FakeGitHub, app: App, start_bot_in_process: InProcessBotFactory
) -> None:
    bot = app.start(start_bot_in_process, QuickBuilds(GO_FAILED, log=GO_LOG))
    repo, sha = app.repo("api", context="services/api")
    app.push(bot, repo, sha)
    (run,) = completed(github, repo)

    assert (run.name, run.conclusion, run.title) == ("s2i/api", "failure", GO_REASON)
    summary = run.summary or ""
    assert f"**Why:** `{GO_REASON}`" in summary
    block = re.search(r"The last 30 lines of the log:\n\n```text\n(.*)\n```\n$", summary, re.S)
    assert block, summary
    shown, logged = block[1].split("\n"), GO_LOG.rstrip("\n").split("\n")[-30:]
    assert len(shown) == 30 and shown[-5:] == logged[-5:]
    # Each line as logged, but a very long one (the LABEL step) cut on one line.
    assert all(
        s == g or (len(g) > 400 and s.endswith("…")) for s, g in zip(shown, logged, strict=True)
    )
    # The compiler printed ./main.go relative to the context dir s2i copied to /tmp/src.
    assert run.annotations == [
        {"path": "services/api/main.go", "start_line": 24, "end_line": 24, "start_column": 7,
         "end_column": 7, "annotation_level": "failure", "message": "undefined: fmt.NopeFprintln",
         "title": "services/api/main.go:24"}
    ]  # fmt: skip
    assert "1 error(s) are annotated" in summary


def test_check_runs_both_sends_commit_statuses_too(
    github: FakeGitHub, app: App, start_bot_in_process: InProcessBotFactory
) -> None:
    bot = app.start(start_bot_in_process, QuickBuilds(SUCCEEDED), check_runs="both")
    repo, sha = app.repo("api")
    app.push(bot, repo, sha)
    (run,) = completed(github, repo)
    github.wait_for(
        lambda: [s["state"] for s in github.statuses(repo.full_name, sha)][-1:] == ["success"],
        timeout=WAIT,
    )
    (status,) = [s for s in github.statuses(repo.full_name, sha) if s["state"] == "success"]
    assert (status["context"], run.name, run.conclusion) == ("s2i/api", "s2i/api", "success")
    assert status["creator"]["login"] == f"app-{APP_ID}[bot]"


def many_errors_log(count: int) -> str:
    lines = ["Step 5/11 : RUN /usr/libexec/s2i/assemble", "# example.com/hello"]
    lines += [f"./pkg/file{i}.go:{i + 1}:2: undefined: name{i}" for i in range(count)]
    return (
        "\n".join(lines)
        + "\nThe command '/bin/sh -c /usr/libexec/s2i/assemble' returned a non-zero code: 1\n"
    )


def test_more_than_fifty_annotations_go_fifty_a_request(
    github: FakeGitHub, app: App, start_bot_in_process: InProcessBotFactory
) -> None:
    failed = BuildResult(
        state="failed", reason="assemble failed: pkg/file0.go:1:2: undefined: name0"
    )
    bot = app.start(start_bot_in_process, QuickBuilds(failed, log=many_errors_log(120)))
    repo, _ = app.repo("api")
    app.push(bot, repo, repo.head())
    github.wait_for(
        lambda: [len(r.annotations) for r in github.check_runs(repo.full_name)] == [120],
        timeout=WAIT,
    )

    (run,) = github.check_runs(repo.full_name)
    sent = [len(body.get("output", {}).get("annotations", [])) for body in run.requests]
    assert [n for n in sent if n] == [50, 50, 20]
    assert [a["path"] for a in run.annotations] == [f"pkg/file{i}.go" for i in range(120)]
    assert [a["start_line"] for a in run.annotations] == list(range(1, 121))
    assert run.conclusion == "failure"


def test_the_fake_shows_a_received_check_run_as_an_html_page(
    github: FakeGitHub, app: App, start_bot_in_process: InProcessBotFactory
) -> None:
    bot = app.start(start_bot_in_process, QuickBuilds(GO_FAILED, log=GO_LOG))
    repo, sha = app.repo("api")
    app.push(bot, repo, sha)
    (run,) = completed(github, repo)

    page = http.get(github.check_run_page_url(run.id), timeout=5)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<table>" in page.text  # the summary's Markdown, rendered
    assert '<pre><code class="language-text">' in page.text
    assert "undefined: fmt.NopeFprintln" in page.text and "main.go:24" in page.text
    assert http.get(github.check_run_page_url(999999), timeout=5).status_code == 404


def test_a_writers_re_run_builds_that_build_again_as_a_new_check_run(
    github: FakeGitHub, app: App, start_bot_in_process: InProcessBotFactory
) -> None:
    executor = QuickBuilds(GO_FAILED, log=GO_LOG)
    bot = app.start(start_bot_in_process, executor)
    repo, sha = app.repo("api", "web")
    repo.set_permission("maintainer", "write")
    app.push(bot, repo, sha)
    first, _ = completed(github, repo, 2)

    payload = check_run_rerequested_payload(repo, first, sender="maintainer")
    delivery = app.deliver(bot, "check_run", payload)
    assert outcome(bot, delivery) == "1 build(s) re-run by maintainer"
    checks = completed(github, repo, 3)
    again = checks[-1]
    assert (again.name, again.head_sha) == (first.name, sha)
    assert again.external_id != first.external_id  # a new build
    assert executor.runs_of(repo.full_name, sha) == 3

    # "Re-run all checks": each build of the commit again.
    suite = check_suite_rerequested_payload(repo, first, sender="maintainer")
    assert outcome(bot, app.deliver(bot, "check_suite", suite)) == "2 build(s) re-run by maintainer"
    completed(github, repo, 5)
    assert executor.runs_of(repo.full_name, sha) == 5


def test_a_re_run_of_a_build_whose_branch_was_built_since_runs_nothing(
    github: FakeGitHub, app: App, start_bot_in_process: InProcessBotFactory
) -> None:
    executor = QuickBuilds(SUCCEEDED)
    bot = app.start(start_bot_in_process, executor)
    repo, old = app.repo("api")
    repo.set_permission("maintainer", "write")
    app.push(bot, repo, old)
    (first,) = completed(github, repo)
    new = repo.commit({"main.go": "package main // newer\n"}, "newer")
    app.push(bot, repo, new)
    completed(github, repo, 2)

    # Its tags (:main) would go back to the old code: the newest build is the one to re-run.
    payload = check_run_rerequested_payload(repo, first, sender="maintainer")
    assert outcome(bot, app.deliver(bot, "check_run", payload)) == (
        f"0 build(s) re-run by maintainer; api: {new[:7]} was built since; re-run that build"
    )
    assert executor.runs_of(repo.full_name, old) == 1
    assert len(github.check_runs(repo.full_name)) == 2


def test_a_readers_re_run_is_refused_with_a_reply_on_the_pull_request(
    github: FakeGitHub, app: App, start_bot_in_process: InProcessBotFactory
) -> None:
    executor = QuickBuilds(GO_FAILED, log=GO_LOG)
    bot = app.start(start_bot_in_process, executor)
    repo, _ = app.repo("api")
    repo.set_permission("maintainer", "write")
    repo.set_permission("reader", "read")
    head = repo.commit({"main.go": "package main // changed\n"}, "a change", branch="feature")
    number = repo.create_pull("feature", author="maintainer")
    app.deliver(bot, "pull_request", pull_request_payload(repo, number, "opened"))
    (run,) = completed(github, repo)
    assert run.head_sha == head

    payload = check_run_rerequested_payload(repo, run, sender="reader")
    delivery = app.deliver(bot, "check_run", payload)
    assert outcome(bot, delivery) == "refused: reader has no write access"
    github.wait_for(
        lambda: any(
            "only users with write access" in c["body"]
            for c in github.comments(repo.full_name, number)
        ),
        timeout=WAIT,
    )
    reply = next(c for c in github.comments(repo.full_name, number) if "@reader" in c["body"])
    assert reply["body"].startswith(
        f"@reader: only users with write access to {repo.full_name} may re-run"
    )
    assert executor.runs_of(repo.full_name, head) == 1
    assert len(github.check_runs(repo.full_name)) == 1


def test_a_check_run_a_killed_bot_left_in_progress_is_completed_after_its_restart(
    github: FakeGitHub, app: App, tmp_path: Path
) -> None:
    """`s2i-bot serve` killed (SIGKILL) mid-build and started again on its data: build
    recovery adopts the build once its lease expired and runs it again, and its check run,
    left in progress, is completed: updated, not created a second time."""
    gates = tmp_path / "gates"
    gates.mkdir()
    executor = FileGatedExecutor(gates)
    workdir = tmp_path / "bot"
    workdir.mkdir()
    settings = {
        "forge_write_interval": 0, "lease_seconds": 2.0, "lease_renew_seconds": 0.5,
        "missed_delivery_interval": 0, "builder_registry": REGISTRY,
        "image_policy": {"registries": [REGISTRY]},
        "github": {"api_url": github.api_url, "app_id": APP_ID, "private_key": app.key,
                   "webhook_secret": WEBHOOK_SECRET},
    }  # fmt: skip
    bot = BotProcess(workdir, settings)
    bot.argv = ["tests.support.gated_bot", str(bot.config_file), str(gates)]
    try:
        bot.start()
        repo, sha = app.repo("api")
        app.push(bot, repo, sha)
        github.wait_for(
            lambda: [r.status for r in github.check_runs(repo.full_name)] == ["in_progress"],
            timeout=WAIT,
        )
        bot.stop(signal.SIGKILL)

        bot.start()
        wait_until(lambda: len(executor.runs()) == 2, timeout=WAIT, what="the build adopted")
        executor.finish(executor.runs()[1][0], GO_FAILED)
        (run,) = completed(github, repo)
    finally:
        bot.stop()
    assert run.conclusion == "failure" and run.title == GO_REASON
    assert run.statuses[-1] == "completed/failure"
    assert [r.method for r in github.requests if "/check-runs" in r.path].count("POST") == 1
