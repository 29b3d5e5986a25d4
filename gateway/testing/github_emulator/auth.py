"""Who is calling: tokens (`Authorization: token X` or `Bearer X`) and GitHub App JWTs.

A token resolves to a `Principal`: the login that acts, the identity its rate limits are kept
under, and the repositories it may see. Unknown, revoked and expired tokens get GitHub's
401 "Bad credentials". App endpoints take a JWT signed RS256 by the app's private key
(https://docs.github.com/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-
json-web-token-jwt-for-a-github-app); the signature is verified with PyJWT when it is installed and
the app was registered with its public key, otherwise only the token's shape and claims are.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
from dataclasses import dataclass
from typing import Any

from .errors import ApiError, bad_credentials, requires_authentication
from .model import App, Store

try:
    import jwt as pyjwt

    HAVE_PYJWT = True
except ImportError:  # pragma: no cover - PyJWT ships with PyGithub
    HAVE_PYJWT = False

JWT_MAX_LIFETIME = 600  # seconds between iat and exp that GitHub accepts


@dataclass(frozen=True, slots=True)
class Principal:
    login: str
    identity: str  # rate-limit key
    description: str  # as in "API rate limit exceeded for user ID 7."
    installation_id: int | None = None
    app_id: int | None = None
    repos: frozenset[str] | None = None  # lower full names visible to the token; None = all
    is_app_jwt: bool = False


def credential(header: str | None) -> str | None:
    """The secret in an Authorization header, or None when there is none."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() in ("token", "bearer") and value.strip():
        return value.strip()
    raise bad_credentials()


def authenticate(store: Store, header: str | None, now: dt.datetime) -> Principal:
    secret = credential(header)
    if secret is None:
        raise requires_authentication()
    with store.lock:
        token = store.tokens.get(secret)
        if token is None or token.revoked or (token.expires_at and token.expires_at <= now):
            raise bad_credentials()
        if token.installation_id is not None:
            inst = store.installations[token.installation_id]
            return Principal(
                token.login,
                f"installation:{inst.id}",
                f"installation ID {inst.id}",
                installation_id=inst.id,
                app_id=inst.app_id,
                repos=token.repos,
            )
        user = store.user(token.login)
        assert user is not None, "tokens are only issued to known users"
        return Principal(user.login, f"user:{user.id}", f"user ID {user.id}", repos=token.repos)


def authenticate_app(store: Store, header: str | None) -> Principal:
    """The app a JWT was issued by; 401 for anything GitHub would refuse."""
    secret = credential(header)
    if secret is None:
        raise ApiError(401, "A JSON web token could not be decoded")
    claims = _claims(secret)
    with store.lock:
        app = next(
            (a for a in store.apps.values() if str(claims.get("iss")) in (str(a.id), a.client_id)),
            None,
        )
    if app is None:
        raise ApiError(401, "'Issuer' claim ('iss') must be an Integer")
    _verify(app, secret, claims)
    return Principal(
        app.bot_login, f"app:{app.id}", f"app ID {app.id}", app_id=app.id, is_app_jwt=True
    )


def _claims(secret: str) -> dict[str, Any]:
    parts = secret.split(".")
    if len(parts) != 3:
        raise ApiError(401, "A JSON web token could not be decoded")
    try:
        header = json.loads(_b64(parts[0]))
        claims = json.loads(_b64(parts[1]))
    except ValueError:
        raise ApiError(401, "A JSON web token could not be decoded") from None
    if not isinstance(header, dict) or header.get("alg") != "RS256" or not isinstance(claims, dict):
        raise ApiError(401, "A JSON web token could not be decoded")
    return claims


def _verify(app: App, secret: str, claims: dict[str, Any]) -> None:
    iat, exp = claims.get("iat"), claims.get("exp")
    if not isinstance(iat, int) or not isinstance(exp, int):
        raise ApiError(401, "A JSON web token could not be decoded")
    if exp - iat > JWT_MAX_LIFETIME:
        raise ApiError(401, "'Expiration time' claim ('exp') is too far in the future")
    if exp <= time.time():  # JWTs are minted against the real clock, so checked against it
        raise ApiError(
            401,
            "'Expiration time' claim ('exp') must be a numeric value "
            "representing the future time at which the assertion expires",
        )
    if not HAVE_PYJWT or app.public_key_pem is None:
        return
    try:
        pyjwt.decode(
            secret,
            app.public_key_pem,
            algorithms=["RS256"],
            leeway=60,
            options={"require": ["iat", "exp", "iss"]},
        )
    except pyjwt.PyJWTError:
        raise ApiError(401, "A JSON web token could not be decoded") from None


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
