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
    from bot.forges.github import GitHubForge
    from bot.forges.gitlab import GitLabForge

    github, gitlab = settings.github, settings.gitlab
    forges: dict[str, Forge] = {
        "github": GitHubForge(
            github.api_url,
            _secret(github.token),
            _secret(github.webhook_secret),
            app_id=github.app_id,
            private_key=_secret(github.private_key),
        )
    }
    if gitlab.url:
        forges["gitlab"] = GitLabForge(
            gitlab.url, _secret(gitlab.token), _secret(gitlab.webhook_secret)
        )
    return forges
