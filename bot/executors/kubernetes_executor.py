"""The Kubernetes executor: each build is a Job running the runner image.

run() creates the build's Secret and Job (bot/executors/job_manifest.py renders them) or, when a Job
with the build's id label already exists, adopts it: that is how a restarted bot picks up
the builds it left running, and how a replica adopts those of one that died
(Bot.recover_builds dispatches them again). It follows the pod's log
into the build log, watches the pod until it has ended by itself (or the Job until it has
finished: a deadline, a deletion), and reads the BuildResult from the containers'
termination messages. cancel() deletes the Job and its pod; cancelling the
task only stops watching (the bot is stopping), and the next start adopts the Job.
Every blocking client call runs in a thread (asyncio.to_thread).

The `unprivileged` layout's builder tag is resolved to a digest before the Job is rendered;
a resolution less than builder_cache.TTL_SECONDS old serves the next builds on that tag
(bot/executors/builder_cache.py says why that is safe). So is the runner image's tag, in both
layouts and at the same time (bot/executors/resolved_runner.py), falling back to the tag.
The Kubernetes client (its API models take a second to import) is loaded by warm_up() when
the bot starts, not by the first build.

Jobs live in `kubernetes.build_namespace`, apart from the bot's Secrets. A Job past its
activeDeadlineSeconds (the build's time limit) is stopped by the Job controller and the build
ends `failed` "timed out after N s"; the log it follows is capped at max_log_bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot.build_logs import DEFAULT_MAX_BYTES, CappedLog, append_capped
from bot.build_result import BuildResult
from bot.build_spec import BuildSpec
from bot.executors import job_manifest as render
from bot.executors import unprivileged_pod
from bot.executors.builder_cache import BuilderCache
from bot.executors.kube_client import (
    ApiUnreachable,
    KubeClient,
    PodStuck,
    job_finished,
    started,
    terminated,
)
from bot.executors.resolved_builder import ResolvedBuilder, UnusableBuilder, resolve_builder
from bot.executors.resolved_runner import (
    RunnerCache,
    RunnerImage,
    as_configured,
    resolve_runner,
    unresolved,
)
from bot.executors.time_limit import DEFAULT_MAX_BUILD_SECONDS, timed_out
from bot.failure_reason import FailureSpotter
from bot.runner.artifact import ArtifactPolicy
from bot.runner.credentials import Credentials, PrivateFiles
from bot.runner.errors import BuildError
from bot.settings import KubernetesSettings

log = logging.getLogger(__name__)
LOG_DRAIN_SECONDS = 30  # after the Job has finished, how long the log may take to end
# How long a build waits for the runner's digest before it runs the tag (resolved_runner.py).
RUNNER_RESOLVE_SECONDS = 10


@dataclass
class KubernetesExecutor:
    settings: KubernetesSettings
    insecure_registries: tuple[str, ...] = ()
    max_build_seconds: int = DEFAULT_MAX_BUILD_SECONDS
    max_log_bytes: int = DEFAULT_MAX_BYTES
    artifact_policy: ArtifactPolicy = field(default_factory=ArtifactPolicy)
    # Build secret name -> its Kubernetes Secret, name[/key] (settings build_secrets).
    build_secrets: Mapping[str, str] = field(default_factory=dict)
    # The bot's public URL: the provenance's builder id when a build's credentials hold the
    # cosign key (settings `signing`), which then travels in the build's Secret.
    builder_id: str = ""
    _client: KubeClient | None = field(default=None, init=False, repr=False)
    _client_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _builders: BuilderCache = field(default_factory=BuilderCache, init=False, repr=False)
    _runners: RunnerCache = field(default_factory=RunnerCache, init=False, repr=False)

    def _kube(self) -> KubeClient:
        with self._client_lock:  # warm_up's thread and a build's may ask at once
            if self._client is None:
                self._client = KubeClient(self.settings)
            return self._client

    def warm_up(self) -> None:
        """Load the client in the background now: importing the kubernetes package's API
        models takes about a second of CPU, which the first build would otherwise wait
        for between its push and its Job. A configuration that does not load is reported
        by that build."""

        def load() -> None:
            with contextlib.suppress(Exception):
                self._kube()

        threading.Thread(target=load, name="kubernetes-client", daemon=True).start()

    async def run(
        self, build_id: int, spec: BuildSpec, credentials: Credentials, log_path: Path
    ) -> BuildResult:
        try:
            kube = await asyncio.to_thread(self._kube)
        except Exception as exc:
            return BuildResult(state="error", reason=f"no Kubernetes configuration: {exc}")
        stop = threading.Event()
        try:
            return await self._run(kube, build_id, spec, credentials, log_path, stop)
        except asyncio.CancelledError:
            # The bot is stopping: leave the Job running; the next start adopts it. A build
            # that is cancelled for good goes through cancel(), which deletes the Job.
            stop.set()
            raise
        except ApiUnreachable as exc:
            stop.set()
            self._append(log_path, f"BUILD ERROR: {exc}\n")
            return BuildResult(state="error", reason=str(exc))
        finally:
            stop.set()

    async def cancel(self, build_id: int, log_path: Path) -> None:
        """Stop the build for good: delete its Job (and with it the pod and the Secret)."""
        try:
            kube = await asyncio.to_thread(self._kube)
        except Exception as exc:
            log.warning("cannot cancel build %s: no Kubernetes configuration: %s", build_id, exc)
            return
        await self._delete(kube, render.job_name(build_id), log_path)

    async def _delete(self, kube: KubeClient, name: str, log_path: Path) -> None:
        try:
            await asyncio.to_thread(kube.delete_job, name)
        except Exception as exc:
            log.warning("could not delete Job %s: %s", name, exc)
            self._append(log_path, f"could not delete the Job {name}: {exc}\n")

    async def _run(
        self,
        kube: KubeClient,
        build_id: int,
        spec: BuildSpec,
        credentials: Credentials,
        log_path: Path,
        stop: threading.Event,
    ) -> BuildResult:
        name = render.job_name(build_id)
        selector = render.build_selector(build_id)
        existing = await asyncio.to_thread(kube.find_jobs, selector)
        job = existing[0] if existing else None
        if job is not None and not _same_build(job, build_id, spec):
            # Another bot's (or an earlier database's) build 7: not ours to adopt.
            self._append(log_path, f"replacing the Job {name} of another build\n")
            await asyncio.to_thread(kube.delete_job, name, foreground=False)
            await asyncio.to_thread(kube.wait_job, name, stop)
            job = None
        if job is not None and (job.get("metadata") or {}).get("deletionTimestamp"):
            await asyncio.to_thread(kube.wait_job, name, stop)  # let it go, then start anew
            job = None

        if job is None:
            # The runner's tag is resolved while the builder's is (resolved_runner.py).
            runner_task = asyncio.create_task(self._runner(credentials))
            try:
                builder = await self._builder(spec, credentials, log_path)
                if isinstance(builder, BuildResult):
                    return builder
                runner = await runner_task
            finally:
                runner_task.cancel()  # only when the builder's failed; its thread ends by itself
            self._append(log_path, runner.log_line())
            signs = credentials.signing_key is not None
            secret = render.render_secret(
                build_id, spec, credentials.git_token, settings=self.settings,
                signing_key=credentials.signing_key,
                signing_password=credentials.signing_password,
            )  # fmt: skip
            manifest = render.render_job(
                build_id, spec, settings=self.settings,
                insecure_registries=self.insecure_registries,
                max_build_seconds=self.max_build_seconds, artifact_policy=self.artifact_policy,
                build_secrets=self.build_secrets,
                builder=builder, signing_builder_id=self.builder_id if signs else None,
                runner_ref=runner.ref,
            )  # fmt: skip
            job = await asyncio.to_thread(kube.create_build, secret, manifest)
            runner_ref = runner.ref
            where = f"{self.settings.build_namespace}/{name}"
            self._append(log_path, f"Job {where} created on {kube.server}\n")
        else:
            runner_ref = runner_image_of(job) or self.settings.runner_image
            state = job_finished(job) or "running"
            where = f"{self.settings.build_namespace}/{name}"
            self._append(log_path, f"--- adopting the Job {where} ({state}) ---\n")
            await asyncio.to_thread(kube.own_secret, render.secret_name(build_id), job)

        if job_finished(job):
            return await self._finished_result(kube, job, selector, log_path, with_log=True)

        watcher = asyncio.create_task(asyncio.to_thread(kube.wait_job, name, stop))
        ender = asyncio.create_task(asyncio.to_thread(kube.wait_pod_ended, selector, stop))
        follower = asyncio.create_task(self._follow(kube, selector, log_path, stop))
        try:
            pending: set[asyncio.Task[Any]] = {watcher, ender, follower}
            while watcher in pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                if follower in done and follower.exception() is not None:
                    exc = follower.exception()
                    if isinstance(exc, PodStuck):
                        self._append(log_path, f"BUILD ERROR: the runner pod cannot start: {exc}\n")
                        await asyncio.to_thread(kube.delete_job, name, foreground=False)
                        return BuildResult(
                            state="error",
                            reason=f"the runner image {runner_ref} could not start: {exc}",
                        )
                    # The log could not be followed: the build goes on, the Job says how it ends.
                    self._append(log_path, f"(the log could not be followed: {exc})\n")
                if ender in done and ender.exception() is None and (pod := ender.result()):
                    # The pod's word, a second before the Job controller's (kube_client).
                    await self._drain(follower)
                    return await self._pod_result(kube, pod, f"pod {pod['status']['phase']}")
            final = await watcher
            if final is None:
                return BuildResult(state="error", reason=f"the Job {name} was deleted")
            await self._drain(follower)
            return await self._finished_result(kube, final, selector, log_path, with_log=False)
        finally:
            stop.set()
            for task in (watcher, ender, follower):
                if not task.done():
                    task.cancel()

    async def _drain(self, follower: asyncio.Task[None]) -> None:
        """Let the log follower copy what the pod's containers wrote last."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(follower), LOG_DRAIN_SECONDS)

    async def _builder(
        self, spec: BuildSpec, credentials: Credentials, log_path: Path
    ) -> ResolvedBuilder | BuildResult | None:
        """The `unprivileged` layout's builder, resolved or as resolved less than the cache's
        TTL ago (None for the `buildah` layout); the BuildResult when it cannot run."""
        if self.settings.layout != "unprivileged":
            return None
        # Taken before asking: the digest is at least as new as this moment.
        asked = time.monotonic()
        builder = self._builders.get(spec, asked)
        how = (
            f"as resolved less than {self._builders.ttl:.0f} s ago"
            if builder is not None
            else "resolved now"
        )
        if builder is None:
            try:
                builder = await asyncio.to_thread(self._resolve, spec, credentials)
            except UnusableBuilder as unusable:
                self._append(log_path, f"BUILD FAILED: {unusable}\n")
                return BuildResult(state="failed", reason=str(unusable))
            except BuildError as error:
                self._append(log_path, f"BUILD ERROR: {error}\n")
                return BuildResult(state="error", reason=str(error))
            self._builders.put(builder, asked)
        self._append(log_path, f"builder {spec.builder_image} is {builder.ref} ({how})\n")
        return builder

    async def _runner(self, credentials: Credentials) -> RunnerImage:
        """The runner image the Job runs: its tag resolved to a digest (or as resolved less
        than the cache's TTL ago); the configured reference when that fails, never an error."""
        configured = self.settings.runner_image
        if (runner := as_configured(configured)) is not None:
            return runner
        asked = time.monotonic()
        if (runner := self._runners.get(configured, asked)) is not None:
            return runner
        try:
            runner = await asyncio.wait_for(
                asyncio.to_thread(self._resolve_runner, configured, credentials),
                RUNNER_RESOLVE_SECONDS,
            )
        except TimeoutError:
            runner = unresolved(
                configured, f"its registry did not answer within {RUNNER_RESOLVE_SECONDS} s"
            )
        except Exception as exc:  # whatever it is, the build goes on with the tag
            runner = unresolved(configured, str(exc) or type(exc).__name__)
        self._runners.put(runner, asked)
        return runner

    def _resolve_runner(self, image: str, credentials: Credentials) -> RunnerImage:
        private = PrivateFiles(credentials)
        try:
            with private.registry_auth() as authfile:
                return resolve_runner(image, authfile, self.insecure_registries)
        finally:
            private.close()

    def _resolve(self, spec: BuildSpec, credentials: Credentials) -> ResolvedBuilder:
        """The builder's tag resolved to a digest, once per build (the pod runs the digest)."""
        private = PrivateFiles(credentials)
        try:
            with private.registry_auth() as authfile:
                return resolve_builder(spec.builder_image, authfile, self.insecure_registries)
        finally:
            private.close()

    async def _follow(
        self, kube: KubeClient, selector: str, log_path: Path, stop: threading.Event
    ) -> None:
        if self.settings.layout == "unprivileged":
            await self._follow_each(kube, selector, log_path, stop)
            return
        pod = await asyncio.to_thread(kube.wait_pod_started, selector, stop)
        if pod is None:
            return
        with CappedLog(log_path, self.max_log_bytes) as out:
            await asyncio.to_thread(
                kube.follow_log, pod["metadata"]["name"], render.CONTAINER, out.write
            )

    async def _follow_each(
        self, kube: KubeClient, selector: str, log_path: Path, stop: threading.Event
    ) -> None:
        """The unprivileged pod's containers' logs one after the other: assemble and export
        run together, and each log is read from its start, so the build log keeps their
        order."""
        with CappedLog(log_path, self.max_log_bytes) as out:
            for container in unprivileged_pod.CONTAINERS:
                pod = await asyncio.to_thread(
                    kube.wait_container_started, selector, container, stop
                )
                if pod is None or not started(pod, container):
                    return
                await asyncio.to_thread(
                    kube.follow_log, pod["metadata"]["name"], container, out.write
                )

    async def _finished_result(
        self,
        kube: KubeClient,
        job: dict[str, Any],
        selector: str,
        log_path: Path,
        *,
        with_log: bool,
    ) -> BuildResult:
        finished = job_finished(job) or "finished"
        if "DeadlineExceeded" in finished:
            # The Job controller stops (and removes) the pod: nothing more to read from it.
            result = timed_out((job.get("spec") or {}).get("activeDeadlineSeconds"))
            self._append(log_path, f"BUILD FAILED: {result.reason}\n")
            return result
        pods = await asyncio.to_thread(kube.pods, selector)
        unprivileged = bool(pods) and _is_unprivileged(pods[0])
        # The pod's status may trail the Job's by a moment.
        for _ in range(20):
            state = (
                (_ended(pods[0]) if unprivileged else terminated(pods[0], render.CONTAINER))
                if pods
                else None
            )
            if state is not None or not pods:
                break
            await asyncio.sleep(0.5)
            pods = await asyncio.to_thread(kube.pods, selector)
        if not pods:
            return BuildResult(
                state="error", reason=f"the Job {job['metadata']['name']} {finished}; no pod left"
            )
        pod = pods[0]
        if with_log:
            with contextlib.suppress(Exception):
                text = await asyncio.to_thread(
                    kube.read_log, pod["metadata"]["name"], render.CONTAINER
                )
                with CappedLog(log_path, self.max_log_bytes) as out:
                    out.write(text.encode())
        return await self._pod_result(kube, pod, finished)

    async def _pod_result(self, kube: KubeClient, pod: dict[str, Any], how: str) -> BuildResult:
        """The BuildResult of the pod that ran the build (`how` the Job or pod ended)."""
        if _is_unprivileged(pod):
            return with_builder_digest(await self._unprivileged_result(kube, pod, how), pod)
        return result_of(pod, how)

    async def _unprivileged_result(
        self, kube: KubeClient, pod: dict[str, Any], job_state: str
    ) -> BuildResult:
        """The export's BuildResult; the prepare step's when it failed; when assemble
        failed, the reason read from the builder's own log (bot/failure_reason.py)."""
        name = pod["metadata"]["name"]
        for container in (unprivileged_pod.PREPARE, unprivileged_pod.EXPORT):
            state = terminated(pod, container)
            if state is not None and (state.get("message") or "").strip():
                return result_of(pod, job_state, container)
        state = terminated(pod, unprivileged_pod.PREPARE)
        if state is not None and state.get("exitCode"):  # gone without a message: killed
            why = f" ({state['reason']})" if state.get("reason") not in (None, "", "Error") else ""
            return BuildResult(
                state="error", reason=f"prepare exited with status {state['exitCode']}{why}"
            )
        state = terminated(pod, unprivileged_pod.ASSEMBLE)
        if state is not None and state.get("exitCode"):
            spotter = FailureSpotter()
            with contextlib.suppress(Exception):
                text = await asyncio.to_thread(kube.read_log, name, unprivileged_pod.ASSEMBLE)
                for line in text.splitlines():
                    spotter.feed(line)
            why = f" ({state['reason']})" if state.get("reason") not in (None, "", "Error") else ""
            reason = spotter.reason() or f"assemble exited with status {state['exitCode']}{why}"
            return BuildResult(state="failed", reason=reason)
        return result_of(pod, job_state, unprivileged_pod.EXPORT)

    def _append(self, path: Path, text: str) -> None:
        append_capped(path, text, self.max_log_bytes)


