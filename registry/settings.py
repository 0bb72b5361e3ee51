"""``server.registry`` in the plant file: serve the AAS Registry and Discovery, feed one.

```yaml
server:
  registry:
    serve: true                       # /shell-descriptors, /submodel-descriptors, /lookup/shells here
    store: sqlite:///var/lib/twinbridge/registry.sqlite3   # default: registry.sqlite3 in the data dir;
                                      # postgresql://host/db?schema=registry for several registry processes
    url: http://registry:8081/api/v3.0   # feed a remote registry instead of the local one
    token: ...                        # its write token
    endpoint_base: https://plant.example.com/api/v3.0   # what descriptors advertise (default: the REST URL)
```

With ``serve`` and no ``url`` the repository feeds the registry of its own process; with ``url``
it feeds that one (and serves its own only if ``serve``); ``feed: false`` registers nothing.
"""

from __future__ import annotations

from pydantic import Field, SecretStr

from twinbridge.adapters.config import Strict


class RegistrySettings(Strict):
    serve: bool = Field(False, description="serve the Registry and Discovery API in this process")
    store: str | None = Field(None, pattern=r"^(sqlite:///|memory:|postgres(ql)?://)", description=(
        "descriptor store: sqlite:///abs/path, memory: or postgresql://host/db?schema=name; "
        "default registry.sqlite3 in the data directory"))
    feed: bool = Field(True, description="register this repository's shells and submodels")
    url: str | None = Field(None, pattern=r"^https?://", description="a remote registry's API base URL to feed")
    token: SecretStr | None = Field(None, description="bearer token with the write role at `url`")
    endpoint_base: str | None = Field(None, pattern=r"^https?://",
                                      description="the API base URL descriptors advertise (default: the REST URL)")
