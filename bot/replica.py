"""Who this bot process is among the replicas sharing one database, and how long what it
holds stays its own without a word from it.

Every claim a replica makes in the store (a delivery it processes, a build it runs, an outbox
item it sends, a named duty) carries its id and an expiry; a heartbeat renews what it still
holds every `renew_seconds`. A replica that dies (SIGKILL, a lost node) renews nothing, so
after `lease_seconds` another replica may take its work over.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass

DEFAULT_LEASE_SECONDS = 30.0
DEFAULT_RENEW_SECONDS = 10.0


def new_replica_id() -> str:
    """hostname-pid-random: readable in logs, unique even when a pod's pid repeats."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"


@dataclass(frozen=True)
class Replica:
    id: str
    lease_seconds: float = DEFAULT_LEASE_SECONDS
    renew_seconds: float = DEFAULT_RENEW_SECONDS

    @classmethod
    def new(
        cls,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        renew_seconds: float = DEFAULT_RENEW_SECONDS,
    ) -> Replica:
        return cls(new_replica_id(), lease_seconds, renew_seconds)
