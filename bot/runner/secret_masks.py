"""Every form in which a secret may show up in a build log, so the log can mask each of them.

A build that gets hold of a secret can print it encoded instead of literally: base64 (standard
or URL-safe alphabet, alone or inside a longer encoded text, e.g. `echo "user:$TOKEN" |
base64`) or URL-encoded. Pure.

Base64 turns 3 bytes into 4 characters, so a secret inside a longer text is encoded in one of
three ways, depending on its offset modulo 3. For each offset this yields the characters that
depend on the secret's bytes alone (6-bit groups wholly inside it); those are masked wherever
they appear, whatever surrounds the secret.
"""

from __future__ import annotations

import base64
import math
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
