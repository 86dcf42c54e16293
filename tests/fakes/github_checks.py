"""Check runs in the fake GitHub (:mod:`tests.fakes.github`): what GitHub keeps of each one,
its REST shape, the rules GitHub's docs state for creating and updating one, and a small HTML
view of a received check run for people (``GET /_fake/check-runs/{id}.html``: its summary's
Markdown rendered with markdown-it-py, as a screenshot of "a check run summary" needs).

GitHub's rules followed here ("Checks", REST docs): only a GitHub App creates check runs (a
token is told "You must authenticate via a GitHub App."), with the ``checks: write``
permission; the head sha must be a commit of the repository; a ``conclusion`` is required with
``status: completed`` or ``completed_at``, and giving one completes the run; an ``output``
needs its ``title`` and ``summary``; annotations (at most 50 a request, which the OpenAPI
description checks) are appended by each request, and take columns only on one line; only the
app that created a check run updates it.
"""

from __future__ import annotations

import copy
import html
import itertools
import threading
from dataclasses import dataclass, field
from typing import Any

from markdown_it import MarkdownIt

from tests.fakes import openapi

JSON = Any
HTML_PREFIX = "/_fake/check-runs/"


class CheckRunRefused(Exception):
    """GitHub's answer to a request it refuses (403, 404, 422), in its error shape."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class CheckRunRecord:
    """One check run as the fake keeps it: its fields now, every annotation it was given,
    and each request's body (to see the order of states the bot sent)."""

    id: int
    repo: str  # owner/name
    app_id: int
    app_body: dict[str, JSON]
    suite_id: int
    name: str
    head_sha: str
    status: str = "queued"
    conclusion: str | None = None
    details_url: str | None = None
    external_id: str | None = None
    started_at: str | None = None
    completed_at: str | None = None
    title: str | None = None
    summary: str | None = None
    text: str | None = None
    annotations: list[dict[str, JSON]] = field(default_factory=list)
    requests: list[dict[str, JSON]] = field(default_factory=list)

    @property
    def statuses(self) -> list[str]:
        """The status after each request, in order (``completed/failure`` once concluded)."""
        seen, status = [], "queued"
        for body in self.requests:
            if "conclusion" in body:
                status = f"completed/{body['conclusion']}"
            elif "status" in body:
                status = body["status"]
            seen.append(status)
        return seen


