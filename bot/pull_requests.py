"""Pull/merge requests: who may build, and the `/s2i` commands.

- A PR from a fork, or from an author without write access, does not build until someone with
  write access comments `/s2i ok-to-test`; the approval is bound to the head commit the bot's
  waiting notice named when the comment came in (the commit the approver was shown), so a push
  after the notice needs a new approval, and the reply says so (Prow's and Pipelines-as-Code's
  rule). Such a PR's `.s2i.yaml` is read from the base branch, so it cannot point the build at
  another image, and its builds never get build secrets (bot/build_secrets.py): a build that
  needs one fails, saying so.
- Only users with write access may run commands; anyone else gets a reply saying why. Comments
  by the bot's own account are ignored.
- What a comment gave (a command or build name) is quoted back in a code span.
- A closed PR cancels its running builds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from bot.actions import Actions
from bot.commands import HELP, Command, parse_commands
from bot.events import Event, EventKind, PullAction, PullRequest
from bot.forges.base import ForgeApi
from bot.intake import Intake
from bot.quoting import code_span
from bot.store import Delivery, Store


class PullRequests:
    def __init__(
        self, store: Store, forges: Mapping[str, ForgeApi], intake: Intake, *, build_drafts: bool
    ) -> None:
        self._store, self._forges, self._intake = store, forges, intake
        self._build_drafts = build_drafts

    def handle(self, delivery: Delivery, event: Event) -> Actions:
        if event.kind is EventKind.COMMENT:
            return self._comment(delivery, event)
        assert event.pull is not None
        actions = Actions()
        if event.pull_action is PullAction.CLOSED:
            return self._cancel_all(
                delivery.forge, event, event.pull, "pull request closed", actions
            )
        if event.pull.draft and not self._build_drafts:
            actions.outcome = "draft pull request: not built"
            return actions
        pull = event.pull
        if not pull.author:  # GitLab's hook names the author by id only
            pull = self._forges[delivery.forge].pull_request(event.repo.full_name, pull.number)
        return self._build(delivery, event, pull, actions)

    def _cancel_all(
        self, forge: str, event: Event, pull: PullRequest, reason: str, actions: Actions,
        names: list[str] | None = None,
    ) -> Actions:  # fmt: skip
        running = self._store.unfinished_builds(
            forge, event.repo.full_name, f"pr/{pull.number}", names
        )
        actions.cancel += [(build, reason) for build in running]
        actions.outcome = f"{len(running)} build(s) cancelled: {reason}"
        return actions

    def _trusted(self, forge: str, repo: str, pull: PullRequest) -> bool:
        return not pull.from_fork and self._forges[forge].can_write(
            repo, pull.author, pull.author_id
        )

    def _build(
        self, delivery: Delivery, event: Event, pull: PullRequest, actions: Actions,
        names: list[str] | None = None,
    ) -> Actions:  # fmt: skip
        forge, repo = delivery.forge, event.repo.full_name
        trusted = self._trusted(forge, repo, pull)
        comment = (forge, repo, pull.number)
        if not trusted and not self._store.approved_by(forge, repo, pull.number, pull.head_sha):
            origin = "a fork" if pull.from_fork else f"@{pull.author}, who has no write access"
            notice = (
                f"This pull request comes from {origin}: it builds once someone with write "
                f"access comments `/s2i ok-to-test` (for commit {pull.head_sha[:7]})."
            )
            self._store.set_pull_comment(
                forge, repo, pull.number, notice=notice, notice_sha=pull.head_sha
            )
            actions.pull_comments.append(comment)
            actions.outcome = "waiting for /s2i ok-to-test"
            return actions
        if self._store.pull_comment(forge, repo, pull.number).notice:
            self._store.set_pull_comment(forge, repo, pull.number, notice="")
            actions.pull_comments.append(comment)
        pull_event = replace(
            event, kind=EventKind.PULL_REQUEST, ref=pull.fetch_ref, sha=pull.head_sha, pull=pull
        )
        # An untrusted PR's own .s2i.yaml could aim its build at any image: use the base's.
        config_sha = pull.head_sha if trusted else pull.base_sha
        # Nor may its code read the operator's build secrets, approved or not: what
        # /s2i ok-to-test approves is running the build, not handing it credentials.
        untrusted = "" if trusted else "forks" if pull.from_fork else "authors without write access"
        return self._intake.builds_for(
            delivery, pull_event, config_sha=config_sha, names=names, actions=actions,
            untrusted_origin=untrusted,
        )  # fmt: skip

    def _comment(self, delivery: Delivery, event: Event) -> Actions:
        actions = Actions()
        assert event.comment is not None and event.pr_number is not None
        commands = parse_commands(event.comment.body)
        if not commands:
            actions.outcome = "no /s2i command"
            return actions
        forge, repo, number = delivery.forge, event.repo.full_name, event.pr_number
        author = event.comment.author
        if author.lower() == self._forges[forge].bot_login().lower():
            # Its own replies quote commands (help, refusals): acting on them would loop.
            actions.outcome = "a comment by the bot itself: ignored"
            return actions
        if not self._forges[forge].can_write(repo, author, event.comment.author_id):
            reply = (
                f"@{author}: only users with write access to {repo} may run `/s2i` commands, "
                "so nothing was run."
            )
            actions.replies.append((forge, repo, number, reply))
            actions.outcome = f"refused: {author} has no write access"
            return actions
        pull = self._forges[forge].pull_request(repo, number)
        for command in commands:
            self._run(delivery, event, pull, command, actions)
        return actions

    def _run(
        self, delivery: Delivery, event: Event, pull: PullRequest, command: Command,
        actions: Actions,
    ) -> None:  # fmt: skip
        forge, repo = delivery.forge, event.repo.full_name
        assert event.comment is not None
        author = event.comment.author
        names = [command.argument] if command.argument else None
        match command.name:
            case "ok-to-test" | "rebuild":
                if not self._vouch(delivery, event, pull, author, actions):
                    return
                before = len(actions.dispatch)
                self._build(delivery, event, pull, actions, names)
                if names and len(actions.dispatch) == before and not actions.report:
                    reply = (
                        f"@{author}: no build named {code_span(command.argument or '')} runs "
                        "for pull requests."
                    )
                    actions.replies.append((forge, repo, pull.number, reply))
            case "cancel":
                self._cancel_all(forge, event, pull, f"cancelled by @{author}", actions, names)
            case "help":
                actions.replies.append((forge, repo, pull.number, HELP))
            case _:
                reply = f"@{author}: unknown command {code_span('/s2i ' + command.name)}.\n\n{HELP}"
                actions.replies.append((forge, repo, pull.number, reply))

    def _vouch(
        self, delivery: Delivery, event: Event, pull: PullRequest, author: str, actions: Actions
    ) -> bool:
        """Whether a writer's `ok-to-test` or `rebuild` lets the PR's head build. An untrusted
        PR's head must be the commit the waiting notice named when the comment came in: the
        writer approves what they were shown, not what was pushed since."""
        forge, repo = delivery.forge, event.repo.full_name
        head = pull.head_sha
        if self._trusted(forge, repo, pull) or self._store.approved_by(
            forge, repo, pull.number, head
        ):
            return True
        received = self._store.delivery_info(delivery.id)
        shown = (
            self._store.notice_shown(forge, repo, pull.number, received.received_at)
            if received is not None
            else None
        )
        if shown == head:
            self._store.approve(forge, repo, pull.number, head, author)
            return True
        if shown is not None:
            reply = (
                f"@{author}: the head moved from {shown[:7]} to {head[:7]} since the notice; "
                f"nothing was built; comment `/s2i ok-to-test` again to build {head[:7]}."
            )
        else:
            reply = (
                f"@{author}: no notice named a commit to approve when you commented, so "
                f"nothing was built; the notice now names {head[:7]}: comment "
                "`/s2i ok-to-test` again to build it."
            )
        actions.replies.append((forge, repo, pull.number, reply))
        self._build(delivery, event, pull, actions)  # the waiting notice, for the new head
        actions.outcome = f"not approved: the notice named {(shown or 'no commit')[:12]}"
        return False
