"""Re-runs: GitHub's "Re-run" of a check run (`check_run` `rerequested`) builds that build
again; "Re-run all checks" (`check_suite` `rerequested`) builds the commit's builds again.

The rules are `/s2i rebuild`'s (bot/pull_requests.py): only a user with write access to the
repository may ask, by the user id GitHub names (`ForgeApi.can_write`). A reader is refused:
on a pull request's build with a reply on the pull request, as a refused `/s2i` command is;
elsewhere (a branch or tag has nowhere to reply) the delivery's outcome says so
(`GET /deliveries/{id}`) with a log line. GitHub itself offers "Re-run" only to writers, so
this is the second line.

A re-run builds exactly what the build was (its stored spec: the same commit, `.s2i.yaml`
entry, image and tags), its image grants checked again against today's image policy. It
supersedes unfinished builds of the same name and ref, as a push does; a build of an older
commit than its ref's newest is not re-run (its image tags would go back to the old code):
the newest is the one to re-run. A build that never had a spec (an `s2i/config` failure)
re-runs by pushing a fixed `.s2i.yaml`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from bot.actions import Actions
from bot.build_logs import LogStore
from bot.build_record import Build, BuildState
from bot.events import Event
from bot.forges.base import ForgeApi
from bot.image_policy import ImagePolicy, ImagePolicyError
from bot.store import Delivery, Store

log = logging.getLogger(__name__)


class Reruns:
    def __init__(
        self, store: Store, forges: Mapping[str, ForgeApi], logs: LogStore,
        image_policy: ImagePolicy | None = None,
    ) -> None:  # fmt: skip
        self._store, self._forges, self._logs = store, forges, logs
        self._image_policy = image_policy

    def handle(self, delivery: Delivery, event: Event) -> Actions:
        actions = Actions()
        rerun = event.rerun
        assert rerun is not None
        forge, repo = delivery.forge, event.repo.full_name
        builds = self._asked_for(forge, repo, event)
        if not builds:
            actions.outcome = f"nothing to re-run: no build of {repo}@{event.sha[:12]} matches"
            return actions
        if not self._forges[forge].can_write(repo, rerun.requester, rerun.requester_id):
            return self._refuse(forge, repo, builds, rerun.requester, actions)
        done = {b.name for b in self._store.builds_of_delivery(delivery.id)}  # processed again
        skipped: list[str] = []
        for build in builds:
            if build.name in done:
                continue
            why = self._why_not(build)
            if why:
                skipped.append(f"{build.name}: {why}")
                continue
            self._rebuild(delivery, build, rerun.requester, actions)
        outcome = f"{len(actions.dispatch)} build(s) re-run by {rerun.requester}"
        actions.outcome = "; ".join([outcome, *skipped])
        return actions

    def _asked_for(self, forge: str, repo: str, event: Event) -> list[Build]:
        assert event.rerun is not None
        key = event.rerun.build_key
        if key is None:  # the check suite: every build of the commit, the newest of each
            return self._store.latest_builds_of_commit(forge, repo, event.sha)
        build = self._store.find_build_by_key(key)
        if build is None or (build.forge, build.repo.lower(), build.sha) != (
            forge, repo.lower(), event.sha,
        ):  # fmt: skip
            return []
        return [build]

    def _refuse(
        self, forge: str, repo: str, builds: list[Build], requester: str, actions: Actions
    ) -> Actions:
        names = ", ".join(sorted({b.name for b in builds}))
        log.warning("re-run of %s in %s refused: %s has no write access", names, repo, requester)
        for pr in sorted({b.pr for b in builds if b.pr is not None}):
            reply = (
                f"@{requester}: only users with write access to {repo} may re-run builds, "
                "so nothing was run."
            )
            actions.replies.append((forge, repo, pr, reply))
        actions.outcome = f"refused: {requester} has no write access"
        return actions

    def _why_not(self, build: Build) -> str:
        if build.spec is None:
            return "nothing to build again (push a fixed .s2i.yaml)"
        newest = self._store.newest_build(build.forge, build.repo, build.ref_key, build.name)
        if newest is not None and newest.sha != build.sha:
            return f"{newest.sha[:7]} was built since; re-run that build"
        return ""

    def _rebuild(self, delivery: Delivery, build: Build, requester: str, actions: Actions) -> None:
        spec = build.spec
        assert spec is not None
        reason = ""
        if self._image_policy is not None:
            try:
                spec = self._image_policy.check(spec)
            except ImagePolicyError as exc:
                reason = str(exc)
        for older in self._store.unfinished_builds(
            build.forge, build.repo, build.ref_key, [build.name]
        ):
            actions.cancel.append((older, f"superseded by a re-run of {build.sha[:7]}"))
        again = self._store.add_build(
            delivery_id=delivery.id, name=build.name, forge=build.forge, repo=build.repo,
            sha=build.sha, spec=spec, ref_key=build.ref_key, pr=build.pr,
            state=BuildState.FAILED if reason else BuildState.QUEUED, reason=reason,
        )  # fmt: skip
        what = f"FAILED: {reason}" if reason else "queued"
        self._logs.write(
            again.id, f"build {build.name} of {build.repo}@{build.sha} re-run by @{requester}: "
            f"{what}\n",
        )  # fmt: skip
        actions.queue(again)
