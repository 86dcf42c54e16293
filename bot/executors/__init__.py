"""Executors: where the runner runs. `make_executor` builds the one the settings name."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.executors.base import Executor
    from bot.runner.artifact import ArtifactPolicy
    from bot.settings import Settings


def signing_args(settings: Settings) -> tuple[str, ...]:
    """The runner's signing options (bot/runner/supply_chain.py); none when images are not
    signed (its key then never reaches the runner)."""
    if settings.signing is None:
        return ()
    signing = settings.signing
    return ("--syft", signing.syft, "--cosign", signing.cosign, "--builder-id", settings.public_url)


def make_executor(settings: Settings) -> Executor:
    """`local` (a child process on this host) or `kubernetes` (a Job per build)."""
    if settings.executor == "kubernetes":
        # Imported only when chosen: the kubernetes client is slow to import.
        from bot.executors.kubernetes_executor import KubernetesExecutor

        kubernetes = KubernetesExecutor(
            settings.kubernetes, insecure_registries=tuple(settings.insecure_registries),
            max_build_seconds=settings.max_build_seconds, max_log_bytes=settings.max_log_bytes,
            artifact_policy=artifact_policy(settings),
            build_secrets={n: s.kubernetes_secret for n, s in settings.build_secrets.items()},
            builder_id=settings.public_url,
        )  # fmt: skip
        kubernetes.warm_up()  # the client loads while the bot starts, not in the first build
        return kubernetes
    from bot.executors.local_executor import LocalExecutor

    executor = LocalExecutor(
        settings.data_dir / "work",
        engine=settings.engine,
        s2i=settings.s2i,
        max_build_seconds=settings.max_build_seconds,
        max_log_bytes=settings.max_log_bytes,
        insecure_registries=tuple(settings.insecure_registries),
        artifact_policy=artifact_policy(settings),
        runner_args=signing_args(settings),
    )
    executor.sweep()  # what a crashed run left: its runners, work and credential copies
    return executor


def artifact_policy(settings: Settings) -> ArtifactPolicy:
    from bot.runner.artifact import ArtifactPolicy

    return ArtifactPolicy(
        tuple(settings.artifact_allowed_hosts),
        settings.allow_private_artifact_hosts,
        settings.max_artifact_bytes,
    )
