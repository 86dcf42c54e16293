"""`s2i-bot`: the command line.

s2i-bot serve [--config config/bot.yaml]    run the bot (embedded default: SQLite, local executor)
s2i-bot validate [FILE]                      check a .s2i.yaml against the known templates
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from bot.build_result import EXIT_CODES
from bot.repo_config import FILE_NAME, RepoConfigError, parse_repo_config, schema
from bot.settings import Settings, SettingsError, load_settings
from bot.templates import TemplateError, load_templates


def _serve(settings: Settings) -> int:
    import uvicorn

    from bot.web.app import create_app
    from bot.wiring import build_bot

    try:
        bot = build_bot(settings)
    except (TemplateError, SettingsError) as exc:
        print(f"s2i-bot: {exc}", file=sys.stderr)
        return 2
    uvicorn.run(create_app(bot), host=settings.host, port=settings.port, log_level="info")
    return 0


def _validate(settings: Settings, path: Path) -> int:
    templates = load_templates(settings.templates_dir)
    try:
        config = parse_repo_config(path.read_text(), templates=templates.keys(), path=str(path))
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

    from bot.runner.credentials import Credentials
    from bot.runner.pipeline import RunnerOptions
    from bot.working_tree_build import build_locally, local_specs

    templates = load_templates(settings.templates_dir)
    try:
        specs = local_specs(
            path, templates, builder_registry=settings.builder_registry, names=names
        )
    except (OSError, RepoConfigError) as exc:
        print(f"s2i-bot: {exc}", file=sys.stderr)
        return 2
    if not specs:
        print(f"s2i-bot: no build named {', '.join(names or [])} in {path / FILE_NAME}",
              file=sys.stderr)  # fmt: skip
        return 2
    auth = settings.registry_auth_file
    credentials = Credentials(None, json.loads(auth.read_text()) if auth else {"auths": {}})
    options = RunnerOptions(settings.engine, settings.s2i, tuple(settings.insecure_registries))
    with tempfile.TemporaryDirectory(prefix="s2i-bot-build-") as workdir:
        results = build_locally(specs, credentials, Path(workdir), options)
    for spec, result in zip(specs, results, strict=True):
        if result.state == "succeeded":
            print(f"{spec.name}: {spec.image}@{result.digest} ({', '.join(spec.outputs)})")
        else:
            print(f"{spec.name}: {result.state}: {result.reason}", file=sys.stderr)
    return max(EXIT_CODES[r.state] for r in results)


def main(argv: list[str] | None = None) -> int:
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
    sub.add_parser("schema", help=f"print the JSON Schema of {FILE_NAME}")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    config = args.config
    if config is None and Path("config/bot.yaml").exists():
        config = Path("config/bot.yaml")
    settings = load_settings(config)
    if args.command == "serve":
        return _serve(settings)
    if args.command == "build":
        return _build(settings, args.path, args.name)
    if args.command == "templates":
        return _templates(settings)
    if args.command == "schema":
        print(json.dumps(schema(), indent=2))
        return 0
    return _validate(settings, args.file)


if __name__ == "__main__":
    sys.exit(main())
