"""A secret is masked in the build log however a build prints it: literally, URL-encoded, or
base64 (both alphabets, alone or inside a longer encoded text)."""

from __future__ import annotations

import base64
import io
from urllib.parse import quote

import pytest

from bot.runner.credentials import Credentials, docker_config
from bot.runner.process import BuildLog

TOKEN = "ghs_Zm9vYmFy+/t0k3n?&=" + "x" * 12


def masked(text: str, *secrets: str) -> str:
    out = io.StringIO()
    BuildLog(out, secrets=secrets).line(text)
    return out.getvalue().rstrip("\n")


@pytest.mark.parametrize("prefix", ["", "a", "ab", "user:", "Authorization: Basic xyz:"])
@pytest.mark.parametrize("suffix", ["", "\n", "!", "-more-text"])
@pytest.mark.parametrize("encode", [base64.b64encode, base64.urlsafe_b64encode])
def test_base64_of_a_text_holding_the_secret_shows_no_part_of_it(
    prefix: str, suffix: str, encode: object
) -> None:
    assert callable(encode)
    encoded = encode((prefix + TOKEN + suffix).encode()).decode()
    shown = masked(encoded, TOKEN)
    before, sep, after = shown.partition("***")
    assert sep and "***" not in after, shown
    assert encoded.startswith(before) and encoded.endswith(after)
    # Masked: every character that depends on the token's bytes alone (the one character at
    # each end also holds bits of the text around it).
    hidden = len(encoded) - len(before) - len(after)
    assert hidden >= 4 * len(TOKEN) // 3 - 2, shown


def test_the_literal_and_url_encoded_secret_are_masked() -> None:
    assert masked(f"token={TOKEN}", TOKEN) == "token=***"
    assert masked(f"https://x/?t={quote(TOKEN, safe='')}", TOKEN) == "https://x/?t=***"


def test_the_registry_password_and_its_user_password_base64_are_masked() -> None:
    config = docker_config({"registry.example.com": ("s2ibot", "p4ssw0rd-registry")})
    credentials = Credentials(TOKEN, config)
    out = io.StringIO()
    log = BuildLog(out)
    for secret in credentials.secrets():
        log.add_secret(secret)
    auth = base64.b64encode(b"s2ibot:p4ssw0rd-registry").decode()
    log.line(f"auth={auth} password=p4ssw0rd-registry pair=s2ibot:p4ssw0rd-registry")
    log.line(base64.b64encode(b"p4ssw0rd-registry\n").decode())
    assert "p4ssw0rd" not in out.getvalue()
    assert auth not in out.getvalue()
    assert out.getvalue().splitlines()[0] == "auth=*** password=*** pair=***"


def test_short_encoded_fragments_do_not_mask_ordinary_words() -> None:
    assert masked("building main.go", "ab") == "building main.go"


NPMRC = b"""registry=http://127.0.0.1:4873/
//127.0.0.1:4873/:_authToken=npm_Tok3nValue99
//127.0.0.1:4873/:_auth=YWxpY2U6bnBtUGFzc3dvcmQ=
always-auth=true
"""
PIP_CONF = b"""[global]
index-url = http://alice:p1pPassw0rd@127.0.0.1:8081/simple/
"""
SETTINGS_XML = b"""<settings><servers><server>
  <id>private</id><username>alice</username><password>mvnS3cret!</password>
  <configuration><httpHeaders><property><name>Authorization</name>
  <value>Bearer hdrT0kenValue</value></property></httpHeaders></configuration>
</server></servers></settings>
"""
NETRC = b"machine 127.0.0.1 login alice password goProxyPw42\n"


@pytest.mark.parametrize(
    ("content", "credentials"),
    [
        (NPMRC, ["npm_Tok3nValue99", "alice:npmPassword", "npmPassword"]),
        (PIP_CONF, ["p1pPassw0rd", "alice:p1pPassw0rd"]),
        (SETTINGS_XML, ["mvnS3cret!", "hdrT0kenValue"]),
        (NETRC, ["goProxyPw42"]),
    ],
)
def test_every_credential_in_a_build_secret_file_is_masked_in_every_form(
    content: bytes, credentials: list[str]
) -> None:
    log_secrets = Credentials(None, {"auths": {}}, {"file": content}).secrets()
    for credential in credentials:
        for shown in (credential, base64.b64encode(credential.encode()).decode(),
                      quote(credential, safe="")):  # fmt: skip
            text = masked(f"npm ERR! {shown} was sent", *log_secrets)
            assert credential not in text and shown not in text, (credential, text)
    # The whole file too, as a tool that prints it in one piece would.
    whole = content.decode().strip()
    assert masked(f"config: {whole}", *log_secrets) == "config: ***"


def test_the_non_secret_parts_of_a_build_secret_file_stay_readable() -> None:
    log_secrets = Credentials(None, {"auths": {}}, {"npmrc": NPMRC}).secrets()
    line = "npm ERR! 404 Not Found - GET http://127.0.0.1:4873/private-greeting - always-auth=true"
    assert masked(line, *log_secrets) == line
