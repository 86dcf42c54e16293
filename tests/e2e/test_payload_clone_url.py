"""A correctly signed push whose payload names another clone URL: the build still fetches from
the configured forge and succeeds, with the real s2i, engine and registry, and the host the
payload named never hears from the bot (it asks for credentials, and gets none)."""

from __future__ import annotations

import pytest

from tests.fakes.credential_trap import CredentialTrap
from tests.support.apps import app_files
from tests.support.bot_process import BotProcess
from tests.support.forges import Harness
from tests.support.images import skopeo_inspect
from tests.support.names import unique
from tests.support.outcomes import final_status
from tests.support.testenv import ProvisionedEnv

pytestmark = pytest.mark.e2e


def test_a_payloads_clone_url_is_ignored_and_gets_no_token(
    forge: Harness, forge_bot: BotProcess, testenv: ProvisionedEnv
) -> None:
    repo = forge.create_repo(unique("acme/cloned"))
    image = f"{testenv.registry}/{repo}".lower()
    config = (
        f"builds:\n  - name: web\n    template: go\n    image: {image}\n"
        "    tags: {branch: ['{sha}']}\n    triggers: {branches: [main]}\n"
    )
    sha = forge.commit(repo, app_files("go-hello") | {".s2i.yaml": config})
    with CredentialTrap(host="localhost") as trap:
        forge.push(forge_bot, repo, "main", sha, clone_url=f"{trap.url}/{repo}.git")
        status = final_status(forge, repo, sha)
        state, description = status.state, status.description
    assert state == "success", description
    assert skopeo_inspect(testenv, f"{image}:{sha}")["Digest"] in description
    assert trap.seen == []
