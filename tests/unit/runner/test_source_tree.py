"""The checkout names nothing outside itself: context and symlinks, checked before s2i."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.runner.errors import BuildFailure
from bot.runner.source_tree import context_dir, escaping_symlinks, refuse_escaping_symlinks


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    root = tmp_path / "source"
    (root / "web" / "static").mkdir(parents=True)
    (root / "shared").mkdir()
    (root / "shared" / "logo.svg").write_text("<svg/>")
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "git-token").write_text("ghs_secret")
    return root


def test_a_context_inside_the_checkout_is_its_directory(checkout: Path) -> None:
    assert context_dir(checkout, "web/static") == checkout / "web" / "static"
    assert context_dir(checkout, "") == checkout
    assert context_dir(checkout, "web/") == checkout / "web"


@pytest.mark.parametrize(
    "context", ["..", "../secrets", "../../secrets", "../../../../secrets", "web/../../secrets"]
)
def test_a_context_climbing_out_is_refused_at_every_depth(checkout: Path, context: str) -> None:
    with pytest.raises(BuildFailure, match=r"must stay inside the repository \('\.\.' is not"):
        context_dir(checkout, context)


def test_an_absolute_context_is_refused(checkout: Path) -> None:
    with pytest.raises(BuildFailure, match="must be a relative path inside the repository"):
        context_dir(checkout, "/etc")


def test_a_context_through_a_symlink_is_refused_even_one_pointing_inside(checkout: Path) -> None:
    (checkout / "site").symlink_to("web")
    with pytest.raises(BuildFailure, match="context 'site/static': site is a symlink"):
        context_dir(checkout, "site/static")


def test_a_missing_context_names_the_missing_directory(checkout: Path) -> None:
    with pytest.raises(BuildFailure, match="web/api is not a directory"):
        context_dir(checkout, "web/api")


def test_a_context_with_a_newline_is_refused(checkout: Path) -> None:
    with pytest.raises(BuildFailure, match="control characters"):
        context_dir(checkout, "web\nstatic")


def test_symlinks_inside_the_tree_are_fine(checkout: Path) -> None:
    (checkout / "web" / "shared").symlink_to("../shared")
    (checkout / "web" / "logo.svg").symlink_to("../shared/logo.svg")
    (checkout / "dangling-inside").symlink_to("shared/missing")
    (checkout / "loop").symlink_to("loop")
    refuse_escaping_symlinks(checkout)
    assert escaping_symlinks(checkout) == []


@pytest.mark.parametrize(
    "target",
    ["/proc/self/environ", "/etc/passwd", "../../../secrets/git-token", "../../../../..", "/"],
)
def test_a_symlink_leading_outside_fails_naming_the_link(checkout: Path, target: str) -> None:
    (checkout / "web" / "static" / "env").symlink_to(target)
    with pytest.raises(BuildFailure) as failure:
        refuse_escaping_symlinks(checkout)
    assert f"symlink web/static/env -> {target} points outside the repository" in str(failure.value)


def test_a_chain_of_symlinks_is_judged_by_where_it_ends(checkout: Path) -> None:
    (checkout / "outside").symlink_to(os.path.realpath(checkout.parent / "secrets"))
    (checkout / "web" / "hop").symlink_to("../outside/git-token")
    links = [link for link, _ in escaping_symlinks(checkout)]
    assert links == ["outside", "web/hop"]


def test_many_escaping_links_are_counted_beyond_the_first_five(checkout: Path) -> None:
    for i in range(7):
        (checkout / f"l{i}").symlink_to("/etc/hostname")
    with pytest.raises(BuildFailure, match=r"l4 -> /etc/hostname and 2 more points outside"):
        refuse_escaping_symlinks(checkout)
