"""A fleet on one shared database: worker heartbeats and call claims, so the calls of a
worker that dies are resumed by a live one or ended with what is known."""

from .config import FleetConfig, fleet_config

__all__ = ["FleetConfig", "fleet_config"]
