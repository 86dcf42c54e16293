"""The one comment s2i-bot keeps on each pull/merge request, edited in place. Pure.

One comment per PR rather than one per build: GitHub's secondary rate limits punish bursts of
comments, and reviewers want one place to look (Pipelines-as-Code and Atlantis do the same).
A build's reason (perhaps its log's last line) is quoted in a code span (bot/quoting.py), and
its log link carries the build's key.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.build_record import Build, BuildState
from bot.commit_status import build_url, human_size
from bot.quoting import code_span

MARKER = "<!-- s2i-bot:builds -->"

_STATE = {
    BuildState.QUEUED: "⏳ queued",
    BuildState.RUNNING: "🔨 building",
    BuildState.SUCCEEDED: "✅ succeeded",
    BuildState.FAILED: "❌ failed",
    BuildState.CANCELLED: "🚫 cancelled",
    BuildState.ERROR: "⚠️ error",
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(builds: Sequence[Build], public_url: str, notice: str = "") -> str:
    lines = [MARKER, "### s2i-bot", ""]
    if notice:
        lines += [f"> {notice}", ""]
    if builds:
        lines += [
            "| build | commit | state | image | digest | size | log |",
            "|---|---|---|---|---|---|---|",
        ]
        for build in builds:
            image = code_span(build.spec.output) if build.spec else ""
            state = _STATE[build.state]
            if build.reason and build.state is not BuildState.SUCCEEDED:
                state += f": {code_span(build.reason)}"
            digest = f"`{build.digest[:19]}…`" if build.digest else ""
            size = human_size(build.size) if build.size is not None else ""
            link = f"[build]({build_url(public_url, build.key)})"
            cells = [build.name, f"`{build.sha[:7]}`", state, image, digest, size, link]
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        pulls = [
            f"docker pull {b.spec.image}@{b.digest}"
            for b in builds
            if b.state is BuildState.SUCCEEDED and b.spec and b.digest
        ]
        if pulls:
            lines += ["", "```", *pulls, "```"]
    lines += ["", "<sub>Commands: `/s2i rebuild [name]` · `/s2i cancel [name]` · `/s2i help`</sub>"]
    return "\n".join(lines) + "\n"
