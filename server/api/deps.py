"""Request-scoped access to what ``create_app`` put on ``app.state``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from aas.twin import Twin


def get_twin(request: Request) -> Twin:
    twin: Twin = request.app.state.twin
    return twin


TwinDep = Annotated[Twin, Depends(get_twin)]
