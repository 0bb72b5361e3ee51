"""Request-scoped access to what ``create_app`` put on ``app.state``.

Dependencies are ``async`` so FastAPI runs them on the event loop, where the twin lives,
instead of in a worker thread.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from twinbridge.aas.twin import Twin


async def get_twin(request: Request) -> Twin:
    twin: Twin = request.app.state.twin
    return twin


TwinDep = Annotated[Twin, Depends(get_twin)]
