"""How hard the hypothesis fuzz tests try: their full example counts where scripts/test runs
them (CI, `.ci/run`: it exports S2I_DEV_FUZZ=full), a fifth of them in a developer's
`pytest -m "not e2e"`, which is to stay under a minute (issue 14). A fifth still draws dozens of
inputs per test on every run; the full count runs on every CI run."""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, settings

FAST_FRACTION = 5


def full_run() -> bool:
    return os.environ.get("S2I_DEV_FUZZ") == "full"


def fuzz_settings(max_examples: int, **options: Any) -> settings:
    """hypothesis settings with `max_examples` in the full run (a fifth otherwise), no
    deadline (a loaded CI host is slow), and `options` (e.g. database=None)."""
    examples = max_examples if full_run() else max(max_examples // FAST_FRACTION, 10)
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
        **options,
    )
