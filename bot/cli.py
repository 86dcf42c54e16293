"""`s2i-bot`: the command line. It works from any directory: settings come from --config
(none: the defaults) and S2I_BOT_* variables, templates from `templates_dir` or the package.

s2i-bot [--config FILE] serve        run the bot (embedded default: SQLite, local executor)
s2i-bot [--config FILE] validate [FILE]    check a .s2i.yaml against the known templates
s2i-bot [--config FILE] build [DIR] [--name N]    the bot's build of a working tree
s2i-bot [--config FILE] templates    list the builder templates
s2i-bot [--config FILE] trigger OWNER/REPO [--ref REF] [--name BUILD] [--forge F] [--url URL]
                                     ask the running bot to build a branch or tag head
                                     (URL: --url, else public_url; token: api_token, e.g.
                                     S2I_BOT_API_TOKEN; bot/trigger_client.py)
s2i-bot schema                       print the JSON Schema of .s2i.yaml

Exit codes: 0 fine; 1 the .s2i.yaml is missing or invalid (validate), or a build failed, or
the bot refused a trigger; 2 the bot cannot run as set up (settings, templates, credentials),
a build met an error, or the bot could not be asked (trigger).
Every error is one line per problem on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bot import log_context
from bot.build_result import EXIT_CODES
from bot.forges import webhook_secrets
from bot.repo_config import FILE_NAME, RepoConfigError, parse_repo_config, schema
from bot.settings import Settings, SettingsError, load_settings
from bot.templates import TemplateError, load_templates

if TYPE_CHECKING:
    from bot.executors.base import Executor


class _SetupError(Exception):
    """What stops a command before it starts (exit 2): a file the user named is unusable."""


def _fail(message: str, code: int) -> int:
    for line in message.splitlines():
        print(f"s2i-bot: {line}", file=sys.stderr)
    return code


def serve(settings: Settings, executor: Executor | None = None) -> int:
    """`s2i-bot serve`; `executor`: one other than the settings' (a test's launcher of this
    command, tests/support/gated_bot.py)."""
    # What refuses the start (templates, forge settings) is checked before the server's
    # imports and its database: a misconfigured bot says so in a fraction of a second and
    # leaves no database behind. build_bot checks the same again.
    load_templates(settings.templates_dir)
    webhook_secrets(settings)
    # JSON lines (log_format: json), from the first (importing the store logs): uvicorn
    # configures no logging of its own, its lines propagate to the root logger and are
    # written as JSON with the bot's.
    json_logs = settings.log_format == "json"
    if json_logs:
        log_context.configure("json")

    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    from bot.web.app import create_app
    from bot.wiring import build_bot

    try:
        bot = build_bot(settings, executor=executor)
    except OSError as exc:  # data_dir, the database file, a secret file that went away
        raise _SetupError(f"cannot start: {exc}") from None
    uvicorn.run(
        create_app(bot), host=settings.host, port=settings.port, log_level="info",
        access_log=settings.access_log, log_config=None if json_logs else LOGGING_CONFIG,
    )  # fmt: skip
    return 0


def _validate(settings: Settings, path: Path) -> int:
    templates = load_templates(settings.templates_dir)
    try:
        text = path.read_text()
    except OSError as exc:
        return _fail(f"{path}: cannot read it: {exc.strerror}; run `s2i-bot validate` in "
                     "the repository's root, or name the file", 1)  # fmt: skip
    try:
        config = parse_repo_config(text, templates=templates.keys(), path=str(path))
    except RepoConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    for build in config.builds:
        kinds = ", ".join(sorted(build.triggers.kinds()))
        print(f"{path}: build '{build.name}' ({build.template}) -> {build.image} on {kinds}")
    return 0


def _templates(settings: Settings) -> int:
    for template in load_templates(settings.templates_dir).values():
        runtime = f" -> {template.runtime.image}" if template.runtime else ""
        print(f"{template.name:10} {template.builder}{runtime}")
        if template.description:
            print(f"{'':10} {template.description}")
    return 0


def _build(settings: Settings, path: Path, names: list[str] | None) -> int:
    import tempfile

    from bot.executors import artifact_policy
    from bot.planner import PlanError
    from bot.runner.credentials import Credentials
    from bot.runner.pipeline import RunnerOptions
    from bot.working_tree_build import build_locally, local_specs

    templates = load_templates(settings.templates_dir)
    config_file = path / FILE_NAME
    if not config_file.is_file():
        return _fail(f"{config_file}: no such file; `s2i-bot build DIR` builds the "
                     f"repository at DIR by its {FILE_NAME}", 2)  # fmt: skip
    try:
        specs = local_specs(
            path, templates, builder_registry=settings.builder_registry, names=names
        )
    except OSError as exc:
        return _fail(f"{config_file}: cannot read it: {exc.strerror}", 2)
    except (RepoConfigError, PlanError) as exc:  # build secrets are the bot's alone
        return _fail(str(exc), 2)
    if not specs:
        return _fail(f"no build named {', '.join(names or [])} in {config_file}", 2)
    credentials = Credentials(None, _registry_auth(settings.registry_auth_file))
    options = RunnerOptions(
        settings.engine, settings.s2i, tuple(settings.insecure_registries),
        artifact_policy(settings),
    )  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="s2i-bot-build-") as workdir:
        results = build_locally(specs, credentials, Path(workdir), options)
    for spec, result in zip(specs, results, strict=True):
        if result.state == "succeeded":
            print(f"{spec.name}: {spec.image}@{result.digest} ({', '.join(spec.outputs)})")
        else:
            print(f"{spec.name}: {result.state}: {result.reason}", file=sys.stderr)
    return max(EXIT_CODES[r.state] for r in results)


def _trigger(settings: Settings, args: argparse.Namespace) -> int:
    from bot.trigger_client import TriggerFailed, request_body, trigger

    token = settings.api_token.get_secret_value() if settings.api_token else None
    body = request_body(args.repo, args.ref, args.name, args.forge)
    try:
        accepted = trigger(args.url or settings.public_url, token, body)
    except TriggerFailed as exc:
        return _fail(str(exc), exc.code)
    print(accepted.summary())
    return 0


def _registry_auth(path: Path | None) -> dict[str, object]:
    if path is None:
        return {"auths": {}}
    try:
        config = json.loads(path.read_text())
    except OSError as exc:
        raise _SetupError(f"registry_auth_file {path}: cannot read it: {exc.strerror}") from None
    except ValueError as exc:
        raise _SetupError(f"registry_auth_file {path}: not JSON: {exc}") from None
    if not isinstance(config, dict):
        raise _SetupError(f"registry_auth_file {path}: not a dockerconfigjson object")
    return config


def main(argv: list[str] | None = None, executor: Executor | None = None) -> int:
    """The command; `executor`: what `serve` builds with instead of the settings' executor
    (tests/support/gated_bot.py)."""
    try:
        return _run(argv, executor)
    except BrokenPipeError:
        # The reader went away (`s2i-bot templates | head`): as Python's signal docs advise,
        # point stdout at devnull so the flush at exit does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _run(argv: list[str] | None, executor: Executor | None) -> int:
    parser = argparse.ArgumentParser(prog="s2i-bot")
    parser.add_argument("--config", type=Path, default=None, help="bot settings (YAML)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the bot")
    validate = sub.add_parser("validate", help=f"check a {FILE_NAME}")
    validate.add_argument("file", type=Path, nargs="?", default=Path(FILE_NAME))
    build = sub.add_parser("build", help="run the bot's build on a local working tree")
    build.add_argument("path", type=Path, nargs="?", default=Path("."))
    build.add_argument("--name", action="append", help="only this build (repeatable)")
    sub.add_parser("templates", help="list the builder templates")
    trigger = sub.add_parser("trigger", help="ask the running bot to build a branch or tag")
    trigger.add_argument("repo", help="OWNER/REPO (GitLab: the project's full path)")
    trigger.add_argument("--ref", help="a branch or tag (default: the default branch)")
    trigger.add_argument("--name", help="only this build of .s2i.yaml")
    trigger.add_argument("--forge", choices=["github", "gitlab"], help="when both are set up")
    trigger.add_argument("--url", help="where the bot answers (default: public_url)")
    sub.add_parser("schema", help=f"print the JSON Schema of {FILE_NAME}")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if args.command == "schema":  # needs no settings
        print(json.dumps(schema(), indent=2))
        return 0
    try:
        settings = load_settings(args.config)
        if args.command == "serve":
            return serve(settings, executor)
        if args.command == "build":
            return _build(settings, args.path, args.name)
        if args.command == "templates":
            return _templates(settings)
        if args.command == "trigger":
            return _trigger(settings, args)
        return _validate(settings, args.file)
    except (SettingsError, TemplateError, _SetupError) as exc:
        return _fail(str(exc), 2)


if __name__ == "__main__":
    sys.exit(main())
