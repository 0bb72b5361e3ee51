"""Bearer-token security for the API: roles read < write < admin.

Reads stay open by default (``read_open``) because dashboards and the conformance tool read
without credentials; every mutating route needs a token with the write role.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Literal

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field, SecretStr

from twinbridge.aas.events import Origin
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

    def holder_of(self, presented: str) -> ApiToken | None:
        """The entry of a presented token; compares every token in constant time."""
        found: ApiToken | None = None
        for entry in self.tokens:
            if hmac.compare_digest(entry.token.get_secret_value().encode(), presented.encode()):
                found = entry
        return found

    def role_of(self, presented: str) -> Role | None:
        holder = self.holder_of(presented)
        return None if holder is None else holder.role


_bearer = HTTPBearer(auto_error=False, description="API token (roles read, write, admin)")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


ANONYMOUS = "anonymous"
"""Who a request is when the server checks no token (the ``Origin.who`` of its changes)."""


def check_access(security: ApiSecurity, credentials: HTTPAuthorizationCredentials | None, needed: Role) -> str:
    """Refuses (401/403) a request whose token lacks ``needed``; returns who holds the token."""
    return _holder_name(security, None if credentials is None else credentials.credentials, needed)


def check_token(security: ApiSecurity, authorization: str | None, needed: Role) -> str:
    """``check_access`` from a raw ``Authorization`` header (routes served without dependencies;
    no credentials model per request: a PATCH flood's CPU is counted in microseconds)."""
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    return _holder_name(security, token if scheme.lower() == "bearer" and token else None, needed)


def _holder_name(security: ApiSecurity, token: str | None, needed: Role) -> str:
    if security.mode == "none" or (needed == "read" and security.read_open):
        return ANONYMOUS
    if token is None:
        raise ApiError(401, f"this request needs a bearer token with the {needed} role")
    holder = security.holder_of(token)
    if holder is None:
        raise ApiError(401, "the bearer token is not valid")
    if _RANK[holder.role] < _RANK[needed]:
        raise ApiError(403, f"the token's role {holder.role!r} may not do this; it needs {needed!r}")
    return holder.name or holder.role


async def require_read(request: Request, credentials: Credentials) -> None:
    check_access(services_of(request).security, credentials, "read")


async def require_write(request: Request, credentials: Credentials) -> None:
    check_access(services_of(request).security, credentials, "write")


async def require_admin(request: Request, credentials: Credentials) -> None:
    check_access(services_of(request).security, credentials, "admin")


async def write_origin(request: Request, credentials: Credentials) -> Origin:
    """Checks the write role like ``WriteAccess`` and names the token's holder for the twin's events."""
    services = services_of(request)
    return services.origin(check_access(services.security, credentials, "write"))


# ``Security`` with the role as its scope: the OpenAPI document then names the role each
# operation needs (``{"HTTPBearer": ["write"]}``, OpenAPI 3.1's role names), which
# ``server.api.openapi_doc`` reads to list 401/403 only where they can be answered.
WriteOrigin = Annotated[Origin, Security(write_origin, scopes=["write"])]
ReadAccess = Security(require_read, scopes=["read"])
WriteAccess = Security(require_write, scopes=["write"])
AdminAccess = Security(require_admin, scopes=["admin"])

