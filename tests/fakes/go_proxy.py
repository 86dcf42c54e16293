"""A private Go module proxy that demands credentials, for build secrets' tests: the GOPROXY
protocol (`go help goproxy`: <module>/@v/list, .info, .mod, .zip) over HTTPS with HTTP basic
auth, serving one module made here in memory.

HTTPS because the go command sends credentials (from the file $NETRC names) to https URLs
only: over plain HTTP it refuses ("refusing to pass credentials to insecure URL"). Its
certificate is self-signed for 127.0.0.1; a build trusts it through SSL_CERT_FILE, which Go
reads on Linux.

    with GoModuleProxy(tmp_path) as proxy:
        proxy.url                     # GOPROXY
        proxy.netrc(), proxy.ca_pem   # the secret files a build gets
        proxy.refused, proxy.served   # unauthenticated requests, zips served
"""

from __future__ import annotations

import base64
import datetime
import io
import ipaddress
import secrets
import zipfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from tests.fakes.server import ServedApp

MODULE = "example.com/private/greeting"  # only this proxy has it
VERSION = "v1.0.0"
GREETING = "hello from a private Go module"


def module_files() -> dict[str, str]:
    return {
        "go.mod": f"module {MODULE}\n\ngo 1.19\n",
        "greeting.go": f'package greeting\n\n// Text is the greeting.\nconst Text = "{GREETING}"\n',
    }


def module_zip() -> bytes:
    """The module's zip as the go command wants it: every file under `<module>@<version>/`."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, text in module_files().items():
            archive.writestr(f"{MODULE}@{VERSION}/{name}", text)
    return out.getvalue()


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "s2i-bot test Go proxy")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "proxy.crt", directory / "proxy.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_file.chmod(0o600)
    return cert_file, key_file


class GoModuleProxy(ServedApp):
    def __init__(self, directory: Path) -> None:
        self.user = "gopher"
        self.password = "gopw-" + secrets.token_hex(12)
        self.refused = 0  # requests without the credentials
        self.served = 0  # module zips served
        self._cert, key = self_signed(directory)
        self._zip = module_zip()
        prefix = f"/{MODULE}/@v/"
        app = Starlette(routes=[Route(prefix + "{file}", self._module_file)])
        super().__init__(app, tls=(self._cert, key))

    @property
    def ca_pem(self) -> str:
        """The certificate a build must trust (SSL_CERT_FILE)."""
        return self._cert.read_text()

    def netrc(self) -> str:
        """netrc(5): the proxy's host and credentials, as the go command reads $NETRC."""
        return f"machine 127.0.0.1\nlogin {self.user}\npassword {self.password}\n"

    async def _module_file(self, request: Request) -> Response:
        expected = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        if not secrets.compare_digest(
            request.headers.get("authorization", ""), f"Basic {expected}"
        ):
            self.refused += 1
            return Response("authentication required\n", 401,
                            {"WWW-Authenticate": 'Basic realm="goproxy"'})  # fmt: skip
        match request.path_params["file"]:
            case "list":
                return PlainTextResponse(f"{VERSION}\n")
            case f if f == f"{VERSION}.info":
                return JSONResponse({"Version": VERSION, "Time": "2026-01-01T00:00:00Z"})
            case f if f == f"{VERSION}.mod":
                return PlainTextResponse(module_files()["go.mod"])
            case f if f == f"{VERSION}.zip":
                self.served += 1
                return Response(self._zip, media_type="application/zip")
        return PlainTextResponse("not found\n", 404)
