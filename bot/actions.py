"""Actions: what handling one delivery decided, as plain data. Intake and pull requests fill
it; the orchestrator carries it out (cancel, report, dispatch, reply, refresh the PR comment)."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.build_record import Build


@dataclass
class Actions:
    """What handling one delivery decided; the bot carries it out in this order."""

    cancel: list[tuple[Build, str]] = field(default_factory=list)
    report: list[Build] = field(default_factory=list)  # statuses to send
    dispatch: list[Build] = field(default_factory=list)
    replies: list[tuple[str, str, int, str]] = field(default_factory=list)  # forge, repo, pr, body
    pull_comments: list[tuple[str, str, int]] = field(default_factory=list)
    outcome: str = ""

    def queue(self, build: Build) -> None:
        self.report.append(build)
        if not build.state.finished:
            self.dispatch.append(build)
