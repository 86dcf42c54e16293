"""The thin Kubernetes client: the only module that imports `kubernetes` (import-linter).

Blocking calls (the executor runs them in threads): create a build's Secret and Job, find a
Job by its build id label, watch a Job (watch API) until it finishes, wait for its pod to
start or to end, follow the pod's log, read the container's termination message, delete a
Job with its pods.
Objects go in and come out as plain dicts (the API's JSON form).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import urllib3
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

from bot.settings import KubernetesSettings

# Pod states in which the runner will never start by itself.
STUCK_REASONS = {
    "ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError",
    "CreateContainerError",
}  # fmt: skip
WATCH_SECONDS = 30  # a server-side watch ends after this; the loop starts another
LOG_READ_SECONDS = 3600  # the longest a build may stay silent while its log is followed


class ApiUnreachable(Exception):
    """The API server did not answer (connection refused, timeout, TLS)."""

    def __init__(self, server: str, detail: str) -> None:
        super().__init__(f"the Kubernetes API server {server} is unreachable: {detail}")
        self.server = server


def job_finished(job: dict[str, Any]) -> str | None:
    """'Complete' or 'Failed' (with the reason) once the Job has finished, else None."""
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond.get("status") == "True" and cond.get("type") in ("Complete", "Failed"):
            reason = cond.get("reason") or ""
            return f"{cond['type']}: {reason}" if reason else str(cond["type"])
    return None


def pod_ended(pod: dict[str, Any]) -> bool:
    """Whether the pod has ended by itself: Succeeded or Failed (restartPolicy Never: all its
    containers terminated), and not being deleted, when the Job's deadline or a cancel
    stopped it and only the Job says why."""
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


class KubeClient:
    def __init__(self, settings: KubernetesSettings) -> None:
        self.namespace = settings.build_namespace  # where the build Jobs are
        configuration = client.Configuration()
        if settings.kubeconfig is not None:
            config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=str(settings.kubeconfig), client_configuration=configuration
            )
        else:
            config.load_incluster_config(  # type: ignore[no-untyped-call]
                client_configuration=configuration
            )
        # Fail fast instead of urllib3's retries: the caller reports the server unreachable.
        configuration.retries = 1
        self.server = str(configuration.host)
        self._api = client.ApiClient(configuration)
        self._core = client.CoreV1Api(self._api)
        self._batch = client.BatchV1Api(self._api)

    def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("_request_timeout", (5, 30))
        try:
            return fn(*args, **kwargs)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise ApiUnreachable(self.server, _short(exc)) from exc

    def _dict(self, obj: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._api.sanitize_for_serialization(obj)  # type: ignore[no-untyped-call]
        return result

    # ------------------------------------------------------------------ create / find / delete
    def create_build(self, secret: dict[str, Any], job: dict[str, Any]) -> dict[str, Any]:
        """Create the Secret, then the Job, then make the Job own the Secret (so the pod
        finds its Secret at once, and the Secret goes when the Job goes)."""
        name = secret["metadata"]["name"]
        try:
            self._call(self._core.create_namespaced_secret, self.namespace, secret)
        except ApiException as exc:
            if exc.status != 409:
                raise
            self._call(self._core.replace_namespaced_secret, name, self.namespace, secret)
        created = self._dict(self._call(self._batch.create_namespaced_job, self.namespace, job))
        self.own_secret(name, created)
        return created

    def own_secret(self, name: str, job: dict[str, Any]) -> None:
        meta = job["metadata"]
        owner = {
            "apiVersion": "batch/v1", "kind": "Job", "name": meta["name"], "uid": meta["uid"],
            "blockOwnerDeletion": False, "controller": False,
        }  # fmt: skip
        patch = {"metadata": {"ownerReferences": [owner]}}
        try:
            self._call(self._core.patch_namespaced_secret, name, self.namespace, patch)
        except ApiException as exc:
            if exc.status != 404:
                raise

    def find_jobs(self, selector: str) -> list[dict[str, Any]]:
        jobs = self._call(self._batch.list_namespaced_job, self.namespace, label_selector=selector)
        return [self._dict(j) for j in jobs.items]

    def get_job(self, name: str) -> dict[str, Any] | None:
        try:
            return self._dict(self._call(self._batch.read_namespaced_job, name, self.namespace))
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def delete_job(self, name: str, *, foreground: bool = True) -> None:
        """Delete the Job, its pods (and the Secret it owns)."""
        body = client.V1DeleteOptions(
            propagation_policy="Foreground" if foreground else "Background"
        )
        try:
            self._call(self._batch.delete_namespaced_job, name, self.namespace, body=body)
        except ApiException as exc:
            if exc.status != 404:
                raise

    # ------------------------------------------------------------------ watch
    def _watch(
        self,
        list_fn: Callable[..., Any],
        field_selector: str | None,
        label_selector: str | None,
        done: Callable[[str, dict[str, Any]], Any],
        stop: threading.Event,
    ) -> Any:
        """List, then watch from the list's resourceVersion, until done(event type, object)
        returns something other than None (or stop is set: None). A watch that expires
        (410 Gone) or ends starts over with a fresh list."""
        kwargs: dict[str, Any] = {}
        if field_selector:
            kwargs["field_selector"] = field_selector
        if label_selector:
            kwargs["label_selector"] = label_selector
        while not stop.is_set():
            listed = self._call(list_fn, self.namespace, **kwargs)
            for item in listed.items:
                if (found := done("LISTED", self._dict(item))) is not None:
                    return found
            if not listed.items and (found := done("NONE", {})) is not None:
                return found
            w = watch.Watch()  # type: ignore[no-untyped-call]
            try:
                for event in w.stream(  # type: ignore[no-untyped-call]
                    list_fn, self.namespace, resource_version=listed.metadata.resource_version,
                    timeout_seconds=WATCH_SECONDS, _request_timeout=(5, WATCH_SECONDS + 10),
                    **kwargs,
                ):  # fmt: skip
                    if stop.is_set():
                        return None
                    obj = event["object"]
                    obj = obj if isinstance(obj, dict) else self._dict(obj)
                    if (found := done(event["type"], obj)) is not None:
                        return found
            except ApiException as exc:
                if exc.status != 410:
                    raise
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                raise ApiUnreachable(self.server, _short(exc)) from exc
            finally:
                w.stop()  # type: ignore[no-untyped-call]
        return None

    def wait_job(self, name: str, stop: threading.Event) -> dict[str, Any] | None:
        """Watch the Job until it has finished; its last state, or None if it was deleted."""

        def done(kind: str, job: dict[str, Any]) -> Any:
            if kind in ("NONE", "DELETED") or (job.get("metadata") or {}).get("deletionTimestamp"):
                return {}
            return job if job_finished(job) else None

        result = self._watch(
            self._batch.list_namespaced_job, f"metadata.name={name}", None, done, stop
        )
        return result or None

    def wait_pod_started(self, selector: str, stop: threading.Event) -> dict[str, Any] | None:
        """Wait until the build's pod runs (or ran): its last state. Raises PodStuck if it
        can never start (image pull or container config errors)."""

        def done(kind: str, pod: dict[str, Any]) -> Any:
            if kind in ("NONE", "DELETED"):
                return None
            status = pod.get("status") or {}
            if status.get("phase") in ("Running", "Succeeded", "Failed"):
                return pod
            for cs in status.get("containerStatuses") or []:
                waiting = (cs.get("state") or {}).get("waiting") or {}
                if waiting.get("reason") in STUCK_REASONS:
                    raise PodStuck(f"{waiting['reason']}: {waiting.get('message', '')}")
            return None

        result: dict[str, Any] | None = self._watch(
            self._core.list_namespaced_pod, None, selector, done, stop
        )
        return result

    def wait_container_started(
        self, selector: str, container: str, stop: threading.Event
    ) -> dict[str, Any] | None:
        """Wait until the pod's (init) container runs or ran, or the pod has ended without
        it: the pod's last state. Raises PodStuck if a container can never start."""

        def done(kind: str, pod: dict[str, Any]) -> Any:
            if kind in ("NONE", "DELETED"):
                return None
            status = pod.get("status") or {}
            for cs in _statuses(pod):
                state = cs.get("state") or {}
                waiting = state.get("waiting") or {}
                if waiting.get("reason") in STUCK_REASONS:
                    raise PodStuck(f"{waiting['reason']}: {waiting.get('message', '')}")
                if cs.get("name") == container and ("running" in state or "terminated" in state):
                    return pod
            return pod if status.get("phase") in ("Succeeded", "Failed") else None

        result: dict[str, Any] | None = self._watch(
            self._core.list_namespaced_pod, None, selector, done, stop
        )
        return result

    def wait_pod_ended(self, selector: str, stop: threading.Event) -> dict[str, Any] | None:
        """Wait until the build's pod has ended by itself, Succeeded or Failed with all its
        containers terminated: its last state. This is about a second before the Job says
        so, as the Job controller batches pod updates for a second before it syncs the Job
        (SyncJobBatchPeriod, pkg/controller/job/job_controller.go). None when stop is set."""

        def done(kind: str, pod: dict[str, Any]) -> Any:
            return pod if kind not in ("NONE", "DELETED") and pod_ended(pod) else None

        result: dict[str, Any] | None = self._watch(
            self._core.list_namespaced_pod, None, selector, done, stop
        )
        return result

    def pods(self, selector: str) -> list[dict[str, Any]]:
        pods = self._call(self._core.list_namespaced_pod, self.namespace, label_selector=selector)
        return [self._dict(p) for p in pods.items]

    # ------------------------------------------------------------------ logs
    def follow_log(self, pod: str, container: str, write: Callable[[bytes], None]) -> None:
        """Copy the container's log as it is written, until the container has exited."""
        try:
            read: Any = self._core.read_namespaced_pod_log  # untyped streaming form
            response = read(
                pod, self.namespace, container=container, follow=True,
                _preload_content=False, _request_timeout=(5, LOG_READ_SECONDS),
            )  # fmt: skip
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise ApiUnreachable(self.server, _short(exc)) from exc
        try:
            for chunk in response.stream(64 * 1024, decode_content=False):
                write(chunk)
        finally:
            response.release_conn()

    def read_log(self, pod: str, container: str) -> str:
        text: str = self._call(
            self._core.read_namespaced_pod_log, pod, self.namespace, container=container
        )
        return text


class PodStuck(Exception):
    """The build's pod cannot start (its image cannot be pulled, its config is wrong)."""


def _statuses(pod: dict[str, Any]) -> list[dict[str, Any]]:
    status = pod.get("status") or {}
    return [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]


def started(pod: dict[str, Any], container: str) -> bool:
    """Whether the (init) container runs or ran."""
    for cs in _statuses(pod):
        if cs.get("name") == container:
            state = cs.get("state") or {}
            return "running" in state or "terminated" in state
    return False


def terminated(pod: dict[str, Any], container: str) -> dict[str, Any] | None:
    """The (init) container's `terminated` state (exitCode, reason, message), if it ended."""
    for cs in _statuses(pod):
        if cs.get("name") == container:
            state = (cs.get("state") or {}).get("terminated")
            return dict(state) if state else None
    return None


def _short(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    return str(reason or exc).splitlines()[0][:300]
