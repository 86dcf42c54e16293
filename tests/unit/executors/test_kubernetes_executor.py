"""The BuildResult read back from a finished runner container (pure parts of the executor)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.build_result import BuildResult
from bot.executors import make_executor
from bot.executors.kube_client import job_finished, pod_ended
from bot.executors.kubernetes_executor import KubernetesExecutor, result_of
from bot.executors.local_executor import LocalExecutor
from bot.settings import Settings


def pod(terminated: dict[str, Any] | None) -> dict[str, Any]:
    state = {"terminated": terminated} if terminated else {"running": {}}
    return {"status": {"containerStatuses": [{"name": "runner", "state": state}]}}


def test_the_termination_message_is_the_result() -> None:
    result = BuildResult(state="failed", reason="the build failed: exit status 1")
    message = {"exitCode": 1, "reason": "Error", "message": result.model_dump_json()}
    assert result_of(pod(message), "Failed: BackoffLimitExceeded") == result


def test_without_a_message_the_exit_status_is_the_reason() -> None:
    result = result_of(pod({"exitCode": 137, "reason": "OOMKilled"}), "Failed")
    assert result == BuildResult(
        state="error", reason="the runner exited with status 137 (OOMKilled)"
    )


def test_a_runner_stopped_at_the_jobs_deadline_has_timed_out_and_failed() -> None:
    deadline = result_of(pod({"exitCode": 143, "message": "{trunc"}), "Failed: DeadlineExceeded")
    assert deadline == BuildResult(state="failed", reason="timed out after its time limit")


def test_a_runner_that_never_ran_is_an_error() -> None:
    assert result_of(pod(None), "Failed: DeadlineExceeded").state == "error"


def test_a_job_is_finished_by_its_conditions() -> None:
    assert job_finished({"status": {}}) is None
    done = {"status": {"conditions": [{"type": "Complete", "status": "True"}]}}
    assert job_finished(done) == "Complete"
    failed = {"status": {"conditions": [{"type": "Failed", "status": "True", "reason": "X"}]}}
    assert job_finished(failed) == "Failed: X"


def test_a_pod_has_ended_by_itself_when_it_succeeded_or_failed_and_is_not_being_deleted() -> None:
    assert pod_ended({"status": {"phase": "Succeeded"}})
    assert pod_ended({"status": {"phase": "Failed"}})
    assert not pod_ended({"status": {"phase": "Running"}})
    assert not pod_ended({"status": {"phase": "Pending"}})
    assert not pod_ended({})
    # Stopped at the Job's deadline or by a cancel: the Job says why, not the exit status.
    deleting = {"metadata": {"deletionTimestamp": "2026-11-30T20:00:00Z"}}
    assert not pod_ended(deleting | {"status": {"phase": "Failed"}})


def test_the_settings_choose_the_executor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # data_dir: the local executor's start sweeps its work directory (not ./var of the cwd).
    # No engine on PATH: its start would also ask the engine for the images of finished builds
    # (bot/executors/local_images.py), seconds or a minute on a host whose engine holds many,
    # and a unit test runs with nothing but the venv (issue 14); without one it asks nothing.
    monkeypatch.setenv("PATH", str(tmp_path / "no-engine"))
    assert isinstance(make_executor(Settings(data_dir=tmp_path)), LocalExecutor)
    executor = make_executor(Settings.model_validate({"executor": "kubernetes"}))
    assert isinstance(executor, KubernetesExecutor)
