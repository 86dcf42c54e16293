import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.settings import Settings, SettingsError, load_settings

REPO_ROOT = Path(__file__).resolve().parents[2]


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


def test_the_api_token_can_come_from_a_file_as_a_mounted_secret(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("operator-token\n")
    settings = load_settings(None, {"S2I_BOT_API_TOKEN_FILE": str(token)})
    assert settings.api_token is not None
    assert settings.api_token.get_secret_value() == "operator-token"
    given = load_settings(None, {"S2I_BOT_API_TOKEN_FILE": str(token), "S2I_BOT_API_TOKEN": "x"})
    assert given.api_token is not None and given.api_token.get_secret_value() == "x"


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


def settings_error(environ: dict[str, str], path: Path | None = None) -> str:
    with pytest.raises(SettingsError) as raised:
        load_settings(path, environ)
    return str(raised.value)


def test_an_unknown_variable_is_refused_naming_the_variable_and_the_known_settings() -> None:
    message = settings_error({"S2I_BOT_STATE": "/var/lib/s2i-bot-dev"})
    assert message.startswith("S2I_BOT_STATE: unknown setting 'state'; known: host, port, ")
    assert "templates_dir" in message and "S2I_DEV_*" in message


def test_an_unknown_nested_variable_lists_the_keys_of_its_section() -> None:
    message = settings_error({"S2I_BOT_GITHUB__TOKN": "ghp_x"})
    assert message.startswith(
        "S2I_BOT_GITHUB__TOKN: unknown setting 'github.tokn'; known in github: api_url, "
    )
    assert ", token, token_file, " in message and "S2I_DEV_*" not in message


def test_an_unknown_key_in_the_file_is_refused_with_the_file_and_line(tmp_path: Path) -> None:
    config = tmp_path / "bot.yaml"
    config.write_text("port: 9000\ngithub:\n  api_url: https://ghe.example.com/api/v3\n  tokn: x\n")
    message = settings_error({}, config)
    assert message.startswith(f"{config}:4: unknown setting 'github.tokn'; known in github: ")


def test_a_bad_value_names_its_variable_and_never_echoes_the_value() -> None:
    message = settings_error({"S2I_BOT_PORT": "eighty", "S2I_BOT_GITHUB": "ghp_s3cr3t"})
    lines = message.splitlines()
    assert "S2I_BOT_PORT: port: Input should be a valid integer" in lines[0] + lines[1]
    assert any(line.startswith("S2I_BOT_GITHUB: github: Input should be") for line in lines)
    assert "ghp_s3cr3t" not in message and "eighty" not in message


def test_every_problem_is_reported_at_once_each_with_its_source(tmp_path: Path) -> None:
    config = tmp_path / "bot.yaml"
    config.write_text("executor: nowhere\n")
    message = settings_error({"S2I_BOT_ENGINE": "podman"}, config)
    assert set(message.splitlines()) == {
        "S2I_BOT_ENGINE: engine: Input should be 'docker' or 'buildah'",
        f"{config}:1: executor: Input should be 'local' or 'kubernetes'",
    }


def test_an_unreadable_secret_file_names_the_variable_that_pointed_to_it(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-secret"
    message = settings_error({"S2I_BOT_GITLAB__TOKEN_FILE": str(missing)})
    assert message == (
        f"S2I_BOT_GITLAB__TOKEN_FILE: gitlab.token_file: cannot read {missing}: "
        "No such file or directory"
    )


def test_a_variable_cannot_reach_inside_a_single_setting(tmp_path: Path) -> None:
    config = tmp_path / "bot.yaml"
    config.write_text("port: 9000\n")
    message = settings_error({"S2I_BOT_PORT__NUMBER": "1"}, config)
    assert message.startswith("S2I_BOT_PORT__NUMBER: 'port' is a single setting, not a section")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("port: [9000\n", "not valid YAML"),
        ("- port\n", "the settings file must be a mapping of keys"),
    ],
)
def test_a_broken_settings_file_is_refused_with_its_path(
    tmp_path: Path, text: str, problem: str
) -> None:
    config = tmp_path / "bot.yaml"
    config.write_text(text)
    assert settings_error({}, config).startswith(f"{config}: {problem}")


