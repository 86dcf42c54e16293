"""Settings -> a wired Bot: the one place that decides which store, forges, executor and
templates a running bot uses. Nothing is started here; bot.web.app starts and stops it."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor

from bot.base_images import BaseImageWatch, registry_digests
from bot.build_logs import LogStore
from bot.build_record import Build
from bot.build_secrets import SecretGrant, SecretPolicy
from bot.catch_up import CatchUp
from bot.delivery_writer import DeliveryWriter
from bot.dispatcher import Dispatcher
from bot.executors import make_executor
from bot.executors.base import Executor
from bot.forges import make_forges
from bot.forges.base import Forge, ForgeApi
from bot.image_policy import ImagePolicy
from bot.intake import Intake
from bot.manual_trigger import ManualTrigger
from bot.metrics import Metrics
from bot.missed_deliveries import FORGE as HOOK_LOG_FORGE
from bot.missed_deliveries import HookLog, MissedDeliveries
from bot.orchestrator import Bot
from bot.outbox import Outbox
from bot.planner import resolve_image
from bot.pull_requests import PullRequests
from bot.replica import Replica
from bot.reporter import Reporter
from bot.reruns import Reruns
from bot.runner.credentials import Credentials
from bot.settings import Settings
from bot.store import Delivery, Store
from bot.templates import Template, load_templates

log = logging.getLogger(__name__)


def build_credentials(
    settings: Settings, forges: Mapping[str, ForgeApi], build: Build
) -> Credentials:
    """What one build's runner may use: the forge's clone token, the registry auth and the
    files of the build secrets its spec names (a Job mounts Kubernetes Secrets instead)."""
    config_file = settings.registry_auth_file
    config = json.loads(config_file.read_text()) if config_file else {"auths": {}}
    files: dict[str, bytes] = {}
    for use in build.spec.secrets if build.spec is not None else ():
        secret = settings.build_secrets.get(use.name)  # gone since planning: the runner says so
        path = secret.file if secret is not None else None
        if path is not None and settings.executor == "local":
            files[use.name] = path.read_bytes()
    key, password = None, ""
    if settings.signing is not None:
        key = settings.signing.key_file.read_bytes()
        if settings.signing.password_file is not None:
            password = settings.signing.password_file.read_text().rstrip("\n")
    token = forges[build.forge].clone_token(build.repo)
    return Credentials(token, config, files, key, password)


def build_secret_policy(settings: Settings) -> SecretPolicy:
    grants = [
        SecretGrant(name, tuple(secret.repositories), secret.env)
        for name, secret in settings.build_secrets.items()
    ]
    return SecretPolicy(grants)


def build_image_policy(settings: Settings, templates: Mapping[str, Template]) -> ImagePolicy:
    """Where builds may push and pull (bot/image_policy.py): the default grant on the
    configured registries, else on those with credentials; the templates' builder and runtime
    images and the runner image protected."""
    registries = settings.image_policy.registries
    if not registries and settings.registry_auth_file:
        registries = list(json.loads(settings.registry_auth_file.read_text()).get("auths", {}))
    protected = {settings.kubernetes.runner_image: "the runner image, kubernetes.runner_image"}
    for template in templates.values():
        images = {"builder": template.builder}
        if template.runtime is not None:
            images["runtime"] = template.runtime.image
        for role, image in images.items():
            why = f"{role} image of template '{template.name}'"
            protected[resolve_image(image, settings.builder_registry)] = why
    policy = settings.image_policy
    return ImagePolicy.build(
        registries=registries, default_push=policy.default_push, push=policy.push,
        pull=policy.pull, builder_registry=settings.builder_registry, protected=protected,
    )  # fmt: skip


def report_kinds(
    settings: Settings, forges: Mapping[str, object]
) -> tuple[frozenset[str], frozenset[str]]:
    """(the forges that show builds as check runs, those that show them as commit statuses):
    GitHub as github.check_runs says (bot/settings.py), GitLab with statuses."""
    reports = {name: settings.github.reports if name == "github" else frozenset({"status"})
               for name in forges}  # fmt: skip
    return (
        frozenset(name for name, kinds in reports.items() if "check_run" in kinds),
        frozenset(name for name, kinds in reports.items() if "status" in kinds),
    )


def build_bot(
    settings: Settings,
    *,
    forges: Mapping[str, Forge] | None = None,
    executor: Executor | None = None,
) -> Bot:
    templates = load_templates(settings.templates_dir)
    replica = Replica.new(settings.lease_seconds, settings.lease_renew_seconds)
    store = Store(settings.database_url, replica)
    metrics = Metrics(store.gauges)  # this bot's own registry: GET /metrics
    logs = LogStore(store, settings.data_dir / "logs", max_bytes=settings.max_log_bytes)
    if forges is None:
        forges = make_forges(settings, metrics)
    apis = {name: forge.api for name, forge in forges.items()}
    reporter = Reporter(store, apis, settings.public_url)
    check_runs, statuses = report_kinds(settings, apis)
    outbox = Outbox(
        store, reporter, min_interval=settings.forge_write_interval, check_runs=check_runs,
        statuses=statuses,
    )  # fmt: skip
    if executor is None:
        executor = make_executor(settings)
    image_policy = build_image_policy(settings, templates)
    intake = Intake(
        store, apis, templates, logs, settings.builder_registry, settings.autodetect,
        image_policy, build_secret_policy(settings),
    )  # fmt: skip
    pulls = PullRequests(store, apis, intake, build_drafts=settings.build_draft_pull_requests)
    dispatcher = Dispatcher(
        store,
        executor,
        outbox,
        logs,
        functools.partial(build_credentials, settings, apis),
        settings.max_concurrent_builds,
        max_per_repo=settings.max_builds_per_repo,
        metrics=metrics,
    )
    webhooks = {name: forge.webhooks for name, forge in forges.items()}
    if "gitlab" in webhooks:  # deliveries stored before they were sealed hold the secret
        resealed = store.reseal_deliveries("gitlab", "x-gitlab-token", webhooks["gitlab"].vouch)
        if resealed:
            log.info("sealed %d stored GitLab deliveries that held the webhook token", resealed)
    forge_pool = ThreadPoolExecutor(settings.forge_threads, thread_name_prefix="forge")
    trigger = ManualTrigger(store, apis, webhooks, templates.keys(), settings.autodetect.enabled)
    lookup = registry_digests(settings.registry_auth_file, settings.insecure_registries)
    return Bot(
        settings, store, webhooks, apis, logs, intake, pulls, dispatcher, outbox,
        DeliveryWriter(store), forge_pool, missed_duties(settings, store, forges), metrics,
        Reruns(store, apis, logs, image_policy),
        trigger, BaseImageWatch(store, apis, webhooks, lookup),
    )  # fmt: skip


def missed_duties(
    settings: Settings, store: Store, forges: Mapping[str, Forge]
) -> list[Callable[[], list[Delivery]]]:
    """What recovers missed webhooks: GitHub's hook delivery logs (the App's own hook when
    the bot is an App, and the repository hooks github.hooks names), then the catch-up of
    branch heads on every forge."""
    duties: list[Callable[[], list[Delivery]]] = []
    github = forges.get(HOOK_LOG_FORGE)
    hooks = (["app"] if settings.github.app_id is not None else []) + settings.github.hooks
    if github is not None and isinstance(github.api, HookLog) and hooks:
        missed = MissedDeliveries(
            store, github.webhooks, github.api, hooks, max_age=settings.missed_delivery_max_age,
            retention_days=settings.retention_days, per_pass=settings.missed_deliveries_per_pass,
        )  # fmt: skip
        duties.append(missed.recover)
    webhooks = {name: forge.webhooks for name, forge in forges.items()}
    apis = {name: forge.api for name, forge in forges.items()}
    duties.append(CatchUp(store, apis, webhooks, settings.catch_up_per_pass).catch_up)
    return duties
