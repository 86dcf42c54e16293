"""The fake GitHub's releases, release assets and tags, as the real PyGithub and httpx see
them: what a B2I build needs to fetch "the asset of a GitHub release matching a glob"."""

from __future__ import annotations

import fnmatch
import urllib.request

import httpx
import pytest
from github import UnknownObjectException

from tests.fakes import openapi, webhooks
from tests.fakes.github import FakeGitHub, FakeRepo
from tests.support import http
from tests.support.github_client import pygithub

TARBALL = b"\x1f\x8b fake tarball bytes"
CHECKSUMS = b"abc123  app-1.2.3-linux-amd64.tar.gz\n"


@pytest.fixture
def repo(github: FakeGitHub) -> FakeRepo:
    repo = github.create_repo("octo/app")
    repo.commit({"README": "hi\n"}, "Initial commit")
    return repo


@pytest.fixture
def release_id(repo: FakeRepo) -> int:
    assets = {"app-1.2.3-linux-amd64.tar.gz": TARBALL, "SHA256SUMS": CHECKSUMS}
    return repo.create_release("v1.2.3", assets=assets, name="App 1.2.3")


def test_get_release_and_its_assets(github: FakeGitHub, repo: FakeRepo, release_id: int) -> None:
    release = pygithub(github, lazy=False).get_repo(repo.full_name).get_release(release_id)
    assert (release.id, release.tag_name, release.name) == (release_id, "v1.2.3", "App 1.2.3")
    assert release.target_commitish == "main" and not release.draft
    assets = list(release.get_assets())
    assert [a.name for a in assets] == ["app-1.2.3-linux-amd64.tar.gz", "SHA256SUMS"]
    (tarball,) = [a for a in assets if fnmatch.fnmatch(a.name, "app-*-linux-amd64.tar.gz")]
    stored = repo.release(release_id).assets[tarball.name]
    assert (tarball.id, tarball.size, tarball.content_type) == (
        stored.id,
        len(TARBALL),
        "application/gzip",
    )
    assert tarball.url == f"{repo.url}/releases/assets/{stored.id}"
    assert tarball.browser_download_url == (
        f"{repo.html_url}/releases/download/v1.2.3/app-1.2.3-linux-amd64.tar.gz"
    )
    # A release is also found by its tag name.
    assert pygithub(github).get_repo(repo.full_name).get_release("v1.2.3").id == release_id


def test_a_release_creates_its_tag_at_the_default_branch_head(
    github: FakeGitHub, repo: FakeRepo, release_id: int
) -> None:
    ref = pygithub(github).get_repo(repo.full_name).get_git_ref("tags/v1.2.3")
    assert (ref.object.type, ref.object.sha) == ("commit", repo.head())
    assert ref.ref == "refs/tags/v1.2.3"  # as GitHub answered (PyGithub's lazy ref lacks refs/)


def test_an_annotated_tag_resolves_to_its_commit(github: FakeGitHub, repo: FakeRepo) -> None:
    first = repo.head()
    repo.commit({"README": "later\n"}, "Later")
    tag_sha = repo.create_tag("v2.0.0", first, message="Release 2.0.0")
    repo.create_release("v2.0.0", assets={"app.zip": b"zip"})
    gh_repo = pygithub(github).get_repo(repo.full_name)
    ref = gh_repo.get_git_ref("tags/v2.0.0")
    assert (ref.object.type, ref.object.sha) == ("tag", tag_sha)
    tag = gh_repo.get_git_tag(ref.object.sha)
    assert (tag.tag, tag.message.strip(), tag.object.type, tag.object.sha) == (
        "v2.0.0",
        "Release 2.0.0",
        "commit",
        first,
    )


def test_a_release_at_a_given_commit_tags_that_commit(github: FakeGitHub, repo: FakeRepo) -> None:
    first = repo.head()
    repo.commit({"README": "later\n"}, "Later")
    repo.create_release("v0.1.0", assets={}, target_sha=first)
    ref = pygithub(github).get_repo(repo.full_name).get_git_ref("tags/v0.1.0")
    assert ref.object.sha == first


def test_missing_ref_and_tag_object_are_404(github: FakeGitHub, repo: FakeRepo) -> None:
    gh_repo = pygithub(github).get_repo(repo.full_name)
    with pytest.raises(UnknownObjectException):
        gh_repo.get_git_ref("tags/v9").object  # noqa: B018 - a lazy object fetches on access
    with pytest.raises(UnknownObjectException):
        gh_repo.get_git_tag(repo.head())  # a commit, not a tag object


def test_asset_download_follows_the_redirect_without_the_token(
    github: FakeGitHub, repo: FakeRepo, release_id: int
) -> None:
    asset = repo.release(release_id).assets["app-1.2.3-linux-amd64.tar.gz"]
    api_url = f"{repo.url}/releases/assets/{asset.id}"
    headers = {"Authorization": f"Bearer {github.token}", "Accept": "application/octet-stream"}
    with httpx.Client(follow_redirects=True) as client:
        response = client.get(api_url, headers=headers)
    assert response.status_code == 200 and response.content == TARBALL
    (redirect,) = response.history
    assert redirect.status_code == 302
    storage_path = f"/_downloads/{repo.id}/{asset.id}/{asset.name}"
    assert redirect.headers["Location"].startswith(github.storage_url + storage_path + "?")
    assert github.downloads == [
        (f"/api/v3/repos/octo/app/releases/assets/{asset.id}", True),
        (storage_path, False),
    ]
    assert repo.release(release_id).assets[asset.name].download_count == 1