def test_a_missing_settings_file_is_refused_with_its_path(tmp_path: Path) -> None:
    missing = tmp_path / "bot.yaml"
    assert settings_error({}, missing) == (
        f"{missing}: cannot read the settings file: No such file or directory"
    )


def test_templates_dir_is_unset_by_default_and_in_the_shipped_settings() -> None:
    assert load_settings(None, {}).templates_dir is None
    assert load_settings(REPO_ROOT / "config" / "bot.yaml", {}).templates_dir is None
    assert load_settings(None, {"S2I_BOT_TEMPLATES_DIR": "/etc/t"}).templates_dir == Path("/etc/t")


def test_no_script_reads_an_s2i_bot_variable_that_is_not_a_setting() -> None:
    """scripts/ and the test support use S2I_DEV_*: every S2I_BOT_* name they mention is one
    the bot accepts, so exporting what they document never stops `s2i-bot`."""
    sources = [*(REPO_ROOT / "scripts").iterdir(), *(REPO_ROOT / "tests" / "support").glob("*.py")]
    names = {
        name
        for path in sources
        if path.is_file()
        for name in re.findall(r"\bS2I_BOT_[A-Z0-9_]*[A-Z0-9]", path.read_text())
    }
    assert names, "the scripts name no setting at all: the pattern is wrong"
    refused = []
    for name in sorted(names):
        try:
            load_settings(None, {name: "/dev/null"})
        except SettingsError as exc:
            if "unknown setting" in str(exc) or "not a setting's name" in str(exc):
                refused.append(str(exc))
    assert refused == []


def test_github_hooks_are_owner_repo_hook_id_in_the_file_or_a_comma_separated_variable(
    tmp_path: Path,
) -> None:
    settings = load_settings(None, {"S2I_BOT_GITHUB__HOOKS": "acme/app:12,acme/web:345"})
    assert settings.github.hooks == ["acme/app:12", "acme/web:345"]
    assert (settings.missed_delivery_interval, settings.catch_up_per_pass) == (300.0, 20)
    config = tmp_path / "bot.yaml"
    config.write_text("github:\n  hooks: [acme/app]\n")
    message = settings_error({}, config)
    assert message.startswith(f"{config}:2: github.hooks: 'acme/app' is not owner/repo:hook_id")
    assert "settings/hooks/<id>" in message


def test_the_database_url_can_come_from_a_mounted_secret_file(tmp_path: Path) -> None:
    url = tmp_path / "url"
    url.write_text("postgresql://bot:pw@db:5432/s2i_bot\n")
    settings = load_settings(None, {"S2I_BOT_DATABASE_URL_FILE": str(url)})
    assert settings.database_url == "postgresql://bot:pw@db:5432/s2i_bot"
    missing = settings_error({"S2I_BOT_DATABASE_URL_FILE": str(tmp_path / "none")})
    assert missing.startswith("S2I_BOT_DATABASE_URL_FILE: ")


def test_leases_are_renewed_before_they_expire() -> None:
    settings = Settings()
    assert (settings.lease_seconds, settings.lease_renew_seconds) == (30.0, 10.0)
    message = settings_error({"S2I_BOT_LEASE_SECONDS": "5", "S2I_BOT_LEASE_RENEW_SECONDS": "5"})
    assert message.startswith("S2I_BOT_LEASE_RENEW_SECONDS: ")
    assert "shorter than lease_seconds" in message


