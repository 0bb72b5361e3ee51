"""Persistence behind a small interface, so endpoints never know which database is used."""

from aas.store.base import Store
from aas.store.memory import MemoryStore

__all__ = ["MemoryStore", "Store"]
