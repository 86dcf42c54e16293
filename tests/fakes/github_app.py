"""GitHub App authentication for the fake GitHub: app keys, JWTs, installations, tokens.

GitHub's flow ("Authenticating as a GitHub App installation"): the app signs a JWT with its
private key (RS256; ``iss`` = app id or client id; ``iat`` in the past; ``exp`` no more than
10 minutes into the future: "Generating a JSON Web Token (JWT) for a GitHub App"), trades it at
``POST /app/installations/{id}/access_tokens`` for an installation token (``ghs_...``, valid
one hour) and uses that token for REST and for git over HTTPS until it expires.
"""

from __future__ import annotations

import functools
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.github_repo import FakeRepo

# GitHub: "The time must be no more than 10 minutes into the future."
MAX_JWT_LIFETIME = 600
DEFAULT_TOKEN_TTL = timedelta(hours=1)  # "Installation access tokens expire after 1 hour"
# What a test app may do unless install_app says otherwise: what s2i-bot asks for.
DEFAULT_PERMISSIONS = {
    "checks": "write",
    "contents": "read",
    "issues": "write",
    "metadata": "read",
    "pull_requests": "write",
    "statuses": "write",
}
_LEVELS = ("read", "write", "admin")
UNDECODABLE = "A JSON web token could not be decoded"


def make_app_key() -> tuple[str, rsa.RSAPublicKey]:
    """A fresh RSA key for a test app: its private key as PEM (PKCS#1, the format of the
    ``.pem`` GitHub lets an app owner download) and its public key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return pem.decode(), key.public_key()


@functools.cache
def shared_app_key() -> tuple[str, rsa.RSAPublicKey]:
    """The test apps' key, made once a process: each test's fake GitHub is its own, so apps of
    different tests may share a key, and a 2048-bit key costs 90 ms or more of CPU to make. A
    test that needs a key other than its app's (a JWT signed by a stranger) calls
    make_app_key."""
    return make_app_key()


class AuthRefused(Exception):
    """GitHub answers 401 with this message."""


@dataclass(frozen=True)
class App:
    app_id: int
    public_key: rsa.RSAPublicKey
    slug: str
    client_id: str

    @property
    def bot_login(self) -> str:
        return f"{self.slug}[bot]"


@dataclass
class Installation:
    id: int
    app: App
    account: str
    repo_names: frozenset[str] | None  # lower-case full names; None: all of the account's
    permissions: dict[str, str]
    created_at: float = field(default_factory=time.time)

    def covers(self, repo: FakeRepo) -> bool:
        if self.repo_names is None:
            return repo.owner.lower() == self.account.lower()
        return repo.full_name.lower() in self.repo_names


@dataclass
class InstallationToken:
    token: str
    installation: Installation
    expires_at: datetime
    repo_names: frozenset[str] | None  # narrowed at creation; None: the installation's
    permissions: dict[str, str]

    def covers(self, repo: FakeRepo) -> bool:
        narrowed = self.repo_names is None or repo.full_name.lower() in self.repo_names
        return narrowed and self.installation.covers(repo)

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at


class AppRegistry:
    """The apps, installations and tokens a fake GitHub knows; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._apps: dict[str, App] = {}  # by str(app id) and by client id
        self._installations: dict[int, Installation] = {}
        self._tokens: dict[str, InstallationToken] = {}
        self.token_ttl = DEFAULT_TOKEN_TTL
        self.tokens_issued = 0

    def register(self, app_id: int, private_key_pem: str, slug: str | None = None) -> App:
        # Only its public key is kept. The key is the test's own (make_app_key): checking that
        # it is a sound RSA key, a tenth of a second each time, would check nothing of the bot.
        key = serialization.load_pem_private_key(
            private_key_pem.encode(), password=None, unsafe_skip_rsa_key_validation=True
        )
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("a GitHub App key is an RSA private key")
        app = App(app_id, key.public_key(), slug or f"app-{app_id}", f"Iv23li{app_id:014d}")
        with self._lock:
            self._apps[str(app_id)] = self._apps[app.client_id] = app
        return app

    def install(
        self, app_id: int, target: str, permissions: dict[str, str] | None = None
    ) -> Installation:
        with self._lock:
            app = self._apps.get(str(app_id))
            if app is None:
                raise KeyError(f"register_app({app_id}, ...) before installing it")
            account, _, name = target.partition("/")
            installation = Installation(
                id=len(self._installations) + 1001,  # apart from app ids, to catch mix-ups
                app=app,
                account=account,
                repo_names=frozenset({target.lower()}) if name else None,
                permissions=dict(permissions or DEFAULT_PERMISSIONS),
            )
            self._installations[installation.id] = installation
            return installation

    def installation(self, installation_id: int, app: App) -> Installation | None:
        with self._lock:
            found = self._installations.get(installation_id)
        return found if found is not None and found.app == app else None

    def installation_for(self, app: App, repo: FakeRepo) -> Installation | None:
        with self._lock:
            candidates = list(self._installations.values())
        return next((i for i in candidates if i.app == app and i.covers(repo)), None)

    def verify_jwt(self, token: str) -> App:
        """The app that signed ``token``; AuthRefused with GitHub's message otherwise."""
        try:
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as e:
            raise AuthRefused(UNDECODABLE) from e
        with self._lock:
            app = self._apps.get(str(claims.get("iss")))
        if app is None:
            raise AuthRefused(UNDECODABLE)
        try:
            jwt.decode(
                token,
                app.public_key,
                algorithms=["RS256"],
                options={"require": ["iat", "exp", "iss"]},
            )
        except jwt.ExpiredSignatureError as e:
            raise AuthRefused(
                "'Expiration time' claim ('exp') must be a numeric value representing the "
                "future time at which the assertion expires"
            ) from e
        except jwt.ImmatureSignatureError as e:
            raise AuthRefused(
                "'Issued at' claim ('iat') must be an Integer representing the time that the "
                "assertion was issued"
            ) from e
        except jwt.PyJWTError as e:
            raise AuthRefused(UNDECODABLE) from e
        if claims["exp"] > time.time() + MAX_JWT_LIFETIME:
            raise AuthRefused("'Expiration time' claim ('exp') is too far in the future")
        return app

    def issue(
        self,
        installation: Installation,
        repositories: list[FakeRepo] | None,
        permissions: dict[str, str] | None,
    ) -> InstallationToken:
        """A new token; ``permissions`` must not exceed the installation's (ValueError)."""
        granted = installation.permissions
        for name, level in (permissions or {}).items():
            have = granted.get(name)
            if have is None or _LEVELS.index(level) > _LEVELS.index(have):
                raise ValueError("The permissions requested are not granted to this installation.")
        names = (
            None if repositories is None else frozenset(r.full_name.lower() for r in repositories)
        )
        with self._lock:
            token = InstallationToken(
                token="ghs_" + secrets.token_hex(18),
                installation=installation,
                expires_at=datetime.now(UTC) + self.token_ttl,
                repo_names=names,
                permissions=dict(permissions or granted),
            )
            self._tokens[token.token] = token
            self.tokens_issued += 1
            return token

    def token(self, value: str) -> InstallationToken | None:
        """The live installation token ``value``; None if unknown or expired."""
        with self._lock:
            found = self._tokens.get(value)
        if found is None or found.expired(datetime.now(UTC)):
            return None
        return found

    def expire_tokens(self) -> None:
        """Every token issued so far expires now (as if an hour had passed)."""
        now = datetime.now(UTC)
        with self._lock:
            for token in self._tokens.values():
                token.expires_at = min(token.expires_at, now)
