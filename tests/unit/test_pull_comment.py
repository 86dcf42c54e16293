from bot.build_record import Build, BuildState
from bot.build_spec import BuildSpec, SourceSpec
from bot.pull_comment import MARKER, render

DIGEST = "sha256:" + "b" * 64


def build(
    name: str, state: BuildState, reason: str = "", digest: str | None = None,
    size: int | None = None,
) -> Build:  # fmt: skip
    spec = BuildSpec(
        name=name, repo="acme/app", forge="github",
        source=SourceSpec(git_url="u", sha="c" * 40, ref="refs/pull/7/head"), template="go",
        builder_image="b", image="reg.example.com/acme/app", tags=("pr-7",),
    )  # fmt: skip
    return Build(
        1, "d", name, "github", "acme/app", "c" * 40, spec, state, reason, digest, size, "pr/7", 7,
        key=f"key-of-{name}",
    )  # fmt: skip


def test_the_comment_is_a_table_with_a_pull_line_per_image() -> None:
    text = render(
        [
            build("api", BuildState.FAILED, reason="the build failed: exit status 2"),
            build("web", BuildState.SUCCEEDED, digest=DIGEST, size=52_100_000),
        ],
        "https://bot.example.com",
    )
    assert text.startswith(MARKER)
    assert "| api | `ccccccc` | ❌ failed: `the build failed: exit status 2` |" in text
    assert "| web | `ccccccc` | ✅ succeeded | `reg.example.com/acme/app:pr-7` |" in text
    assert "| 52.1 MB | [build](https://bot.example.com/builds/key-of-web) |" in text
    assert f"docker pull reg.example.com/acme/app@{DIGEST}" in text
    assert "docker pull" not in text.split("api")[1].split("\n")[0]


def test_a_notice_is_shown_above_the_table() -> None:
    text = render([], "http://bot", "Waiting for `/s2i ok-to-test`.")
    assert "> Waiting for `/s2i ok-to-test`." in text
    assert "| build |" not in text


def test_a_reason_from_a_log_cannot_mention_link_or_break_the_table() -> None:
    reason = "step failed: @everyone see ``[x](http://evil)`` <img src=x> | col\nnext\x1b[31m"
    text = render([build("api", BuildState.FAILED, reason=reason)], "https://bot.example.com")
    (row,) = [line for line in text.splitlines() if line.startswith("| api |")]
    # One code span with a fence longer than any backtick run inside; the pipe escaped for
    # the table (GFM unescapes it inside the span), newline and escape gone.
    assert (
        "❌ failed: ```step failed: @everyone see ``[x](http://evil)`` <img src=x> \\| col "
        "next [31m``` |"
    ) in row
    assert row.count("|") - row.count("\\|") == 8  # seven cells
