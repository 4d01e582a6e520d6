"""`simulate` ends once its calls' webhooks went out, so a receiver sees each call's end."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from ..database.buffer import safe_url
from ..settings import Settings
from .local import local_outbox_path, local_outbox_url
from .pending import PENDING

HANDLER_TIMEOUTS = 3
"""How long the wait lasts, in handler timeouts (SIP_AGENT_HANDLER_TIMEOUT_S): a receiver
that answers within the handler timeout has room for a retry or two."""


async def wait_delivered(settings: Settings, calls: Collection[str], logger: Any) -> bool:
    """Until every webhook of `calls` this process queued was delivered or rejected,
    bounded; False, with one warning naming what stays queued, when the bound is hit."""
    shared, local = settings.db_url, local_outbox_url(settings)
    waited_s = settings.handler_timeout_s * HANDLER_TIMEOUTS
    left = await PENDING.settle({shared, local}, calls, waited_s)
    if left:
        logger.warning(
            "webhooks still queued at exit",
            waited_s=waited_s,
            shared_outbox=safe_url(shared),
            queued_shared=left.get(shared, 0),
            local_outbox=str(local_outbox_path(settings)),
            queued_local=left.get(local, 0),
            fix="check the receivers; they go out when the worker next runs on these outboxes",
        )
    return not left
