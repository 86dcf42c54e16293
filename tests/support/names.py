"""Names no other test uses, in this run or in one beside it: repositories (and so registry
repositories, named after them), namespaces, images."""

from __future__ import annotations

import secrets


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"