def test_urllib_with_an_unredirected_token_downloads_the_asset(
    github: FakeGitHub, repo: FakeRepo, release_id: int
) -> None:
    # PyGithub's download_asset() would refuse the redirect: with a GitHub Enterprise
    # base_url it follows only to the same host (under /api/) or its subdomains.
    gh_asset = pygithub(github).get_repo(repo.full_name).get_release(release_id).get_assets()[0]
    request = urllib.request.Request(gh_asset.url, headers={"Accept": "application/octet-stream"})
    request.add_unredirected_header("Authorization", f"token {github.token}")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.read() == TARBALL
    assert [authorized for _, authorized in github.downloads] == [True, False]


def test_the_asset_api_needs_the_token_and_the_storage_url_does_not(
    github: FakeGitHub, repo: FakeRepo, release_id: int
) -> None:
    asset = repo.release(release_id).assets["SHA256SUMS"]
    api_url = f"{repo.url}/releases/assets/{asset.id}"
    octet = {"Accept": "application/octet-stream"}
    assert http.get(api_url, headers=octet).status_code == 401
    redirect = http.get(api_url, headers={**octet, "Authorization": f"token {github.token}"})
    assert redirect.status_code == 302 and redirect.content == b""
    location = redirect.headers["Location"]
    assert http.get(location).content == CHECKSUMS
    tampered = location.replace(f"/{asset.id}/", f"/{asset.id + 1}/")
    assert http.get(tampered).status_code == 403
    assert github.downloads[-1] == (f"/_downloads/{repo.id}/{asset.id}/SHA256SUMS", False)


def test_browser_download_url_serves_with_or_without_the_token(
    github: FakeGitHub, repo: FakeRepo, release_id: int
) -> None:
    url = f"{repo.html_url}/releases/download/v1.2.3/SHA256SUMS"
    assert http.get(url, follow_redirects=True).content == CHECKSUMS
    auth = {"Authorization": f"token {github.token}"}
    assert http.get(url, headers=auth, follow_redirects=True).content == CHECKSUMS
    path = "/octo/app/releases/download/v1.2.3/SHA256SUMS"
    assert [d for d in github.downloads if d.path == path] == [(path, False), (path, True)]
    missing = f"{repo.html_url}/releases/download/v1.2.3/nope"
    assert http.get(missing).status_code == 404


def test_missing_asset_and_release_are_404(
    github: FakeGitHub, repo: FakeRepo, release_id: int
) -> None:
    gh_repo = pygithub(github).get_repo(repo.full_name)
    with pytest.raises(UnknownObjectException):
        gh_repo.get_release_asset(999_999).size  # noqa: B018 - lazy: fetches on access
    with pytest.raises(UnknownObjectException):
        pygithub(github, lazy=False).get_repo(repo.full_name).get_release(999_999)
    octet = {"Accept": "application/octet-stream", "Authorization": f"token {github.token}"}
    response = http.get(f"{repo.url}/releases/assets/999999", headers=octet)
    assert response.status_code == 404 and github.downloads == []


def test_the_asset_json_is_the_documented_release_asset(
    github: FakeGitHub, repo: FakeRepo, release_id: int
) -> None:
    stored = repo.release(release_id).assets["SHA256SUMS"]
    asset = pygithub(github).get_repo(repo.full_name).get_release_asset(stored.id)
    assert (asset.name, asset.size, asset.digest) == ("SHA256SUMS", len(CHECKSUMS), stored.digest)
    assert github.downloads == []  # JSON, not the file


@pytest.mark.parametrize("action", webhooks.RELEASE_ACTIONS)
def test_release_payload_validates(
    github: FakeGitHub, repo: FakeRepo, release_id: int, action: str
) -> None:
    tag = "v1.2.3"
    if action == "prereleased":  # GitHub's schema: only a prerelease is "prereleased"
        tag = "v1.2.4-rc1"
        release_id = repo.create_release(tag, assets={"SHA256SUMS": b""}, prerelease=True)
    payload = webhooks.release_payload(repo, release_id, action, installation=7)
    assert openapi.load().validate_webhook("release", payload) == []
    release = payload["release"]
    assert (release["id"], release["tag_name"], release["target_commitish"]) == (
        release_id,
        tag,
        "main",
    )
    stored = repo.release(release_id).assets
    assert [(a["id"], a["name"]) for a in release["assets"]] == [
        (a.id, a.name) for a in stored.values()
    ]
    assert release["assets"][0]["url"] == f"{repo.url}/releases/assets/{release['assets'][0]['id']}"
    assert payload["repository"]["full_name"] == "octo/app"
    assert (payload["sender"]["login"], payload["installation"]["id"]) == ("octocat", 7)


def test_a_draft_release_has_no_tag_yet(github: FakeGitHub, repo: FakeRepo) -> None:
    draft = repo.create_release("v3.0.0", assets={"a": b"a"}, draft=True)
    gh_repo = pygithub(github).get_repo(repo.full_name)
    assert gh_repo.get_release(draft).draft
    with pytest.raises(UnknownObjectException):
        gh_repo.get_git_ref("tags/v3.0.0").object  # noqa: B018 - lazy: fetches on access
    with pytest.raises(UnknownObjectException):
        gh_repo.get_release("v3.0.0")  # by tag: published releases only
