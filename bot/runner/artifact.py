"""B2I: fetch the one binary artifact a build is made from.

A release asset of a private repository needs the forge token; its download answers with a
redirect to a storage host, which must not see the token (GitHub: "Download a release asset"
answers 302 to a signed URL), so the token goes in an unredirected header.
"""

from __future__ import annotations

import shutil
import urllib.error
import urllib.request
from pathlib import Path

from bot.runner.errors import BuildFailure
from bot.runner.process import BuildLog

TIMEOUT = 300


def fetch_artifact(
    url: str, name: str, dest: Path, log: BuildLog, *, token_file: Path | None, auth: bool
) -> Path:
    """Download url into dest/name; a missing or unreadable artifact fails the build."""
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / Path(name).name
    request = urllib.request.Request(url, headers={"Accept": "application/octet-stream"})
    if auth and token_file is not None:
        request.add_unredirected_header("Authorization", f"token {token_file.read_text().strip()}")
    log.line(f"downloading the artifact {name} from {url}")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response, target.open("wb") as out:
            shutil.copyfileobj(response, out)
    except urllib.error.HTTPError as exc:
        raise BuildFailure(f"the artifact {name} could not be downloaded from {url}: "
                           f"HTTP {exc.code} {exc.reason}") from exc  # fmt: skip
    except (urllib.error.URLError, OSError) as exc:
        raise BuildFailure(
            f"the artifact {name} could not be downloaded from {url}: {exc}"
        ) from exc
    size = target.stat().st_size
    if size == 0:
        raise BuildFailure(f"the artifact {name} downloaded from {url} is empty")
    target.chmod(0o755)
    log.line(f"downloaded {name} ({size} bytes)")
    return target
