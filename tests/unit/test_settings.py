from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.settings import Settings, load_settings


def test_the_environment_overrides_the_file_and_secrets_can_come_from_files(tmp_path: Path) -> None:
    config = tmp_path / "bot.yaml"
    config.write_text("port: 9000\ngithub:\n  api_url: https://ghe.example.com/api/v3\n")
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    settings = load_settings(
        config,
        {
            "S2I_BOT_PORT": "9100",
            "S2I_BOT_GITHUB__TOKEN": "ghp_x",
            "S2I_BOT_GITHUB__WEBHOOK_SECRET_FILE": str(secret),
            "S2I_BOT_INSECURE_REGISTRIES": "a:5000,b:5000",
            "UNRELATED": "1",
        },
    )
    assert settings.port == 9100
    assert settings.github.api_url == "https://ghe.example.com/api/v3"
    assert settings.github.token is not None and settings.github.token.get_secret_value() == "ghp_x"
    assert settings.github.webhook_secret is not None
    assert settings.github.webhook_secret.get_secret_value() == "s3cret"
    assert settings.insecure_registries == ["a:5000", "b:5000"]
    assert settings.public_url == "http://127.0.0.1:9100"
    assert settings.database_url == "sqlite:///var/s2i-bot.db"
    assert "ghp_x" not in repr(settings)


def test_build_limits_have_safe_defaults_and_refuse_what_would_disable_them() -> None:
    settings = Settings()
    assert (settings.max_builds_per_repo, settings.max_build_seconds) == (2, 1800)
    assert (settings.max_log_bytes, settings.retention_days) == (10 * 1024 * 1024, 30)
    for key, value in [
        ("max_builds_per_repo", 0), ("max_build_seconds", 0), ("max_log_bytes", 100),
        ("retention_days", -1),
    ]:  # fmt: skip
        with pytest.raises(ValidationError, match=key):
            Settings.model_validate({key: value})
