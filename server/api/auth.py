"""Bearer-token security for the API: roles read < write < admin.

Reads stay open by default (``read_open``) because dashboards and the conformance tool read
without credentials; every mutating route needs a token with the write role.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Literal

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field, SecretStr

from twinbridge.server.api.results import ApiError
from twinbridge.server.api.services import services_of

Role = Literal["read", "write", "admin"]
_RANK: dict[str, int] = {"read": 1, "write": 2, "admin": 3}


class ApiToken(BaseModel):
    token: SecretStr
    role: Role
    name: str = Field(default="", description="who holds the token (for logs and audits)")


class ApiSecurity(BaseModel):
    mode: Literal["token", "none"] = "none"
    tokens: list[ApiToken] = Field(default_factory=list)
    read_open: bool = True

    def role_of(self, presented: str) -> Role | None:
        """The role of a presented token; compares every token in constant time."""
        found: Role | None = None
        for entry in self.tokens:
            if hmac.compare_digest(entry.token.get_secret_value().encode(), presented.encode()):
                found = entry.role
        return found


_bearer = HTTPBearer(auto_error=False, description="API token (roles read, write, admin)")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def check_access(security: ApiSecurity, credentials: HTTPAuthorizationCredentials | None, needed: Role) -> None:
    if security.mode == "none" or (needed == "read" and security.read_open):
        return
    if credentials is None:
        raise ApiError(401, f"this request needs a bearer token with the {needed} role", "Unauthorized")
    role = security.role_of(credentials.credentials)
    if role is None:
        raise ApiError(401, "the bearer token is not valid", "Unauthorized")
    if _RANK[role] < _RANK[needed]:
        raise ApiError(403, f"the token's role {role!r} may not do this; it needs {needed!r}", "Forbidden")


def check_token(security: ApiSecurity, authorization: str | None, needed: Role) -> None:
    """``check_access`` from a raw ``Authorization`` header (routes served without dependencies)."""
    scheme, _, token = (authorization or "").partition(" ")
    credentials = (HTTPAuthorizationCredentials(scheme=scheme, credentials=token.strip())
                   if scheme.lower() == "bearer" and token.strip() else None)
    check_access(security, credentials, needed)


async def require_read(request: Request, credentials: Credentials) -> None:
    check_access(services_of(request).security, credentials, "read")


async def require_write(request: Request, credentials: Credentials) -> None:
    check_access(services_of(request).security, credentials, "write")


async def require_admin(request: Request, credentials: Credentials) -> None:
    check_access(services_of(request).security, credentials, "admin")


ReadAccess = Depends(require_read)
WriteAccess = Depends(require_write)
AdminAccess = Depends(require_admin)

