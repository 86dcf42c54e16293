"""BuildView: what the build page and its JSON twin show, from one Build, its log and the
event that started it. Pure: the page (bot/pages/build_page.py) and GET /builds/{key} as JSON
render the same record (Datasette's habit: every page has its `.json`).

Links to the forge are made from the build's git URL, which the bot itself made from the
configured forge's URL and the repository's full name (never a payload's), and only when it
is http(s): GitHub's web paths are /commit/<sha>, /tree/<branch>, /pull/<n>; GitLab's
/-/commit/<sha>, /-/tree/<branch>, /-/merge_requests/<iid>.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from bot.build_record import Build, BuildState
from bot.commit_status import build_url, human_size, log_url
from bot.log_outline import LogOutline, outline

# The forges' event names (X-GitHub-Event, X-Gitlab-Event) in the words the page uses.
_TRIGGERS = {
    "push": "push",
    "Push Hook": "push",
    "create": "tag",
    "Tag Push Hook": "tag",
    "release": "release",
    "Release Hook": "release",
    "pull_request": "pull request",
    "Merge Request Hook": "merge request",
    "issue_comment": "comment (/s2i)",
    "Note Hook": "comment (/s2i)",
    "check_run": "re-run",
    "check_suite": "re-run",
}


def trigger_of(event: str | None) -> str:
    if not event:
        return "unknown"
    return _TRIGGERS.get(event, event)


def _web_url(build: Build) -> str | None:
    git_url = build.spec.source.git_url if build.spec else ""
    if not git_url.startswith(("https://", "http://")):
        return None
    return git_url.removesuffix(".git").rstrip("/")


def _forge_path(build: Build, github: str, gitlab: str) -> str:
    return gitlab if build.forge == "gitlab" else github


@dataclass(frozen=True)
class BuildView:
    build: Build
    trigger: str
    url: str
    log_url: str
    events_url: str
    outline: LogOutline
    lines_shown: int  # how many log lines the page rendered (where a live stream goes on)

    @property
    def ref_kind(self) -> str:
        ref = self.build.spec.source.ref if self.build.spec else self.build.ref_key
        if self.build.pr is not None:
            return "merge request" if self.build.forge == "gitlab" else "pull request"
        return "tag" if ref.startswith("refs/tags/") else "branch"

    @property
    def ref_name(self) -> str:
        """The branch or tag name, or `!n` / `#n` for a pull request."""
        if self.build.pr is not None:
            return f"{'!' if self.build.forge == 'gitlab' else '#'}{self.build.pr}"
        ref = self.build.spec.source.ref if self.build.spec else self.build.ref_key
        for prefix in ("refs/heads/", "refs/tags/"):
            if ref.startswith(prefix):
                return ref[len(prefix) :]
        return ref

    @property
    def repo_url(self) -> str | None:
        return _web_url(self.build)

    @property
    def commit_url(self) -> str | None:
        web = _web_url(self.build)
        if web is None:
            return None
        return f"{web}{_forge_path(self.build, '/commit/', '/-/commit/')}{self.build.sha}"

    @property
    def ref_url(self) -> str | None:
        web = _web_url(self.build)
        if web is None:
            return None
        if self.build.pr is not None:
            path = _forge_path(self.build, "/pull/", "/-/merge_requests/")
            return f"{web}{path}{self.build.pr}"
        return f"{web}{_forge_path(self.build, '/tree/', '/-/tree/')}{quote(self.ref_name)}"

    @property
    def image(self) -> str | None:
        return self.build.spec.output if self.build.spec else None

    @property
    def pull_command(self) -> str | None:
        if self.build.spec is None or not self.build.digest:
            return None
        return f"docker pull {self.build.spec.image}@{self.build.digest}"

    @property
    def size_text(self) -> str | None:
        return human_size(self.build.size) if self.build.size is not None else None

    @property
    def queue_seconds(self) -> float | None:
        return _seconds(self.build.created_at, self.build.started_at)

    @property
    def run_seconds(self) -> float | None:
        return _seconds(self.build.started_at, self.build.finished_at)

    def timings(self) -> dict[str, float]:
        found = {"queue": self.queue_seconds} | dict(self.outline.seconds_by_kind())
        found["total"] = self.run_seconds
        return {k: v for k, v in found.items() if v is not None}

    def as_json(self, *, with_log: bool = True) -> dict[str, object]:
        """The build as JSON; `with_log=False` (a listing, which reads no logs): without what
        the log and the delivery tell (trigger, steps, failure line, step timings)."""
        b = self.build
        answer: dict[str, object] = {
            "key": b.key, "name": b.name, "repo": b.repo, "sha": b.sha,
            "state": b.state.value, "reason": b.reason, "digest": b.digest,
            "size": b.size, "image": self.image,
            "url": self.url, "log_url": self.log_url,
            # Added with the build page; the fields above are what clients had before.
            "forge": b.forge, "ref": b.spec.source.ref if b.spec else b.ref_key,
            "pr": b.pr, "trigger": self.trigger, "commit_url": self.commit_url,
            "pull": self.pull_command, "events_url": self.events_url,
            "created_at": _iso(b.created_at), "started_at": _iso(b.started_at),
            "finished_at": _iso(b.finished_at), "timings": self.timings(),
            "steps": [
                {"title": s.title, "kind": s.kind, "state": s.state, "seconds": s.seconds,
                 "line": s.first_line}
                for s in self.outline.steps
            ],
            "failure_line": self.outline.failure_line,
            # What it was built on (bot/base_images.py), and why it was built again.
            "builder_digest": b.builder_digest, "runtime_digest": b.runtime_digest,
            "rebuilt_on": b.spec.rebuilt_on if b.spec else "",
        }  # fmt: skip
        if not with_log:
            for key in ("trigger", "steps", "failure_line"):
                del answer[key]
            answer["timings"] = {k: v for k, v in self.timings().items() if k in ("queue", "total")}
        return answer


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round(max(0.0, (end - start).total_seconds()), 1)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() + "Z" if moment is not None else None


def build_view(build: Build, lines: list[str], event: str | None, public_url: str) -> BuildView:
    """The view of `build` whose log so far is `lines` (complete lines only while it runs)."""
    failed = build.state in (BuildState.FAILED, BuildState.ERROR)
    return BuildView(
        build=build,
        trigger=trigger_of(event),
        url=build_url(public_url, build.key),
        log_url=log_url(public_url, build.key),
        events_url=f"{build_url(public_url, build.key)}/events",
        outline=outline(lines, failed=failed, finished=build.state.finished),
        lines_shown=len(lines),
    )
