"""Every form in which a secret may show up in a build log, so the log can mask each of them.

A build that gets hold of a secret can print it encoded instead of literally: base64 (standard
or URL-safe alphabet, alone or inside a longer encoded text, e.g. `echo "user:$TOKEN" |
base64`) or URL-encoded. Pure.

Base64 turns 3 bytes into 4 characters, so a secret inside a longer text is encoded in one of
three ways, depending on its offset modulo 3. For each offset this yields the characters that
depend on the secret's bytes alone (6-bit groups wholly inside it); those are masked wherever
they appear, whatever surrounds the secret.

A build secret file (an `.npmrc`, a `pip.conf`, a Maven `settings.xml`) is masked whole and
value by value: secret_file_values says which of its values are credentials.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

# Shorter encoded fragments would mask ordinary words in the log.
MIN_ENCODED = 8


def _base64_cores(secret: bytes) -> set[str]:
    cores = set()
    for offset in range(3):
        padded = b"\0" * offset + secret
        start = math.ceil(8 * offset / 6)
        end = (8 * len(padded)) // 6
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            core = encode(padded).decode()[start:end]
            if len(core) >= MIN_ENCODED:
                cores.add(core)
    return cores


def secret_forms(secret: str) -> set[str]:
    """The secret itself, its URL-encoded forms and every base64 form of it."""
    if not secret:
        return set()
    forms = {secret, quote(secret, safe=""), quote_plus(secret)}
    data = secret.encode()
    # The full encodings, with and without padding, then the offset-independent cores.
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        full = encode(data).decode()
        forms |= {full, full.rstrip("=")}
    forms |= _base64_cores(data)
    return {f for f in forms if f == secret or len(f) >= MIN_ENCODED}


# Build secret files (bot/build_secrets.py): which values in them are credentials.
# A key naming one of these words holds one (npmrc `//host/:_authToken=`, `_auth`, `_password`;
# pip.conf and .pypirc `password`; gradle.properties `mavenPassword`; `api_key`).
_SECRET_WORDS = ("auth", "token", "pass", "secret", "key", "credential", "cred")
_ASSIGNMENT = re.compile(r"^\s*(?P<key>[^=#;\s][^=]*?)\s*=\s*(?P<value>.+?)\s*$")
_COLON = re.compile(r"^\s*(?P<key>[A-Za-z0-9_.-]+)\s*:\s+(?P<value>.+?)\s*$")
# A URL's user:password@ (pip.conf `index-url`, a GOPROXY, a registry URL).
_USERINFO = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://(?P<user>[^:@/\s]*):(?P<password>[^@/\s]+)@")
# netrc(5): `machine h login u password p` (also over several lines).
_NETRC = re.compile(r"\b(?:password|account)\s+(?P<value>\S+)")
# XML elements whose name says they hold one (Maven settings.xml <password>, <passphrase>).
_XML = re.compile(r"<(?P<tag>[A-Za-z0-9_.:-]*)>(?P<value>[^<]+)</(?P=tag)>")
# An HTTP authorization value anywhere (a Maven <httpHeaders> property, a curl config).
_SCHEME = re.compile(r"\b(?:Bearer|Basic|token)\s+(?P<value>[A-Za-z0-9._~+/=-]+)")
# A shorter value would mask ordinary words all over the log; such a password is no secret.
MIN_VALUE = 6


def _has_secret_word(key: str) -> bool:
    return any(word in key.lower() for word in _SECRET_WORDS)


def _decoded(value: str) -> list[str]:
    """A base64 value's text and, for user:password, the password (npmrc `_auth`)."""
    try:
        text = base64.b64decode(value, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return []
    if not text.isprintable():
        return []
    return [text, text.partition(":")[2]] if ":" in text else [text]


def secret_file_values(content: bytes) -> list[str]:
    """What to mask of a build secret file: the whole file (its text, stripped) and every
    credential in it: values of keys that name one (`_authToken=`, `password:`), a URL's
    `user:password` and password, netrc passwords, XML elements that name one
    (`<password>`), `Bearer`/`Basic` values; base64 values also decoded. Values shorter than
    MIN_VALUE characters are not masked alone (the whole file still is)."""
    text = content.decode("utf-8", "replace").strip()
    if not text:
        return []
    values: list[str] = [text]
    for line in text.splitlines():
        match = _ASSIGNMENT.match(line) or _COLON.match(line)
        if match and _has_secret_word(match.group("key")):
            values.append(match.group("value").strip("\"'"))
        for url in _USERINFO.finditer(line):
            values += [url.group("password"), f"{url.group('user')}:{url.group('password')}"]
    values += [m.group("value") for m in _NETRC.finditer(text)]
    values += [m.group("value").strip() for m in _XML.finditer(text) if _has_secret_word(m["tag"])]
    values += [m.group("value") for m in _SCHEME.finditer(text)]
    found: list[str] = []
    for value in values:
        for candidate in [value, *_decoded(value)]:
            if len(candidate) >= MIN_VALUE and candidate not in found:
                found.append(candidate)
    return found


# Characters GNU sed's basic regular expressions give a meaning, and its `s` delimiter.
_SED_SPECIAL = frozenset("\\/.*[]^$")


def sed_script(secrets: Iterable[str]) -> bytes:
    """A GNU sed script masking each secret in every form secret_forms knows, longest first
    (as BuildLog.mask does), for a container that has no Python: the unprivileged Job
    layout's builder (bot/runner/app_layer.py HANDOVER_SCRIPT). Lines are masked one by one,
    so a form that spans lines (a whole multi-line file) is left out, as in BuildLog."""
    forms: set[str] = set()
    for secret in secrets:
        forms |= secret_forms(secret)
    lines = []
    for form in sorted(forms, key=lambda f: (-len(f), f)):
        if not form or "\n" in form or "\r" in form:
            continue
        escaped = "".join(f"\\{c}" if c in _SED_SPECIAL else c for c in form)
        lines.append(f"s/{escaped}/***/g\n")
    return "".join(lines).encode()
