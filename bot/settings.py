"""The bot's settings: a YAML file (--config, e.g. config/bot.yaml), overridden by S2I_BOT_*
environment variables.

Nested keys use a double underscore: S2I_BOT_GITHUB__TOKEN sets github.token. Secrets can
also come from files (github.token_file), the way Kubernetes mounts Secrets. Every S2I_BOT_*
variable is a setting: an unknown one stops the start with the variable's name (a typo would
otherwise be ignored in silence), so other tools use other prefixes (scripts/: S2I_DEV_*).
Every error names where the value came from: the variable, or the file and line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from annotated_types import Ge, Gt
from pydantic import (
    BaseModel,
    ConfigDict,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from bot.build_secrets import env_problem, name_problem

ENV_PREFIX = "S2I_BOT_"


class SettingsError(Exception):
    """Settings the bot cannot start with; one line per problem, each naming its source."""


class _FieldError(ValueError):
    """A model validator's error about one of its fields, so the message can name the field's
    source (pydantic places a model validator's errors on the model itself)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _file_text(path: Path, field: str) -> str:
    """A value from a file (a mounted Secret's), without its trailing newline."""
    try:
        return path.read_text().strip()
    except OSError as exc:
        raise _FieldError(field, f"cannot read {path}: {exc.strerror}") from exc


def _read_secret_files(model: BaseModel, *secrets: str) -> None:
    """Each of `model`'s `secrets` that is not set is read from its `<secret>_file`, if set."""
    for name in secrets:
        path: Path | None = getattr(model, f"{name}_file")
        if getattr(model, name) is None and path is not None:
            setattr(model, name, SecretStr(_file_text(path, f"{name}_file")))


_REPOSITORY_HOOK = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+:[0-9]{1,19}")


class GitHubSettings(BaseModel):
    """GitHub is on when a token or an App id is set (bot.forges.make_forges); then a webhook
    secret is required."""

    model_config = ConfigDict(extra="forbid")
    # GitHub Enterprise Server: https://HOST/api/v3
    api_url: str = "https://api.github.com"
    # Where repositories are cloned from (the token goes nowhere else); unset: the web URL
    # that goes with api_url (https://github.com, https://HOST for GHES).
    git_url: str = ""
    token: SecretStr | None = None
    token_file: Path | None = None
    webhook_secret: SecretStr | None = None
    webhook_secret_file: Path | None = None
    # A GitHub App instead of a token: its id and private key (PEM); each repository's
    # installation token is fetched and refreshed shortly before it expires.
    app_id: int | None = None
    private_key: SecretStr | None = None
    private_key_file: Path | None = None
    # How builds show on GitHub (README, "Check runs"): `auto` is check runs for a GitHub App
    # (one per build, with the failure's log tail and annotations; they take the place of
    # commit statuses, which GitHub would show beside them) and commit statuses with a token
    # (check runs are a GitHub App's only); `instead`, `both` (check runs and statuses) and
    # `off` (statuses only) choose. `instead` and `both` need github.app_id.
    check_runs: Literal["auto", "instead", "both", "off"] = "auto"
    # Repository webhooks whose delivery logs the bot reads for deliveries it missed
    # (bot/missed_deliveries.py), each `owner/repo:hook_id`; a GitHub App's own hook is read
    # without being named here.
    hooks: list[str] = []

    @field_validator("hooks")
    @classmethod
    def _hooks(cls, hooks: list[str]) -> list[str]:
        for hook in hooks:
            if not _REPOSITORY_HOOK.fullmatch(hook):
                raise ValueError(
                    f"'{hook}' is not owner/repo:hook_id (the hook's id is the number at the "
                    "end of its settings page, https://github.com/owner/repo/settings/hooks/<id>)"
                )
        return hooks

    @model_validator(mode="after")
    def _read_files(self) -> GitHubSettings:
        _read_secret_files(self, "token", "webhook_secret", "private_key")
        if self.check_runs in ("instead", "both") and self.app_id is None:
            raise _FieldError(
                "check_runs",
                f"'{self.check_runs}' needs github.app_id: GitHub lets only GitHub Apps make "
                "check runs (with a token, use 'auto' or 'off': commit statuses)",
            )
        return self

    @property
    def reports(self) -> frozenset[str]:
        """What shows builds on GitHub: "check_run", "status" or both."""
        mode = self.check_runs
        if mode == "auto":
            mode = "instead" if self.app_id is not None else "off"
        return frozenset({"instead": {"check_run"}, "both": {"check_run", "status"},
                          "off": {"status"}}[mode])  # fmt: skip


class GitLabSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # https://gitlab.com, or a self-managed GitLab; empty: GitLab is off. When on, a webhook
    # secret is required (bot.forges.make_forges).
    url: str = ""
    git_url: str = ""  # where projects are cloned from (the token goes nowhere else); unset: url
    token: SecretStr | None = None  # a project, group or personal access token (api scope)
    token_file: Path | None = None
    webhook_secret: SecretStr | None = None
    webhook_secret_file: Path | None = None

    @model_validator(mode="after")
    def _read_files(self) -> GitLabSettings:
        _read_secret_files(self, "token", "webhook_secret")
        return self


class KubernetesSettings(BaseModel):
    """The `kubernetes` executor: each build is a Job running the runner image."""

    model_config = ConfigDict(extra="forbid")
    # A kubeconfig file; unset: the in-cluster configuration (the bot runs in a pod).
    kubeconfig: Path | None = None
    # The bot's own namespace, where its Secrets are; builds never run in it.
    namespace: str = "s2i-bot"
    # Where build Jobs, their pods and per-build Secrets live, and the registry Secret must
    # be; empty: <namespace>-builds. Never the bot's namespace.
    build_namespace: str = ""
    # The bot resolves a tag to its digest for each build (kept 30 s) and the Job runs
    # `repository@sha256:...`, so a node never runs an older runner under the tag; unresolved
    # (no credentials for its registry, unreachable), the tag. A digest here is run as it is.
    runner_image: str = "s2i-bot/runner:latest"
    runner_image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = "IfNotPresent"
    # An existing `kubernetes.io/dockerconfigjson` Secret in the build namespace: the registry
    # credentials the runner pushes (and pulls builder images) with.
    registry_secret: str = "s2i-bot-registry"
    resources: dict[str, dict[str, str]] = {
        "requests": {"cpu": "500m", "memory": "512Mi"},
        "limits": {"memory": "2Gi"},
    }
    # Finished Jobs (and their pods and logs) stay this long; a bot restarted within it
    # still reports their result, later it runs the build again.
    ttl_seconds_after_finished: int = 3600
    # Run the build pod in the node's network namespace. Only for clusters whose builds
    # must reach services on the node's loopback (the test cluster: the registry and the
    # fake forge listen on 127.0.0.1); never needed with real registry and forge hosts.
    host_network: bool = False
    # A directory on the node that keeps buildah's image storage between builds, so a Job
    # does not pull its builder and runtime images again (unset: an emptyDir per build).
    # Builds on a node then share what they pulled and built: use it where the repositories
    # the bot builds trust each other (containers/storage locks it for concurrent pods).
    image_cache_host_path: str = ""
    # How a Job builds (docs/kubernetes.md): `unprivileged`, the builder image runs assemble
    # as the pod's own non-root container and the runner appends the application layer in
    # the registry with crane, under the `restricted` Pod Security Standard (builders that
    # keep the contract of builders/README.md); `buildah`, the runner builds s2i's
    # Dockerfile with buildah, as root in the pod with added capabilities and seccomp
    # Unconfined (any builder image, for those that break that contract).
    layout: Literal["buildah", "unprivileged"] = "unprivileged"
    # `unprivileged` layout without host_network (which `restricted` refuses): loopback
    # addresses builds name (registry, forge) served in the pod from a node address that
    # forwards to them, as LISTEN_HOST:PORT=TARGET_HOST:PORT (bot/runner/loopback_relay.py).
    loopback_relays: list[str] = []

    @model_validator(mode="after")
    def _build_namespace(self) -> KubernetesSettings:
        if not self.build_namespace:
            self.build_namespace = f"{self.namespace}-builds"
        if self.build_namespace == self.namespace:
            raise ValueError(
                f"build_namespace must not be the bot's namespace ({self.namespace}): build "
                "pods must not run beside the bot's Secrets (docs/kubernetes.md)"
            )
        return self


class ImagePolicySettings(BaseModel):
    """Where builds may push and pull (bot/image_policy.py, docs/security.md)."""

    model_config = ConfigDict(extra="forbid")
    # The registries of the default grant <registry>/<owner>/<repo>; empty: the registries
    # that have credentials in registry_auth_file.
    registries: list[str] = []
    default_push: bool = True
    # More grants: a forge repository glob (acme/*) -> the image repositories its builds may
    # push to (each with everything below it; one may end in {repo}: registry/apps/{repo}).
    push: dict[str, list[str]] = {}
    # Where builder and runtime images may come from; empty: <builder_registry>/s2i-bot.
    pull: list[str] = []


_KUBERNETES_SECRET = re.compile(
    r"[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?(?:/[-._a-zA-Z0-9]{1,253})?"
)


class BuildSecretSettings(BaseModel):
    """One build secret (bot/build_secrets.py): a file mounted while `assemble` runs, for the
    repositories the globs name. The local executor reads `file` (checked at start); a Job
    mounts the key of `kubernetes_secret` (a Secret in the build namespace, `name` or
    `name/key`; the key defaults to the build secret's name)."""

    model_config = ConfigDict(extra="forbid")
    file: Path | None = None
    kubernetes_secret: str = ""
    repositories: list[str]
    env: str = ""  # a variable set to the mounted file's path, for assemble only

    @field_validator("repositories")
    @classmethod
    def _repositories(cls, globs: list[str]) -> list[str]:
        if not globs or not all(g.strip() for g in globs):
            raise ValueError("name at least one repository glob (owner/repo, acme/*)")
        return globs

    @field_validator("env")
    @classmethod
    def _env(cls, env: str) -> str:
        if problem := env_problem(env):
            raise ValueError(problem)
        return env

    @field_validator("kubernetes_secret")
    @classmethod
    def _kubernetes_secret(cls, value: str) -> str:
        if value and not _KUBERNETES_SECRET.fullmatch(value):
            raise ValueError(f"'{value[:80]}' is not a Secret name, or name/key")
        return value


class SigningSettings(BaseModel):
    """Sign every pushed image and attach its SBOM and SLSA provenance as signed attestations
    (bot/runner/supply_chain.py, docs/supply-chain.md): with the operator's cosign key."""

    model_config = ConfigDict(extra="forbid")
    key_file: Path  # `cosign generate-key-pair`'s cosign.key (encrypted)
    password_file: Path | None = None  # its password (none: a key made with an empty one)
    # The local executor's tools; Jobs run those of the runner image (and get the key and its
    # password in their build's Secret, mounted only in the container that signs).
    syft: str = "syft"
    cosign: str = "cosign"

    @field_validator("key_file", "password_file")
    @classmethod
    def _readable(cls, path: Path | None) -> Path | None:
        # Checked at start: the bot reads both for each build it signs, whichever the executor.
        if path is None:
            return None
        try:
            with path.open("rb") as f:
                f.read(1)
        except OSError as exc:
            raise ValueError(f"cannot read {path}: {exc.strerror}") from exc
        return path


class AutodetectSettings(BaseModel):
    """Build repositories without `.s2i.yaml` with the template their files point to."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = False
    image_prefix: str = ""  # images go to <image_prefix>/<repository path>
    branches: list[str] = ["main", "master"]


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    host: str = "127.0.0.1"
    port: int = 8080
    # Where forges and people reach the bot; build log links in statuses start with it.
    public_url: str = ""
    data_dir: Path = Path("var")
    database_url: str = ""  # default: SQLite in data_dir
    # The URL from a file (a mounted Secret: a PostgreSQL URL holds its password).
    database_url_file: Path | None = None
    # The operator's builder templates (*.yaml); unset: the ones bundled with the package
    # (config/templates of this repository).
    templates_dir: Path | None = None
    # Template images without a registry host (s2i-bot/go:latest) are pulled from here.
    builder_registry: str | None = None
    executor: Literal["local", "kubernetes"] = "local"
    engine: Literal["docker", "buildah"] = "docker"
    max_concurrent_builds: int = 2
    # At most this many builds of one repository at once: its further builds wait without
    # holding a slot, so one busy repository cannot take every slot.
    max_builds_per_repo: Annotated[int, Ge(1)] = 2
    # A build's time limit: `.s2i.yaml` `timeout` is capped by it, and it is the default.
    max_build_seconds: Annotated[int, Ge(1)] = 1800
    # A build log stops growing here: a line says so, and the output's last lines are kept.
    max_log_bytes: Annotated[int, Ge(4096)] = 10 * 1024 * 1024
    # A build page's live log (Server-Sent Events) is one response for at most this long,
    # then the browser reconnects and resumes: a proxy's idle or response timeout never cuts
    # it for good, and a bot shutting down waits for no stream longer than this.
    event_stream_seconds: Annotated[float, Ge(0.5)] = 25.0
    # Deliveries, finished builds and their logs older than this are deleted; 0 keeps all.
    retention_days: Annotated[int, Ge(0)] = 30
    # Seconds between writes to a forge (statuses, comments): GitHub advises one second
    # against secondary rate limits; a self-hosted forge without them may lower it.
    forge_write_interval: float = 1.0
    build_draft_pull_requests: bool = False
    # Accept webhooks of a forge that has no webhook secret set, unsigned: only for local
    # experiments (anyone who reaches the bot could start builds); warned at every start.
    insecure_unsigned_webhooks: bool = False
    # How often deliveries that could not be processed (the forge API down) are tried again:
    # the first retry after this many seconds, each next one after twice as long as the last
    # (at most an hour), until max_delivery_attempts; then the delivery is given up with an
    # `error` status on its commit naming the cause.
    delivery_retry_interval: float = 60.0
    max_delivery_attempts: int = 5  # at least 1
    # Stored deliveries are processed by this many workers at once; a burst waits, stored.
    delivery_workers: Annotated[int, Ge(1)] = 4
    # Threads for calls that reach a forge's API (reading .s2i.yaml, confirming repositories),
    # apart from the store's, so acknowledging a webhook never waits behind a forge.
    forge_threads: Annotated[int, Ge(1)] = 8
    # When this many stored deliveries wait for a worker, webhooks are answered 503 with
    # Retry-After and not stored: the forge shows them failed (redeliver them from GitHub's
    # "Recent Deliveries" or GitLab's "Recent events" of the hook).
    max_backlog: Annotated[int, Ge(1)] = 1000
    # uvicorn's line per HTTP request. Off by default: it costs the intake path about as much
    # as verifying and storing a delivery (bench/intake.py), and each delivery's outcome is
    # logged once it is processed (bot.orchestrator), which says more.
    access_log: bool = False
    # `json`: one JSON object per log line, with the delivery and build ids it is about
    # (bot/log_context.py), for a log collector; `text`: lines for a person.
    log_format: Literal["text", "json"] = "text"
    # Missed webhooks (README, "Missed webhooks"): on start and then every this many seconds
    # (0: never) the bot reads the GitHub hooks' delivery logs for deliveries it never stored
    # (GitHub does not deliver a failed one again) and builds branch heads it never built.
    missed_delivery_interval: Annotated[float, Ge(0)] = 300.0
    # How far back the delivery logs are read (GitHub keeps three days); never further back
    # than retention_days, past which the store forgets deliveries it had.
    missed_delivery_max_age: Annotated[float, Ge(0)] = 86400.0
    # Per pass, at most this many missed deliveries are fetched and stored, and this many
    # branch heads built by the catch-up (0: no catch-up); the rest wait for the next pass.
    missed_deliveries_per_pass: Annotated[int, Ge(1)] = 50
    catch_up_per_pass: Annotated[int, Ge(0)] = 20
    # Several replicas on one PostgreSQL database share the work by claims that expire:
    # what a replica holds (a delivery, a build, an outbox item, a periodic duty) it renews
    # every lease_renew_seconds; one that stops renewing (killed, its node lost) has it taken
    # over after lease_seconds. Longer: a takeover waits longer; shorter: more writes.
    lease_seconds: Annotated[float, Gt(0)] = 30.0
    lease_renew_seconds: Annotated[float, Gt(0)] = 10.0
    # Build links (/builds/<key>) are unguessable and need no login. Listing a repository's
    # builds (GET /builds?repo=owner/name) needs `Authorization: Bearer <api_token>`, except
    # for the repositories named here, whose builds anyone may list; with neither, there is
    # no listing.
    # It also allows manual triggers (POST /api/builds, `s2i-bot trigger`). From a file (a
    # mounted Secret, as manifests/overlays/scheduled-rebuild does): api_token_file.
    api_token: SecretStr | None = None
    api_token_file: Path | None = None
    public_repositories: list[str] = []
    # Rebuilds on a new base image (README, "Rebuilds on a new base image"): a registry's
    # notifications (POST /webhooks/registry) carry `Authorization: Bearer <this>` (the
    # endpoint's `headers`); unset, the route answers 404. From a file: ..._file.
    registry_webhook_token: SecretStr | None = None
    registry_webhook_token_file: Path | None = None
    # Every this many seconds (0: never) the bot also asks the registries where the builder
    # and runtime images' tags point, for registries that send no notifications.
    base_image_check_interval: Annotated[float, Ge(0)] = 3600.0
    s2i: str = "s2i"
    insecure_registries: list[str] = []
    # Registry credentials, a dockerconfigjson file (as `kubectl create secret docker-registry`).
    registry_auth_file: Path | None = None
    # B2I downloads (bot/runner/artifact.py) reach only public addresses, every redirect
    # checked again; these hosts (as URLs name them) may be loopback or private too, or any
    # host with allow_private_artifact_hosts. A larger artifact fails the build.
    artifact_allowed_hosts: list[str] = []
    allow_private_artifact_hosts: bool = False
    max_artifact_bytes: Annotated[int, Ge(1)] = 1 << 30  # 1 GiB
    image_policy: ImagePolicySettings = ImagePolicySettings()
    # Build secrets (bot/build_secrets.py, docs/security.md "Build secrets"): name -> file or
    # Kubernetes Secret, and the repositories that may use it.
    build_secrets: dict[str, BuildSecretSettings] = {}
    # Sign images and attach their SBOM and provenance (docs/supply-chain.md); none: not signed.
    signing: SigningSettings | None = None
    autodetect: AutodetectSettings = AutodetectSettings()
    github: GitHubSettings = GitHubSettings()
    gitlab: GitLabSettings = GitLabSettings()
    kubernetes: KubernetesSettings = KubernetesSettings()

    @model_validator(mode="after")
    def _defaults(self) -> Settings:
        if not self.public_url:
            self.public_url = f"http://{self.host}:{self.port}"
        self.public_url = self.public_url.rstrip("/")
        if self.lease_renew_seconds >= self.lease_seconds:
            raise _FieldError(
                "lease_renew_seconds",
                f"must be shorter than lease_seconds ({self.lease_seconds}), or leases "
                "expire before they are renewed",
            )
        _read_secret_files(self, "api_token", "registry_webhook_token")
        if not self.database_url and self.database_url_file is not None:
            self.database_url = _file_text(self.database_url_file, "database_url_file")
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 's2i-bot.db'}"
        self._check_build_secrets()
        return self

    def _check_build_secrets(self) -> None:
        """Each build secret's name is safe and its source readable where builds run: a file
        the bot can read (local executor), a Secret (Jobs)."""
        for name, secret in self.build_secrets.items():
            if problem := name_problem(name):
                raise _FieldError("build_secrets", problem)
            if self.executor == "kubernetes":
                if not secret.kubernetes_secret:
                    message = f"{name}: Jobs mount a Secret: set kubernetes_secret (name[/key])"
                    raise _FieldError("build_secrets", message)
                continue
            if secret.file is None:
                raise _FieldError("build_secrets", f"{name}: set file (the secret's path)")
            try:
                with secret.file.open("rb") as f:
                    f.read(1)
            except OSError as exc:
                message = f"{name}: cannot read {secret.file}: {exc.strerror}"
                raise _FieldError("build_secrets", message) from exc


# Where each key came from: ("github", "token") -> "S2I_BOT_GITHUB__TOKEN" or "bot.yaml:12".
Origins = dict[tuple[str, ...], str]


def _read_file(path: Path) -> tuple[dict[str, Any], Origins]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise SettingsError(f"{path}: cannot read the settings file: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise SettingsError(f"{path}: not valid YAML: {exc}") from None
    if data is None:
        return {}, {}
    if not isinstance(data, dict) or not isinstance(root, yaml.MappingNode):
        raise SettingsError(
            f"{path}: the settings file must be a mapping of keys (port: 8080, github: ...), "
            f"not a {type(data).__name__}"
        )
    origins: Origins = {}

    def walk(node: yaml.MappingNode, keys: tuple[str, ...]) -> None:
        for key_node, value_node in node.value:
            key = (*keys, str(key_node.value))
            origins[key] = f"{path}:{key_node.start_mark.line + 1}"
            if isinstance(value_node, yaml.MappingNode):
                walk(value_node, key)

    walk(root, ())
    return data, origins


def _apply_env(data: dict[str, Any], origins: Origins, environ: Mapping[str, str]) -> None:
    for name, value in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX):
            continue
        keys = tuple(name[len(ENV_PREFIX) :].lower().split("__"))
        if not all(keys):
            raise SettingsError(
                f"{name}: not a setting's name; S2I_BOT_<KEY>, nested keys joined with a "
                "double underscore (S2I_BOT_GITHUB__TOKEN)"
            )
        target = data
        for depth, key in enumerate(keys[:-1], start=1):
            section = target.setdefault(key, {})
            if not isinstance(section, dict):
                raise SettingsError(
                    f"{name}: '{'.'.join(keys[:depth])}' is a single setting, not a section "
                    f"of settings; set it as {ENV_PREFIX}{'__'.join(keys[:depth]).upper()}"
                )
            target = section
        lists = ("insecure_registries", "artifact_allowed_hosts", "hooks")
        target[keys[-1]] = value.split(",") if keys[-1] in lists else value
        origins[keys] = name


def _section_keys(section: tuple[str, ...]) -> list[str]:
    """The setting names allowed in `section` (() for the top level)."""
    model: type[BaseModel] = Settings
    for key in section:
        field = model.model_fields.get(key)
        annotation = field.annotation if field else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return list(model.model_fields)


def _origin(loc: tuple[str, ...], origins: Origins) -> str:
    if loc in origins:
        return origins[loc]
    for key in sorted(origins):  # a section's error: where its first key came from
        if key[: len(loc)] == loc:
            return origins[key]
    for depth in range(len(loc) - 1, 0, -1):  # a key inside a value set as a whole
        if loc[:depth] in origins:
            return origins[loc[:depth]]
    return "settings"


def _describe(error: ErrorDetails, origins: Origins) -> str:
    loc = tuple(str(part) for part in error["loc"])
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, _FieldError):
        loc = (*loc, cause.field)
    where = _origin(loc, origins)
    name = ".".join(loc)
    if error["type"] == "extra_forbidden":
        section = ".".join(loc[:-1])
        known = ", ".join(_section_keys(loc[:-1]))
        text = f"{where}: unknown setting '{name}'; known{f' in {section}' if section else ''}: "
        text += known
        if where.startswith(ENV_PREFIX) and len(loc) == 1:
            text += f" (every {ENV_PREFIX}* variable is a setting; scripts/ read S2I_DEV_*)"
        return text
    message = str(cause) if isinstance(cause, ValueError) else error["msg"]
    # Never the input: it may be a secret.
    return f"{where}: {name}: {message}"


def load_settings(path: Path | None, environ: Mapping[str, str] | None = None) -> Settings:
    """The settings from `path` (None: defaults only) and S2I_BOT_* variables of `environ`
    (default: os.environ); SettingsError names each problem's variable or file:line."""
    data, origins = _read_file(path) if path is not None else ({}, {})
    _apply_env(data, origins, os.environ if environ is None else environ)
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise SettingsError("\n".join(_describe(e, origins) for e in exc.errors())) from None
