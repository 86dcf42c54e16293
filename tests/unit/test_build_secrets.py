"""Build secrets: which repository may use which, as `.s2i.yaml` and the planner see them."""

import pytest

from bot.build_secrets import SecretGrant, SecretPolicy, SecretUse, env_problem, name_problem
from bot.events import Event, EventKind, Repo
from bot.planner import PlanError, plan
from bot.repo_config import RepoConfigError, parse_repo_config
from bot.templates import Template

POLICY = SecretPolicy(
    [
        SecretGrant("npmrc", ("Acme/*",), "NPM_CONFIG_USERCONFIG"),
        SecretGrant("pip-conf", ("acme/api", "tools/*"), "PIP_CONFIG_FILE"),
    ]
)
CONFIG = """\
builds:
  - name: web
    template: nodejs
    image: reg/acme/web
    triggers: {branches: [main]}
    secrets: [npmrc, pip-conf]
"""


def test_repository_globs_match_owner_and_repo_case_insensitively() -> None:
    assert POLICY.problem("npmrc", "acme/web") is None
    assert POLICY.problem("npmrc", "ACME/Web") is None
    assert POLICY.problem("pip-conf", "tools/x") is None
    problem = POLICY.problem("npmrc", "other/web")
    assert problem == (
        "repository other/web may not use build secret 'npmrc' (the operator lets Acme/* use "
        "it: build_secrets.npmrc.repositories)"
    )


def test_an_unknown_secret_names_the_known_ones() -> None:
    assert POLICY.problem("npmrx", "acme/web") == (
        "unknown build secret 'npmrx'; known: npmrc, pip-conf"
    )
    assert "the bot's settings define no build_secrets" in str(
        SecretPolicy().problem("npmrc", "acme/web")
    )


def test_uses_carry_names_and_variables_never_a_value() -> None:
    uses = POLICY.uses(["npmrc"], "acme/web")
    assert uses == (SecretUse(name="npmrc", env="NPM_CONFIG_USERCONFIG"),)
    assert uses[0].target == "/run/secrets/npmrc"
    with pytest.raises(ValueError, match="may not use build secret 'pip-conf'"):
        POLICY.uses(["npmrc", "pip-conf"], "acme/web")


@pytest.mark.parametrize("name", ["NPMRC", "a/b", "-x", "x" * 64, "", "a b", "a,id=x"])
def test_a_secret_name_that_could_break_a_mount_option_or_a_path_is_refused(name: str) -> None:
    assert name_problem(name) is not None


@pytest.mark.parametrize("env", ["PATH", "HOME", "LD_PRELOAD", "lower", "A=B", "A B"])
def test_a_variable_assemble_needs_or_a_bad_name_is_refused(env: str) -> None:
    assert env_problem(env) is not None
    assert env_problem("NPM_CONFIG_USERCONFIG") is None and env_problem("") is None


def test_a_refused_secret_is_a_config_error_on_its_line_and_column() -> None:
    with pytest.raises(RepoConfigError) as caught:
        parse_repo_config(
            CONFIG, templates=["nodejs"],
            secret_problem=lambda name: POLICY.problem(name, "acme/web"),
        )  # fmt: skip
    assert str(caught.value) == (
        ".s2i.yaml line 6, column 22: repository acme/web may not use build secret 'pip-conf' "
        "(the operator lets acme/api, tools/* use it: build_secrets.pip-conf.repositories)"
    )


@pytest.mark.parametrize(
    ("secrets", "message"),
    [
        ("[npmrc, npmrc]", "'secrets' names an item twice"),
        ("[Npm.rc]", "must be the name of a build secret"),
        ("npmrc", "'secrets' must be an array"),
    ],
)
def test_the_secrets_list_has_a_shape(secrets: str, message: str) -> None:
    text = CONFIG.replace("[npmrc, pip-conf]", secrets)
    with pytest.raises(RepoConfigError, match=message):
        parse_repo_config(text, templates=["nodejs"])


def test_the_planner_puts_the_mounts_in_the_spec_and_refuses_what_the_policy_refuses() -> None:
    config = parse_repo_config(CONFIG.replace(", pip-conf", ""), templates=["nodejs"])
    templates = {"nodejs": Template(name="nodejs", builder="s2i-bot/nodejs")}
    event = Event(EventKind.PUSH, Repo("github", "acme/web", "u"), "refs/heads/main", "1" * 40,
                  "a", "d")  # fmt: skip
    (spec,) = plan(event, config, templates, secrets=POLICY)
    assert spec.secrets == (SecretUse(name="npmrc", env="NPM_CONFIG_USERCONFIG"),)
    # What travels (the local executor's spec file, the Job's env): a name and a variable.
    assert spec.model_dump()["secrets"] == ({"name": "npmrc", "env": "NPM_CONFIG_USERCONFIG"},)
    with pytest.raises(PlanError, match="build 'web': unknown build secret 'npmrc'"):
        plan(event, config, templates)
