"""Private package servers that demand credentials, for build secrets' tests: one HTTP server
on 127.0.0.1 (reachable from buildah's RUN steps, which share the host's network namespace)
with three registries, each serving one package made here in memory:

    /simple/                 PEP 503 simple index (pip), HTTP basic auth
    /npm/                    npm registry: packument + tarball, `Authorization: Bearer <token>`
    /maven/                  Maven repository layout: pom + jar (+ .sha1), HTTP basic auth

    with PackageServers() as servers:
        servers.pip_conf(), servers.npmrc(), servers.maven_settings()   # the secret files
        servers.refused                                                 # 401s, by registry

Anything unauthenticated gets 401 (with the challenge each client expects), and is counted, so
a test can tell "refused for want of the secret" from "never asked".
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import secrets
import tarfile
import zipfile
from collections import Counter

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from tests.fakes.server import ServedApp

PYTHON_PACKAGE = "s2ibot-private-greeting"  # not on PyPI: only this index has it
NPM_SCOPE = "@s2ibot-private"
NPM_PACKAGE = f"{NPM_SCOPE}/greeting"
MAVEN_GROUP, MAVEN_ARTIFACT = "example.s2ibot.private", "greeting"
VERSION = "1.0.0"
GREETING = "hello from a private package"


def wheel(name: str = PYTHON_PACKAGE, version: str = VERSION) -> tuple[str, bytes]:
    """A pure-Python wheel whose module `<name>` (dashes as underscores) has GREETING."""
    module = name.replace("-", "_")
    dist_info = f"{module}-{version}.dist-info"
    files = {
        f"{module}/__init__.py": f"GREETING = {GREETING!r}\n",
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist_info}/WHEEL": "Wheel-Version: 1.0\nGenerator: s2i-bot-tests\n"
        "Root-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    files[f"{dist_info}/RECORD"] = "\n".join([*record, f"{dist_info}/RECORD,,"]) + "\n"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return f"{module}-{version}-py3-none-any.whl", out.getvalue()


def npm_tarball(name: str = NPM_PACKAGE, version: str = VERSION) -> bytes:
    """An npm package tarball: package/package.json and package/index.js."""
    members = {
        "package/package.json": json.dumps({"name": name, "version": version, "main": "index.js"}),
        "package/index.js": f"module.exports = {json.dumps(GREETING)};\n",
    }
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for path, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(path)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def maven_jar() -> bytes:
    """A jar holding one resource, greeting.txt (resolving it is what the build needs)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
        archive.writestr("greeting.txt", GREETING + "\n")
    return out.getvalue()


def maven_pom() -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<project xmlns="http://maven.apache.org/POM/4.0.0">'
        f"<modelVersion>4.0.0</modelVersion><groupId>{MAVEN_GROUP}</groupId>"
        f"<artifactId>{MAVEN_ARTIFACT}</artifactId><version>{VERSION}</version>"
        "<packaging>jar</packaging></project>\n"
    ).encode()


