"""The repository page, pure: a repository's newest builds (as GET /builds?repo= lists them)
-> HTML, with the filters the listing took (branch, pull request, state) as a plain GET form,
so it works without JavaScript."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from bot.build_record import Build, BuildState
from bot.commit_status import human_size
from bot.pages.html_layout import esc, page


@dataclass(frozen=True)
class BuildFilters:
    """What a listing is narrowed to; empty: everything."""

    branch: str = ""
    pr: int | None = None
    state: BuildState | None = None

    @property
    def ref_key(self) -> str | None:
        return f"refs/heads/{self.branch}" if self.branch else None


def parse_filters(params: Mapping[str, str]) -> BuildFilters:
    """A listing's query parameters -> its filters; ValueError naming a bad one."""
    pr, state = params.get("pr", "").strip(), params.get("state", "").strip()
    if pr and not pr.isdigit():
        raise ValueError(f"pr must be a pull request's number, not {pr[:40]!r}")
    states = [s.value for s in BuildState]
    if state and state not in states:
        raise ValueError(f"state must be one of {', '.join(states)}, not {state[:40]!r}")
    return BuildFilters(
        branch=params.get("branch", "").strip(),
        pr=int(pr) if pr else None,
        state=BuildState(state) if state else None,
    )


def _ref(build: Build) -> str:
    if build.pr is not None:
        return f"{'!' if build.forge == 'gitlab' else '#'}{build.pr}"
    for prefix in ("refs/heads/", "refs/tags/"):
        if build.ref_key.startswith(prefix):
            return build.ref_key[len(prefix) :]
    return build.ref_key


def _duration(build: Build) -> str:
    if build.started_at is None or build.finished_at is None:
        return ""
    return f"{(build.finished_at - build.started_at).total_seconds():.0f} s"


def _row(build: Build) -> str:
    state = build.state.value
    when = build.created_at.strftime("%Y-%m-%d %H:%M:%S") if build.created_at else ""
    size = human_size(build.size) if build.size is not None else ""
    return (
        '<tr class="build">'
        f'<td><a href="builds/{esc(build.key)}"><span class="state state-{esc(state)}">'
        f"{esc(state)}</span></a></td>"
        f"<td>{esc(build.name)}</td><td>{esc(_ref(build))}</td>"
        f"<td><code>{esc(build.sha[:12])}</code></td><td>{esc(when)} UTC</td>"
        f"<td>{esc(_duration(build))}</td><td>{esc(size)}</td>"
        f'<td class="reason">{esc(build.reason)}</td></tr>'
    )


def _filters_form(repo: str, filters: BuildFilters) -> str:
    options = "".join(
        f'<option value="{esc(s.value)}"{" selected" if filters.state == s else ""}>'
        f"{esc(s.value)}</option>"
        for s in BuildState
    )
    pr = "" if filters.pr is None else str(filters.pr)
    return (
        '<form class="filters" method="get" action="builds">'
        f'<input type="hidden" name="repo" value="{esc(repo)}">'
        f'<label>branch <input name="branch" value="{esc(filters.branch)}"></label> '
        f'<label>pull request <input name="pr" value="{esc(pr)}" inputmode="numeric"></label> '
        f'<label>state <select name="state"><option value="">any</option>{options}</select>'
        '</label> <button type="submit">filter</button></form>'
    )


def _badge_path(badges_url: str, name: str, branch: str, *, relative: bool = False) -> str:
    url = f"{badges_url}/{quote(name)}/{quote(branch, safe='/')}.svg"
    # The page's own copy: relative to /builds, on whatever host the browser came by.
    return "badges/" + url.split("/badges/", 1)[1] if relative else url


def _badges(builds: list[Build], badges_url: str) -> str:
    """The Markdown of each build name's badge on each branch listed, to copy into a README."""
    seen: dict[tuple[str, str], None] = {}
    for build in builds:
        if build.pr is None and build.ref_key.startswith("refs/heads/"):
            seen.setdefault((build.name, build.ref_key.removeprefix("refs/heads/")), None)
    items = "".join(
        f'<li><img src="{esc(_badge_path(badges_url, name, branch, relative=True))}" '
        f'alt="{esc(name)} on {esc(branch)}"> '
        f"<code>![{esc(name)}]({esc(_badge_path(badges_url, name, branch))})</code></li>"
        for name, branch in sorted(seen)
    )
    return f'<section class="badges"><h2>Badges</h2><ul>{items}</ul></section>' if items else ""


def repository_page(
    repo: str, builds: list[Build], filters: BuildFilters, badges_url: str | None = None
) -> str:
    """`badges_url`: where the repository's badges are (`<public_url>/badges/<repo>`), for a
    public repository; None: no badges (a private repository has none)."""
    rows = "".join(_row(b) for b in builds) or (
        '<tr><td colspan="8" class="empty">no builds match</td></tr>'
    )
    body = f"""<header><h1>{esc(repo)} <span class="on">builds</span></h1></header>
<main>
{_filters_form(repo, filters)}
<table class="builds"><thead><tr><th>state</th><th>build</th><th>ref</th><th>commit</th>
<th>queued at</th><th>took</th><th>size</th><th>reason</th></tr></thead>
<tbody>{rows}</tbody></table>
{_badges(builds, badges_url) if badges_url else ""}
<p class="json"><a href="builds?{esc(urlencode({"repo": repo}))}&amp;format=json">JSON</a></p>
</main>"""
    return page(f"{repo} · builds", body, assets="assets/")