def _pod_containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    """Init and regular containers: prepare and assemble are init containers in the pods of
    a bot before the steps ran together (docs/kubernetes.md), which a newer bot still adopts."""
    spec = pod.get("spec") or {}
    return [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]


def _is_unprivileged(pod: dict[str, Any]) -> bool:
    names = [c.get("name") for c in _pod_containers(pod)]
    return unprivileged_pod.PREPARE in names


def with_builder_digest(result: BuildResult, pod: dict[str, Any]) -> BuildResult:
    """The result with the digest of the builder the pod ran (its assemble container's image,
    `repository@sha256:...`): what the base image watch compares with the tag's digest
    (bot/base_images.py), also for a Job adopted after a restart."""
    if result.state != "succeeded" or result.builder_digest:
        return result
    for container in _pod_containers(pod):
        if container.get("name") == unprivileged_pod.ASSEMBLE:
            _, at, digest = str(container.get("image") or "").partition("@")
            if at and digest.startswith("sha256:"):
                return result.model_copy(update={"builder_digest": digest})
    return result


def runner_image_of(job: dict[str, Any]) -> str | None:
    """The runner image an existing Job runs (its runner container's, or prepare's)."""
    pod = ((job.get("spec") or {}).get("template")) or {}
    for container in _pod_containers(pod):
        if container.get("name") in (render.CONTAINER, unprivileged_pod.PREPARE):
            return str(container.get("image") or "") or None
    return None


def _ended(pod: dict[str, Any]) -> dict[str, Any] | None:
    """The terminated state of the unprivileged pod's last container that ran."""
    for container in reversed(unprivileged_pod.CONTAINERS):
        if (state := terminated(pod, container)) is not None:
            return state
    return None


def result_of(
    pod: dict[str, Any], job_state: str, container: str = render.CONTAINER
) -> BuildResult:
    """The runner's BuildResult from the container's termination message."""
    state = terminated(pod, container)
    if state is None:
        return BuildResult(state="error", reason=f"the build Job {job_state} before the runner ran")
    message = (state.get("message") or "").strip()
    if message:
        try:
            return BuildResult.model_validate_json(message)
        except ValidationError:
            pass
    reason = state.get("reason") or ""
    if "DeadlineExceeded" in job_state:
        return timed_out(None)
    return BuildResult(
        state="error",
        reason=f"the runner exited with status {state.get('exitCode')}"
        + (f" ({reason})" if reason else ""),
    )


def _same_build(job: dict[str, Any], build_id: int, spec: BuildSpec) -> bool:
    found = (job.get("metadata") or {}).get("labels") or {}
    expected = render.labels(build_id, spec)
    return all(found.get(k) == expected[k] for k in (render.REPO, render.SHA))
