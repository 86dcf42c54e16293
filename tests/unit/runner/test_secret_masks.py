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
