"""End to end as a GitHub App: a real Go build (the real s2i, engine and registry) that fails
to compile completes its check run on the (fake) GitHub with the compiler's error annotated
on the right file and line of the repository, under the build's context dir; the check
run's summary, as the fake GitHub renders it, photographed in a real browser."""

from __future__ import annotations

import pytest

from tests.fakes.github import FakeGitHub
from tests.fakes.github_app import make_app_key
from tests.support.apps import APPS, app_files
from tests.support.bot_process import BotFactory
from tests.support.browser import chromium, open_page, screenshot
from tests.support.deliveries import push_main
from tests.support.forges import WEBHOOK_SECRET
from tests.support.names import unique
from tests.support.outcomes import BUILD_TIMEOUT
from tests.support.testenv import ProvisionedEnv

pytestmark = pytest.mark.e2e
APP_ID = 5150


def test_a_go_compile_error_is_annotated_on_its_file_and_line_in_the_check_run(
    github: FakeGitHub, start_builder_bot: BotFactory, testenv: ProvisionedEnv
) -> None:
    key, _ = make_app_key()
    github.register_app(APP_ID, key)
    github.install_app(APP_ID, "acme")
    bot = start_builder_bot(
        github={"api_url": github.api_url, "app_id": APP_ID, "private_key": key,
                "webhook_secret": WEBHOOK_SECRET},
    )  # fmt: skip
    repo = github.create_repo(unique("acme/checks"))
    image = f"{testenv.registry}/{repo.full_name}".lower()
    main = (APPS / "go-hello" / "main.go").read_text()
    line = next(n for n, text in enumerate(main.splitlines(), 1) if "greet.Hello(" in text)
    files = {f"services/api/{path}": data for path, data in app_files("go-hello").items()}
    files["services/api/main.go"] = main.replace("greet.Hello(", "greet.Helo(")
    files[".s2i.yaml"] = (
        f"builds:\n  - name: api\n    template: go\n    image: {image}\n"
        "    context: services/api\n    triggers: {branches: [main]}\n"
    )
    sha = repo.commit(files, "a typo")
    push_main(github, bot, repo.full_name, sha)

    github.wait_for(
        lambda: [r.status for r in github.check_runs(repo.full_name)] == ["completed"],
        timeout=BUILD_TIMEOUT,
    )
    (run,) = github.check_runs(repo.full_name)
    assert (run.name, run.head_sha, run.conclusion) == ("s2i/api", sha, "failure")
    assert run.title is not None and run.title.startswith("assemble failed: main.go:")
    (annotation,) = run.annotations
    assert (annotation["path"], annotation["start_line"]) == ("services/api/main.go", line)
    assert annotation["message"] == "undefined: greet.Helo"
    assert "undefined: greet.Helo" in (run.summary or "")  # the log's last lines
    assert github.statuses(repo.full_name, sha) == []  # an App: check runs, not statuses

    # The check run as the fake GitHub shows what it received (its summary's Markdown
    # rendered), in a real browser: README's picture of a check run summary.
    with chromium() as browser, open_page(browser) as page:
        page.goto(github.check_run_page_url(run.id))
        assert "undefined: greet.Helo" in page.inner_text("body")
        screenshot(page, "check-run-failed", top=True)
