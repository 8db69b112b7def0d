"""Who is calling (DECISIONS D11): one service token, a Supabase user's access token, or anyone.

A Supabase token is verified for its signature (HS256 with the project's JWT secret, or RS256/ES256 with
a key from the project's JWKS), its expiry and its audience `authenticated`; the member it names must
exist. Tokens are never logged nor repeated in an answer.
"""

from __future__ import annotations

import asyncio
import hmac
from dataclasses import dataclass
from typing import Any

import jwt

from api.errors import ApiError
from clients.api_store import ApiStore
from domain.job_ids import is_job_id
from quel.settings import ApiAuth, Settings

AUDIENCE = "authenticated"
ASYMMETRIC_ALGORITHMS = ("RS256", "ES256")
JWKS_CACHE_SECONDS = 600


@dataclass(frozen=True)
class Caller:
    member_id: str | None
    """The Supabase user's member id; None for a service caller (token or none), who may touch every job."""


SERVICE = Caller(member_id=None)


class Authenticator:
    def __init__(self, settings: Settings, store: ApiStore) -> None:
        assert settings.api_auth is not None
        self.mode = settings.api_auth
        self._token = settings.api_token.get_secret_value().encode() if settings.api_token else b""
        self._secret = settings.supabase_jwt_secret.get_secret_value() if settings.supabase_jwt_secret else None
        self._member_claim = settings.api_jwt_member_claim
        self._store = store
        jwks_url = settings.jwks_url
        self._jwks = (
            jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=JWKS_CACHE_SECONDS, timeout=5)
            if jwks_url and self.mode is ApiAuth.SUPABASE_JWT
            else None
        )

    async def caller(self, bearer: str | None) -> Caller:
        if self.mode is ApiAuth.NONE:
            return SERVICE
        if not bearer:
            raise ApiError(401, "missing bearer token: send Authorization: Bearer <token>")
        if self.mode is ApiAuth.TOKEN:
            if not hmac.compare_digest(bearer.encode(), self._token):
                raise ApiError(401, "invalid token")
            return SERVICE
        return Caller(member_id=await self._member(bearer))

    async def _member(self, token: str) -> str:
        claims = await self._verified_claims(token)
        member = claims.get(self._member_claim)
        if not isinstance(member, str) or not is_job_id(member):
            raise ApiError(401, f"token has no member id in its '{self._member_claim}' claim")
        if not await self._store.member_exists(member):
            raise ApiError(401, "token's member does not exist")
        return member

    async def _verified_claims(self, token: str) -> dict[str, Any]:
        try:
            algorithm = jwt.get_unverified_header(token).get("alg")
            key: Any
            if algorithm == "HS256":
                if self._secret is None:
                    raise ApiError(401, "HS256 tokens are not accepted: SUPABASE_JWT_SECRET is not set")
                key = self._secret
            elif algorithm in ASYMMETRIC_ALGORITHMS:
                if self._jwks is None:
                    raise ApiError(401, f"{algorithm} tokens are not accepted: SUPABASE_URL is not set")
                # PyJWKClient fetches over blocking HTTP when its cache has no such key.
                key = (await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)).key
            else:
                raise ApiError(401, f"token algorithm {algorithm!r} is not accepted")
            claims: dict[str, Any] = jwt.decode(
                token, key, algorithms=[algorithm], audience=AUDIENCE, options={"require": ["exp", "aud"]}
            )
        except jwt.PyJWKClientConnectionError:
            raise ApiError(503, "the project's signing keys (JWKS) cannot be fetched; try again shortly") from None
        except jwt.ExpiredSignatureError:
            raise ApiError(401, "token expired") from None
        except jwt.InvalidAudienceError:
            raise ApiError(401, f"token audience is not '{AUDIENCE}'") from None
        except (jwt.InvalidTokenError, jwt.PyJWKClientError):
            raise ApiError(401, "invalid token") from None
        return claims
