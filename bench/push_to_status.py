"""Benchmark: signed push -> success status through s2i-bot, against the same build by hand.

Both sides build the same Go sample with a fresh one-line change each round (so no engine
cache hides the assemble step), on the same engine and registry, alternating, in one run:

  bot:     POST a signed push to `s2i-bot serve` (fake GitHub), wait for the success status
  by hand: s2i build --as-dockerfile, append the runtime stage, docker build, docker push

Two apps: `small` is the Go sample itself (its build takes about a second and a half, so the
bot's fixed costs show: fetching the source, starting the runner, reading labels); `medium`
adds 90k lines of generated Go (a build of some seconds, as real services have).

It prints the median of each, their ratio (goal: at most 1.10), and the sizes of the
builder-stage and final images.

    .venv/bin/python -m bench.push_to_status [--rounds 3] [--apps small,medium]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from tests.fakes.github import FakeGitHub, FakeRepo
from tests.fakes.webhooks import ZERO_SHA, github_headers, push_payload
from tests.support.apps import generated_go
from tests.support.bot_process import REPO_ROOT, BotProcess
from tests.support.forges import GITHUB_TOKEN, WEBHOOK_SECRET, GitHubHarness
from tests.support.names import unique
from tests.support.outcomes import final_status
from tests.support.testenv import ProvisionedEnv

APP = REPO_ROOT / "tests" / "apps" / "go-hello"


GENERATED_FILES = {"small": 0, "medium": 40}


def app_files(nonce: str, app: str = "small") -> dict[str, str | bytes | None]:
    files: dict[str, str | bytes | None] = {
        str(p.relative_to(APP)): p.read_bytes() for p in APP.rglob("*") if p.is_file()
    }
    files["main.go"] = (APP / "main.go").read_text() + f"\n// round {nonce}\n"
    for index in range(GENERATED_FILES[app]):
        files[f"generated{index}.go"] = generated_go(index)  # medium: some seconds of compiling
    return files


def by_bot(
    github: FakeGitHub, bot: BotProcess, repo: FakeRepo, image: str, nonce: str, app: str
) -> float:
    config = (
        f"builds:\n  - name: web\n    template: go\n    image: {image}\n"
        "    triggers: {branches: [main]}\n"
    )
    sha = repo.commit(app_files(nonce, app) | {".s2i.yaml": config}, f"round {nonce}")
    body = json.dumps(push_payload(repo, ref="refs/heads/main", before=ZERO_SHA, after=sha))
    headers = github_headers("push", body.encode(), WEBHOOK_SECRET)
    start = time.monotonic()
    httpx.post(f"{bot.url}/webhooks/github", content=body, headers=headers).raise_for_status()

    status = final_status(GitHubHarness(github, GITHUB_TOKEN), repo.full_name, sha)
    elapsed = time.monotonic() - start
    if status.state != "success":
        raise SystemExit(f"the bot's build failed: {status}")
    return elapsed


def by_hand(
    env: ProvisionedEnv, work: Path, image: str, nonce: str, app: str
) -> tuple[float, Path]:
    source, context = work / f"src-{nonce}", work / f"ctx-{nonce}"
    source.mkdir()
    for name, content in app_files(nonce, app).items():
        path = source / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content or b"")
    docker = ["docker", "--config", str(work / "docker")]
    start = time.monotonic()
    subprocess.run(
        [env.s2i, "build", str(source), env.images["go"], "--as-dockerfile",
         str(context / "Dockerfile"), "--scripts-url", "image:///usr/libexec/s2i",
         "--assemble-user", "1001", "--destination", "/tmp"],
        check=True, capture_output=True,
    )  # fmt: skip
    with (context / "Dockerfile").open("a") as f:
        f.write(
            f"\nFROM {env.images['go-runtime']}\n"
            "COPY --from=0 --chown=1001:0 /opt/app-root/app /opt/app-root/\n"
            'USER 1001\nCMD ["/usr/libexec/s2i/run"]\n'
        )
    legacy_build([*docker, "build", "--pull", "-t", f"{image}:main", str(context)])
    subprocess.run([*docker, "push", f"{image}:main"], check=True, capture_output=True)
    return time.monotonic() - start, context


def legacy_build(argv: list[str]) -> None:
    """docker build with the classic builder, as the bot's docker engine runs it."""
    subprocess.run(argv, check=True, capture_output=True, env=os.environ | {"DOCKER_BUILDKIT": "0"})


def image_size(ref: str) -> int:
    out = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Size}}", ref],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return int(out.stdout)


def builder_stage_size(context: Path, tag: str) -> int:
    """Build only s2i's stage (the Dockerfile up to our runtime stage) and measure it."""
    text = (context / "Dockerfile").read_text()
    (context / "Dockerfile.builder").write_text(text[: text.rindex("\nFROM ")] + "\n")
    legacy_build(
        ["docker", "build", "-f", str(context / "Dockerfile.builder"), "-t", tag, str(context)]
    )
    return image_size(tag)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--apps", default="small,medium")
    args = parser.parse_args()
    env = ProvisionedEnv.load()
    work = Path(tempfile.mkdtemp(prefix="s2i-bot-bench-"))
    (work / "docker").mkdir()
    env.auth_file(work / "docker").rename(work / "docker" / "config.json")
    try:
        with FakeGitHub(GITHUB_TOKEN) as github:
            bot = BotProcess(
                work,
                {
                    "github": {"api_url": github.api_url, "token": GITHUB_TOKEN,
                               "webhook_secret": WEBHOOK_SECRET},
                    "builder_registry": env.builder_registry,
                    "registry_auth_file": str(env.auth_file(work)),
                    "s2i": env.s2i, "engine": "docker",
                },
            ).start()  # fmt: skip
            try:
                for app in args.apps.split(","):
                    run_case(env, github, bot, work, app, args.rounds)
            finally:
                bot.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_case(
    env: ProvisionedEnv, github: FakeGitHub, bot: BotProcess, work: Path, app: str, rounds: int
) -> None:
    repo = github.create_repo(unique(f"bench/{app}"))  # runs side by side never share images
    bot_image = f"{env.registry}/{repo.full_name}/bot"  # under the repository's name (image_policy)
    hand_image = f"{env.registry}/{repo.full_name}-hand"
    bot_times, hand_times = [], []
    for round_ in range(rounds):
        nonce = f"{app}-{round_}-{time.time_ns()}"
        hand, context = by_hand(env, work, hand_image, nonce, app)
        bot_time = by_bot(github, bot, repo, bot_image, nonce, app)
        hand_times.append(hand)
        bot_times.append(bot_time)
        print(f"[{app}] round {round_ + 1}: bot {bot_time:.2f}s  by hand {hand:.2f}s", flush=True)
    bot_median, hand_median = statistics.median(bot_times), statistics.median(hand_times)
    builder = builder_stage_size(context, f"s2i-bot-bench/{app}-builder-stage")
    final = image_size(f"{hand_image}:main")
    print(f"[{app}] push -> success status (bot, median of {rounds}): {bot_median:.2f}s")
    print(f"[{app}] s2i + docker build + push (by hand, median):   {hand_median:.2f}s")
    print(f"[{app}] ratio bot / by hand: {bot_median / hand_median:.2f} (goal <= 1.10)")
    share = final / builder
    print(f"[{app}] builder-stage image: {builder / 1e6:.1f} MB; ", end="")
    print(f"final image: {final / 1e6:.1f} MB ({share:.2f} of the builder stage)", flush=True)


if __name__ == "__main__":
    main()
