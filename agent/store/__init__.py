"""The call log: one record per call and its timeline, in SQLite or PostgreSQL."""

from .api import CallQuery, CallStore
from .handler import StoreHandler, drain_at_start

__all__ = ["CallQuery", "CallStore", "StoreHandler", "drain_at_start"]