class CheckRuns:
    """Every check run of a fake GitHub, by id; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: dict[int, CheckRunRecord] = {}
        self._suites: dict[tuple[str, str, int], int] = {}
        self._ids = itertools.count(4001)  # apart from other ids, to catch mix-ups
        self._suite_ids = itertools.count(7001)

    def all(self, repo: str | None = None) -> list[CheckRunRecord]:
        with self._lock:
            runs = [copy.deepcopy(r) for r in self._runs.values()]
        return [r for r in runs if repo is None or r.repo.lower() == repo.lower()]

    def get(self, check_run_id: int) -> CheckRunRecord | None:
        with self._lock:
            run = self._runs.get(check_run_id)
            return copy.deepcopy(run) if run is not None else None

    def create(
        self, repo: str, app_id: int, app_body: dict[str, JSON], body: dict[str, JSON]
    ) -> CheckRunRecord:
        with self._lock:
            suite = self._suites.setdefault(
                (repo.lower(), body["head_sha"], app_id), next(self._suite_ids)
            )
            run = CheckRunRecord(
                next(self._ids), repo, app_id, app_body, suite, body["name"], body["head_sha"]
            )
            _apply(run, body)
            self._runs[run.id] = run
            return copy.deepcopy(run)

    def update(
        self, repo: str, check_run_id: int, app_id: int, body: dict[str, JSON]
    ) -> CheckRunRecord:
        with self._lock:
            run = self._runs.get(check_run_id)
            if run is None or run.repo.lower() != repo.lower():
                raise CheckRunRefused(404, "Not Found")
            if run.app_id != app_id:
                raise CheckRunRefused(403, "Resource not accessible by integration")
            _apply(run, body)
            return copy.deepcopy(run)


def _apply(run: CheckRunRecord, body: dict[str, JSON]) -> None:
    """A create or update request, checked as GitHub checks it, applied to ``run``."""
    conclusion = body.get("conclusion")
    if (body.get("status") == "completed" or "completed_at" in body) and not conclusion:
        raise CheckRunRefused(422, "Invalid request.\n\nNo conclusion given for a completed run.")
    output = body.get("output")
    if output is not None:
        missing = [k for k in ("title", "summary") if not output.get(k)]
        if missing:
            raise CheckRunRefused(422, f"Invalid request.\n\n{', '.join(missing)} wasn't supplied.")
        for annotation in output.get("annotations", []):
            columns = "start_column" in annotation or "end_column" in annotation
            if columns and annotation["start_line"] != annotation["end_line"]:
                raise CheckRunRefused(
                    422, "Invalid request.\n\ncolumns are only allowed on a single line."
                )
    run.requests.append(copy.deepcopy(body))
    for key in ("name", "details_url", "external_id", "started_at", "completed_at"):
        if key in body:
            setattr(run, key, body[key])
    if "status" in body:
        run.status = body["status"]
    if conclusion:
        run.conclusion, run.status = conclusion, "completed"  # a conclusion completes it
    if output is not None:
        run.title, run.summary = output["title"], output["summary"]
        run.text = output.get("text", run.text)
        run.annotations += [copy.deepcopy(a) for a in output.get("annotations", [])]


def check_run_body(run: CheckRunRecord, web_url: str, api_url: str) -> dict[str, JSON]:
    """The ``check-run`` GitHub answers with (its example, filled from ``run``)."""
    body = copy.deepcopy(openapi.load().example("check-run"))
    url = f"{api_url}/repos/{run.repo}/check-runs/{run.id}"
    body.update(
        id=run.id, node_id=f"CR_fake{run.id}", head_sha=run.head_sha, name=run.name,
        external_id=run.external_id, url=url, html_url=f"{web_url}/{run.repo}/runs/{run.id}",
        details_url=run.details_url, status=run.status, conclusion=run.conclusion,
        started_at=run.started_at, completed_at=run.completed_at,
        output={
            "title": run.title, "summary": run.summary, "text": run.text,
            "annotations_count": len(run.annotations), "annotations_url": f"{url}/annotations",
        },
        check_suite={"id": run.suite_id}, app=run.app_body, pull_requests=[],
    )  # fmt: skip
    body.pop("deployment", None)
    return dict(body)


def annotation_body(run: CheckRunRecord, annotation: dict[str, JSON], web_url: str) -> JSON:
    """A ``check-annotation`` as "List check run annotations" answers."""
    return {
        "path": annotation["path"], "start_line": annotation["start_line"],
        "end_line": annotation["end_line"], "start_column": annotation.get("start_column"),
        "end_column": annotation.get("end_column"),
        "annotation_level": annotation["annotation_level"], "title": annotation.get("title"),
        "message": annotation["message"], "raw_details": annotation.get("raw_details"),
        "blob_href": f"{web_url}/{run.repo}/blob/{run.head_sha}/{annotation['path']}",
    }  # fmt: skip


_STYLE = """
body { font: 14px/1.5 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1f2328;
       max-width: 880px; margin: 24px auto; padding: 0 16px; }
header { border: 1px solid #d1d9e0; border-radius: 6px 6px 0 0; padding: 12px 16px;
         background: #f6f8fa; }
header h1 { font-size: 16px; margin: 0; } header p { margin: 4px 0 0; color: #59636e; }
main { border: 1px solid #d1d9e0; border-top: 0; border-radius: 0 0 6px 6px; padding: 16px; }
.state { font-weight: 600; } .success { color: #1a7f37; } .failure, .timed_out { color: #d1242f; }
.cancelled, .queued, .in_progress { color: #9a6700; }
table { border-collapse: collapse; margin: 8px 0; } td, th { border: 1px solid #d1d9e0;
        padding: 4px 10px; } pre { background: #f6f8fa; padding: 12px; overflow: auto;
        border-radius: 6px; font-size: 12px; } code { font-size: 12px; }
.annotation { border-left: 4px solid #d1242f; background: #ffebe9; padding: 6px 10px;
              margin: 6px 0; font-family: monospace; font-size: 12px; }
"""


def check_run_html(run: CheckRunRecord) -> str:
    """A page like GitHub's view of a check run: its name, state and title, the summary's
    Markdown rendered (raw HTML in it stays text: GitHub sanitises it), the annotations."""
    markdown = MarkdownIt("commonmark", {"html": False}).enable("table")
    state = run.conclusion or run.status
    esc = html.escape
    annotations = "".join(
        f'<div class="annotation"><b>{esc(a["path"])}:{a["start_line"]}</b> '
        f"{esc(a['message'])}</div>"
        for a in run.annotations
    )
    if annotations:
        annotations = f"<h2>Annotations</h2>{annotations}"
    return (
        f"<!doctype html><html><head><meta charset=utf-8><title>{esc(run.name)}</title>"
        '<link rel="icon" href="data:,">'  # a browser asks no /favicon.ico
        f"<style>{_STYLE}</style></head><body><header><h1>{esc(run.name)} "
        f'<span class="state {esc(state)}">{esc(state)}</span></h1>'
        f"<p>{esc(run.title or '')}</p></header><main>"
        f"{markdown.render(run.summary or '')}{annotations}</main></body></html>"
    )
