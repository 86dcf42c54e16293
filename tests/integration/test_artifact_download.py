"""B2I downloads within the operator's policy, against a real HTTP server (tests/fakes/
artifact_host.py): private addresses refused unless allowed, every redirect checked again,
a size cap enforced while streaming, the token only on the first hop."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.runner.artifact import ArtifactPolicy, check_url, fetch_artifact
from bot.runner.errors import BuildFailure
from bot.runner.process import BuildLog
from tests.fakes.artifact_host import ArtifactHost

LOOPBACK = ArtifactPolicy(allowed_hosts=("127.0.0.1",))


@pytest.fixture
def host() -> Iterator[ArtifactHost]:
    with ArtifactHost() as server:
        yield server


def fetch(url: str, tmp_path: Path, policy: ArtifactPolicy, token: str | None = None) -> Path:
    return fetch_artifact(
        url, "tool", tmp_path / "source", BuildLog(io.StringIO()), token=token, policy=policy
    )


def test_an_allowed_host_serves_the_artifact(host: ArtifactHost, tmp_path: Path) -> None:
    url = host.add("tool", b"#!/bin/sh\necho hi\n")
    assert fetch(url, tmp_path, LOOPBACK).read_bytes() == b"#!/bin/sh\necho hi\n"


@pytest.mark.parametrize("address", ["127.0.0.1", "localhost"])
def test_loopback_is_refused_by_default(host: ArtifactHost, tmp_path: Path, address: str) -> None:
    url = host.add("tool", b"x").replace("127.0.0.1", address)
    with pytest.raises(BuildFailure, match=r"a loopback, link-local or private address"):
        fetch(url, tmp_path, ArtifactPolicy())
    assert host.requests == []  # refused before connecting
    assert not (tmp_path / "source" / "tool").exists()


def test_a_redirect_to_a_host_not_allowed_is_refused(host: ArtifactHost, tmp_path: Path) -> None:
    target = host.add("tool", b"x").replace("127.0.0.1", "localhost")
    with pytest.raises(BuildFailure, match=r"leads to localhost at 127\.0\.0\.1"):
        fetch(f"{host.url}/redirect?to={target}", tmp_path, LOOPBACK)
    assert host.requests == [f"/redirect?to={target}"]


def test_a_redirect_to_another_scheme_is_refused(host: ArtifactHost, tmp_path: Path) -> None:
    with pytest.raises(BuildFailure, match=r"'file:///etc/passwd' is not an http:// or https://"):
        fetch(f"{host.url}/redirect?to=file:///etc/passwd", tmp_path, LOOPBACK)


def test_the_token_goes_to_the_first_hop_only(host: ArtifactHost, tmp_path: Path) -> None:
    target = host.add("tool", b"x")
    fetch(f"{host.url}/redirect?to={target}", tmp_path, LOOPBACK, token="ghs_t0ken")
    assert host.requests == [f"/redirect?to={target}", "/files/tool"]
    assert host.authorizations == ["token ghs_t0ken", None]


@pytest.mark.parametrize("announce", [False, True], ids=["streamed", "announced"])
def test_a_5_gb_file_is_refused_without_downloading_it(
    host: ArtifactHost, tmp_path: Path, announce: bool
) -> None:
    policy = ArtifactPolicy(allowed_hosts=("127.0.0.1",), max_bytes=8 << 20)
    url = f"{host.url}/huge" + ("?announce=1" if announce else "")
    with pytest.raises(BuildFailure, match=r"larger than max_artifact_bytes \(8388608 bytes\)"):
        fetch(url, tmp_path, policy)
    assert not (tmp_path / "source" / "tool").exists()
    # Far from 5 GB: what the server pushed before the connection closed (socket buffers).
    assert host.huge_sent < 64 << 20


@pytest.mark.parametrize(
    "address",
    ["10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
     "::1", "fe80::1", "fd00::1", "::ffff:127.0.0.1", "224.0.0.1"],
)  # fmt: skip
def test_non_public_addresses_are_refused(address: str) -> None:
    with pytest.raises(BuildFailure, match="loopback, link-local or private address"):
        check_url("https://artifacts.example.com/x", ArtifactPolicy(), lambda h, p: [address])


def test_a_host_with_one_private_address_among_public_ones_is_refused() -> None:
    with pytest.raises(BuildFailure):
        check_url(
            "https://a.example.com/x", ArtifactPolicy(), lambda h, p: ["93.184.216.34", "10.1.1.1"]
        )


def test_allow_private_lets_any_address_through() -> None:
    target = check_url(
        "http://build-cache.internal:8081/x?y=1", ArtifactPolicy(allow_private=True),
        lambda h, p: ["10.1.1.1"],
    )  # fmt: skip
    assert (target.address, target.port, target.path) == ("10.1.1.1", 8081, "/x?y=1")