def test_a_github_app_shows_builds_as_check_runs_and_a_token_as_statuses_unless_told() -> None:
    app = {"app_id": 7, "private_key": "pem"}
    assert Settings.model_validate({"github": app}).github.reports == {"check_run"}
    assert Settings.model_validate({"github": {"token": "t"}}).github.reports == {"status"}
    both = {**app, "check_runs": "both"}
    assert Settings.model_validate({"github": both}).github.reports == {"check_run", "status"}
    off = {**app, "check_runs": "off"}
    assert Settings.model_validate({"github": off}).github.reports == {"status"}
    message = settings_error({"S2I_BOT_GITHUB__TOKEN": "t", "S2I_BOT_GITHUB__CHECK_RUNS": "both"})
    assert message.startswith(
        "S2I_BOT_GITHUB__CHECK_RUNS: github.check_runs: 'both' needs github.app_id"
    )


def test_build_secrets_are_checked_at_start_naming_the_file_and_line(tmp_path: Path) -> None:
    npmrc = tmp_path / "npmrc"
    npmrc.write_text("//r/:_authToken=x\n")
    config = tmp_path / "bot.yaml"
    config.write_text(
        f"build_secrets:\n  npmrc:\n    file: {npmrc}\n    repositories: ['acme/*']\n"
        "    env: NPM_CONFIG_USERCONFIG\n"
    )
    settings = load_settings(config, {})
    assert settings.build_secrets["npmrc"].file == npmrc
    npmrc.unlink()
    with pytest.raises(
        SettingsError, match=r"bot.yaml:1: build_secrets: npmrc: cannot read .*npmrc"
    ):
        load_settings(config, {})
    config.write_text("build_secrets:\n  npmrc:\n    file: /x\n    repositories: []\n")
    with pytest.raises(SettingsError, match=r"bot\.yaml:4: build_secrets\.npmrc\.repositories"):
        load_settings(config, {})
    config.write_text("build_secrets:\n  npmrc:\n    repositories: [a/b]\n    env: LD_PRELOAD\n")
    with pytest.raises(SettingsError, match=r"bot\.yaml:4: .*LD_PRELOAD"):
        load_settings(config, {})


def test_jobs_mount_build_secrets_from_kubernetes_secrets_not_files(tmp_path: Path) -> None:
    config = tmp_path / "bot.yaml"
    config.write_text("executor: kubernetes\nbuild_secrets:\n  npmrc:\n    repositories: [a/b]\n")
    with pytest.raises(SettingsError, match="npmrc: Jobs mount a Secret: set kubernetes_secret"):
        load_settings(config, {})
    config.write_text(config.read_text() + "    kubernetes_secret: npm-token/npmrc\n")
    assert load_settings(config, {}).build_secrets["npmrc"].kubernetes_secret == "npm-token/npmrc"


@pytest.mark.parametrize(
    "executor",
    ["executor: local", "executor: kubernetes",
     "executor: kubernetes\nkubernetes:\n  layout: unprivileged"],
)  # fmt: skip
def test_signing_is_accepted_with_every_executor_and_job_layout(
    executor: str, tmp_path: Path
) -> None:
    key = tmp_path / "cosign.key"
    key.write_text("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n")
    config = tmp_path / "bot.yaml"
    config.write_text(f"{executor}\nsigning:\n  key_file: {key}\n")
    assert load_settings(config, {}).signing is not None


def test_an_unreadable_signing_key_or_password_is_refused_at_start_naming_it(
    tmp_path: Path,
) -> None:
    key = tmp_path / "cosign.key"
    key.write_text("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n")
    config = tmp_path / "bot.yaml"
    config.write_text(f"executor: kubernetes\nsigning:\n  key_file: {tmp_path / 'gone.key'}\n")
    with pytest.raises(SettingsError, match=r"signing\.key_file.*cannot read .*gone\.key: No such"):
        load_settings(config, {})
    config.write_text(f"signing:\n  key_file: {key}\n  password_file: {tmp_path / 'nope'}\n")
    with pytest.raises(SettingsError, match=r"signing\.password_file.*cannot read .*nope"):
        load_settings(config, {})
