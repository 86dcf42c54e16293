"""Which forges a bot starts with: only configured ones, and only with their webhook secret
(or a loudly warned `insecure_unsigned_webhooks`); every refusal names the setting to set."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from bot.forges import make_forges
from bot.settings import Settings, SettingsError

GITHUB = {"token": "ghp_x", "webhook_secret": "s"}
GITLAB = {"url": "https://gitlab.example.com", "token": "glpat-x", "webhook_secret": "s"}


def forges(**settings: Any) -> list[str]:
    return sorted(make_forges(Settings.model_validate(settings)))


def refusal(**settings: Any) -> str:
    with pytest.raises(SettingsError) as refused:
        make_forges(Settings.model_validate(settings))
    return str(refused.value)


def test_a_forge_is_on_only_when_configured() -> None:
    assert forges(github=GITHUB) == ["github"]
    assert forges(gitlab=GITLAB) == ["gitlab"]
    assert forges(github=GITHUB, gitlab=GITLAB) == ["github", "gitlab"]
    # GitHub needs a token or an App; an api_url alone configures nothing.
    assert forges(github={"api_url": "https://ghe.example.com/api/v3"}, gitlab=GITLAB) == ["gitlab"]


def test_no_forge_at_all_is_refused() -> None:
    assert "no forge is configured" in refusal()


def test_an_enabled_forge_without_its_webhook_secret_is_refused_naming_the_setting() -> None:
    message = refusal(github={"token": "ghp_x"})
    assert message.startswith(
        "github.webhook_secret (or S2I_BOT_GITHUB__WEBHOOK_SECRET, or "
        "github.webhook_secret_file) is not set"
    )
    assert "gitlab.webhook_secret (or S2I_BOT_GITLAB__WEBHOOK_SECRET" in refusal(
        gitlab={"url": "https://gitlab.example.com"}
    )
    assert "github.webhook_secret" in refusal(github={"app_id": 7, "private_key": "k"})


def test_insecure_unsigned_webhooks_starts_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        assert forges(insecure_unsigned_webhooks=True, github={"token": "ghp_x"}) == ["github"]
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert "INSECURE: github has no webhook secret" in record.getMessage()


def test_an_app_without_its_private_key_is_refused() -> None:
    assert "github.private_key (or S2I_BOT_GITHUB__PRIVATE_KEY" in refusal(
        github={"app_id": 7, "webhook_secret": "s"}
    )


def test_an_api_url_of_no_known_shape_needs_git_url() -> None:
    odd = {**GITHUB, "api_url": "https://github.example.com/rest"}
    assert "set github.git_url" in refusal(github=odd)
    assert forges(github={**odd, "git_url": "https://github.example.com"}) == ["github"]
