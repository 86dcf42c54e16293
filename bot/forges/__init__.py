"""Forge drivers. `make_forges` builds the ones the settings configure."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.forges.base import Forge
    from bot.settings import Settings


def make_forges(settings: Settings) -> dict[str, Forge]:
    from bot.forges.github import GitHubForge

    forges: dict[str, Forge] = {}
    github = settings.github
    forges["github"] = GitHubForge(
        github.api_url,
        github.token.get_secret_value() if github.token else None,
        github.webhook_secret.get_secret_value() if github.webhook_secret else None,
    )
    return forges