class PackageServers(ServedApp):
    def __init__(self) -> None:
        self.user = "alice"
        self.password = "pw-" + secrets.token_hex(12)
        self.npm_token = "npm_" + secrets.token_hex(16)
        self.refused: Counter[str] = Counter()  # registry -> unauthenticated requests
        self.served: Counter[str] = Counter()  # registry -> files served
        self._wheel_name, self._wheel = wheel()
        self._tarball = npm_tarball()
        group_path = MAVEN_GROUP.replace(".", "/")
        base = f"{group_path}/{MAVEN_ARTIFACT}/{VERSION}/{MAVEN_ARTIFACT}-{VERSION}"
        self._maven = {f"{base}.pom": maven_pom(), f"{base}.jar": maven_jar()}
        for path, data in list(self._maven.items()):
            self._maven[f"{path}.sha1"] = hashlib.sha1(data).hexdigest().encode()
        app = Starlette(
            routes=[
                Route("/simple/", self._simple_root),
                Route("/simple/{project}/", self._simple_project),
                Route("/files/{name}", self._file),
                Route("/npm/{path:path}", self._npm),
                Route("/maven/{path:path}", self._maven_file),
            ]
        )
        super().__init__(app)

    # -- the secret files a build gets, and what a repository's own files name -----------

    def reached_at(self, url: str) -> None:
        """Builds reach this server at `url` (a relay's that forwards here): the files and
        packuments it hands out name that address from now on."""
        self.url = url

    @property
    def host(self) -> str:
        return self.url.removeprefix("http://")

    def pip_conf(self) -> str:
        """pip.conf(5): the private index with its credentials in the URL; plain HTTP, so
        its host is trusted (pip trusts only localhost over HTTP: a build pod reaches the
        index at the node's address)."""
        index = f"http://{self.user}:{self.password}@{self.host}/simple/"
        trusted = self.host.rsplit(":", 1)[0]
        return f"[global]\nindex-url = {index}\ntrusted-host = {trusted}\n"

    def npm_registry(self) -> str:
        return f"{self.url}/npm/"

    def npmrc(self) -> str:
        """The user config: the scope's registry and its token (npm's per-registry auth)."""
        return (
            f"{NPM_SCOPE}:registry={self.npm_registry()}\n"
            f"//{self.host}/npm/:_authToken={self.npm_token}\n"
        )

    def maven_settings(self, server_id: str = "private") -> str:
        """settings.xml: the credentials of the repository with id `server_id`."""
        return (
            "<settings><servers><server>"
            f"<id>{server_id}</id><username>{self.user}</username>"
            f"<password>{self.password}</password>"
            "</server></servers></settings>\n"
        )

    def maven_repository(self) -> str:
        return f"{self.url}/maven"

    # -- routes ---------------------------------------------------------------------------

    def _basic_ok(self, request: Request) -> bool:
        expected = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        return secrets.compare_digest(request.headers.get("authorization", ""), f"Basic {expected}")

    def _refuse(self, registry: str, challenge: str) -> Response:
        self.refused[registry] += 1
        return Response("authentication required\n", 401, {"WWW-Authenticate": challenge})

    async def _simple_root(self, request: Request) -> Response:
        if not self._basic_ok(request):
            return self._refuse("pip", 'Basic realm="private"')
        return HTMLResponse(f'<a href="{PYTHON_PACKAGE}/">{PYTHON_PACKAGE}</a>\n')

    async def _simple_project(self, request: Request) -> Response:
        if not self._basic_ok(request):
            return self._refuse("pip", 'Basic realm="private"')
        if request.path_params["project"] != PYTHON_PACKAGE:
            return Response("not found\n", 404)
        digest = hashlib.sha256(self._wheel).hexdigest()
        link = f'<a href="/files/{self._wheel_name}#sha256={digest}">{self._wheel_name}</a>'
        return HTMLResponse(f"<!DOCTYPE html><html><body>{link}</body></html>\n")

    async def _file(self, request: Request) -> Response:
        if not self._basic_ok(request):
            return self._refuse("pip", 'Basic realm="private"')
        if request.path_params["name"] != self._wheel_name:
            return Response("not found\n", 404)
        self.served["pip"] += 1
        return Response(self._wheel, media_type="application/octet-stream")

    async def _npm(self, request: Request) -> Response:
        auth = request.headers.get("authorization", "")
        if not secrets.compare_digest(auth, f"Bearer {self.npm_token}"):
            return self._refuse("npm", 'Bearer realm="npm"')
        path = request.path_params["path"].replace("%2f", "/").replace("%2F", "/")
        tarball_name = f"greeting-{VERSION}.tgz"
        if path == NPM_PACKAGE:
            integrity = base64.b64encode(hashlib.sha512(self._tarball).digest()).decode()
            version = {
                "name": NPM_PACKAGE, "version": VERSION,
                "dist": {
                    "tarball": f"{self.npm_registry()}{NPM_PACKAGE}/-/{tarball_name}",
                    "shasum": hashlib.sha1(self._tarball).hexdigest(),
                    "integrity": f"sha512-{integrity}",
                },
            }  # fmt: skip
            packument = {
                "name": NPM_PACKAGE, "dist-tags": {"latest": VERSION},
                "versions": {VERSION: version},
            }  # fmt: skip
            return JSONResponse(packument)
        if path == f"{NPM_PACKAGE}/-/{tarball_name}":
            self.served["npm"] += 1
            return Response(self._tarball, media_type="application/octet-stream")
        return JSONResponse({"error": "not found"}, 404)

    async def _maven_file(self, request: Request) -> Response:
        if not self._basic_ok(request):
            return self._refuse("maven", 'Basic realm="private"')
        data = self._maven.get(request.path_params["path"])
        if data is None:
            return Response("not found\n", 404)
        if request.path_params["path"].endswith(".jar"):
            self.served["maven"] += 1
        return Response(data, media_type="application/octet-stream")
