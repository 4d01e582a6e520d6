"""Signed webhooks (Standard Webhooks) from a durable outbox, delivered in per-call order."""

from .drain import wait_delivered
from .handler import WebhookHandler, drain_at_start
from .sender import SenderOptions, start_sender, stop_senders

__all__ = [
    "SenderOptions",
    "WebhookHandler",
    "drain_at_start",
    "start_sender",
    "stop_senders",
    "wait_delivered",
]
