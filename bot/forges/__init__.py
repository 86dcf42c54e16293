"""Forge drivers. `make_forges` builds the ones the settings configure, and refuses to start
a forge that would take webhooks nobody signed.

A forge is on when it is configured: GitHub when `github.token` or `github.app_id` is set,
GitLab when `gitlab.url` is. An enabled forge needs its webhook secret; without one the bot
does not start, unless `insecure_unsigned_webhooks: true` says so (warned at every start).
A forge that is off has no webhook route: POST /webhooks/<forge> answers 404.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.settings import ENV_PREFIX, SettingsError

if TYPE_CHECKING:
    from pydantic import SecretStr

    from bot.forges.base import Forge
    from bot.metrics import Metrics
    from bot.settings import Settings

log = logging.getLogger(__name__)


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def _setting(forge: str, key: str) -> str:
    """How an operator sets forge.key: in the file, the environment, or a file beside it."""
    env = f"{ENV_PREFIX}{forge.upper()}__{key.upper()}"
    return f"{forge}.{key} (or {env}, or {forge}.{key}_file)"


def github_enabled(settings: Settings) -> bool:
    return settings.github.token is not None or settings.github.app_id is not None


def gitlab_enabled(settings: Settings) -> bool:
    return bool(settings.gitlab.url)


def _webhook_secret(settings: Settings, forge: str, secret: SecretStr | None) -> str | None:
    if secret is not None:
        return secret.get_secret_value()
    if not settings.insecure_unsigned_webhooks:
        raise SettingsError(
            f"{_setting(forge, 'webhook_secret')} is not set: {forge} is configured, and "
            "without the secret anyone who can reach the bot could start builds. Set the "
            "secret the forge's webhook signs with (insecure_unsigned_webhooks: true accepts "
            "unsigned webhooks, for local experiments only)"
        )
    return None


def webhook_secrets(settings: Settings) -> dict[str, str | None]:
    """The enabled forges by name, each with the secret its webhooks are signed with (None:
    unsigned, which insecure_unsigned_webhooks allows); SettingsError (one line per problem)
    when a forge is configured incompletely or none is. It imports no client library, so
    `s2i-bot serve` refuses such settings before it imports the server (bot/cli.py)."""
    secrets: dict[str, str | None] = {}
    if github_enabled(settings):
        if settings.github.app_id is not None and settings.github.private_key is None:
            raise SettingsError(
                f"github.app_id is set but {_setting('github', 'private_key')} is not: a "
                "GitHub App authenticates with its private key (PEM)"
            )
        secrets["github"] = _webhook_secret(settings, "github", settings.github.webhook_secret)
    if gitlab_enabled(settings):
        secrets["gitlab"] = _webhook_secret(settings, "gitlab", settings.gitlab.webhook_secret)
    if not secrets:
        raise SettingsError(
            f"no forge is configured: set {_setting('github', 'token')} or github.app_id for "
            f"GitHub, or gitlab.url (or {ENV_PREFIX}GITLAB__URL) for GitLab"
        )
    return secrets


def make_forges(settings: Settings, metrics: Metrics | None = None) -> dict[str, Forge]:
    """The enabled forges by name, their API calls counted in `metrics`; SettingsError (one
    line per problem) when a forge is configured incompletely or none is."""
    # Imported here: each client library is imported only by its driver, and only when used.
    from bot.forges.base import Forge
    from bot.forges.github_api import GitHubApi, web_url
    from bot.forges.github_webhooks import github_webhooks
    from bot.forges.gitlab_api import GitLabApi
    from bot.forges.gitlab_webhooks import gitlab_webhooks

    secrets = webhook_secrets(settings)
    for forge, secret in secrets.items():
        if secret is None:
            log.warning(
                "INSECURE: %s has no webhook secret and insecure_unsigned_webhooks is true: "
                "anyone who can reach POST /webhooks/%s can start builds; set %s",
                forge, forge, _setting(forge, "webhook_secret"),
            )  # fmt: skip
    github, gitlab = settings.github, settings.gitlab
    forges: dict[str, Forge] = {}
    if "github" in secrets:
        git_url = github.git_url
        if not git_url:
            try:
                git_url = web_url(github.api_url)
            except ValueError as exc:
                raise SettingsError(f"github.api_url: {exc}; set github.git_url") from None
        forges["github"] = Forge(
            github_webhooks(secrets["github"]),
            GitHubApi(
                github.api_url,
                _secret(github.token),
                app_id=github.app_id,
                private_key=_secret(github.private_key),
                git_url=git_url,
                metrics=metrics,
            ),
        )
    if "gitlab" in secrets:
        forges["gitlab"] = Forge(
            gitlab_webhooks(secrets["gitlab"]),
            GitLabApi(
                gitlab.url,
                _secret(gitlab.token),
                git_url=gitlab.git_url or None,
                metrics=metrics,
            ),
        )
    return forges
