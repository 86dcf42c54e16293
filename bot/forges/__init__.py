"""Forge drivers. `make_forges` builds the ones the settings configure."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import SecretStr

    from bot.forges.base import Forge
    from bot.settings import Settings


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def make_forges(settings: Settings) -> dict[str, Forge]:
    # Imported here: each client library is imported only by its driver, and only when used.
    from bot.forges.base import Forge
    from bot.forges.github_api import GitHubApi
    from bot.forges.github_webhooks import github_webhooks
    from bot.forges.gitlab_api import GitLabApi
    from bot.forges.gitlab_webhooks import gitlab_webhooks

    github, gitlab = settings.github, settings.gitlab
    forges: dict[str, Forge] = {
        "github": Forge(
            github_webhooks(_secret(github.webhook_secret)),
            GitHubApi(
                github.api_url,
                _secret(github.token),
                app_id=github.app_id,
                private_key=_secret(github.private_key),
            ),
        )
    }
    if gitlab.url:
        forges["gitlab"] = Forge(
            gitlab_webhooks(_secret(gitlab.webhook_secret)),
            GitLabApi(gitlab.url, _secret(gitlab.token)),
        )
    return forges
