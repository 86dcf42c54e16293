"""The runner's git fetch gives the forge token to the forge's own origin and to nothing else:
not to a host a redirect leads to, not to another host git is pointed at. Real git against
small HTTP servers that record every Authorization header they receive."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pytest

from bot.runner.errors import BuildError
from bot.runner.process import BuildLog
from bot.runner.source import fetch_source, git_env
from tests.fakes.credential_trap import CredentialTrap

TOKEN = "ghs_" + "s3cr3t" * 6
SHA = "a" * 40
BASIC = "Basic " + base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()


def token_file(tmp_path: Path) -> Path:
    secrets = tmp_path / "secrets"
    secrets.mkdir(mode=0o700)
    path = secrets / "git-token"
    path.write_text(TOKEN)
    return path


def fetch(url: str, tmp_path: Path) -> BuildError:
    """fetch_source from url, which must fail (none of these servers is a git host)."""
    with (tmp_path / "build.log").open("w") as log, pytest.raises(BuildError) as failed:
        fetch_source(url, SHA, "refs/heads/main", tmp_path / "work" / "source", BuildLog(log),
                     token_file=token_file(tmp_path))  # fmt: skip
    return failed.value


def test_the_forge_that_asks_gets_the_token(tmp_path: Path) -> None:
    # The control for the tests below: a host that asks, at the configured URL, gets it.
    with CredentialTrap() as forge:
        fetch(f"{forge.url}/acme/app.git", tmp_path)
    assert forge.credentials_seen() and set(forge.credentials_seen()) == {BASIC}


def test_a_redirect_after_the_token_is_not_followed(tmp_path: Path) -> None:
    with (
        CredentialTrap(host="localhost") as elsewhere,
        CredentialTrap(redirect_to=elsewhere.url) as forge,
    ):
        failure = fetch(f"{forge.url}/acme/app.git", tmp_path)
    assert set(forge.credentials_seen()) == {BASIC}  # the forge asked, and redirected
    assert elsewhere.seen == []
    assert TOKEN not in str(failure)


def test_a_redirect_before_any_token_is_not_followed(tmp_path: Path) -> None:
    with (
        CredentialTrap(host="localhost") as elsewhere,
        CredentialTrap(redirect_to=elsewhere.url, redirect_first=True) as forge,
    ):
        fetch(f"{forge.url}/acme/app.git", tmp_path)
    assert forge.seen and forge.credentials_seen() == []
    assert elsewhere.seen == []


def test_another_host_that_asks_gets_nothing_from_the_forges_helper(tmp_path: Path) -> None:
    # git set up for the forge's URL, pointed at another origin (here: the same server under
    # another name): the credential helper answers for the forge's origin only.
    with CredentialTrap() as forge, CredentialTrap(host="localhost") as elsewhere:
        work = tmp_path / "work"
        work.mkdir()
        env = git_env(work, token_file(tmp_path), f"{forge.url}/acme/app.git")
        listed = subprocess.run(
            ["git", "ls-remote", f"{elsewhere.url}/acme/app.git"],
            env=env, cwd=work, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    assert listed.returncode != 0
    assert elsewhere.seen and elsewhere.credentials_seen() == []
    assert forge.seen == []


def test_a_git_url_with_credentials_or_another_scheme_is_refused(tmp_path: Path) -> None:
    token = token_file(tmp_path)
    for url in ("https://user:pw@forge.example/acme/app.git", "file:///srv/acme/app.git"):
        with pytest.raises(BuildError):
            git_env(tmp_path, token, url)
