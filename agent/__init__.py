"""sip-call-agent: LiveKit SIP participants in, typed call events out.

The public surface, at a glance:
- the call model: `Call`, `CallStatus`, `Direction`, `Headers`, `ProviderIds`
- events: `CallEvent` and its members, `event_to_dict`
- outcomes: `Outcome`, `EndedBy`, `classify`
- handlers: `Handler`, `FunctionHandler`, `LogHandler`, `Router`, `Rule`, `load_rules`
- call control: `CallControl`, `control` (hang up, transfer, dial, dispatch an agent)
- the call log and webhooks: `CallStore`, `CallQuery`, `StoreHandler`, `WebhookHandler`
- the worker: `Settings`, `load_settings`, `create_server`, `entrypoint`, `main`
"""

import importlib
from typing import TYPE_CHECKING, Any

# Cheap: the call model, the events, outcomes, the handler interface, call control and the
# entrypoint (these two share their names with their modules: imported here, so importing
# `agent.control` later cannot shadow the function). Everything that loads LiveKit's agents
# framework, the CLI or the database loads on first use (below): a handler module that only
# needs `CallEvent` imports fast.
from .call import Call, CallStatus, Direction, Headers, ProviderIds, parse_call
from .call_health import CallHealth
from .control import CallControl, control
from .entrypoint import WorkerConfig, entrypoint
from .errors import ConfigError
from .events import (
    CallActionFailed,
    CallAgentJoined,
    CallAgentLeft,
    CallAgentMissing,
    CallAnswered,
    CallDtmf,
    CallEnded,
    CallEvent,
    CallSilence,
    CallSilenceEnded,
    CallSlowResponse,
    CallStarted,
    CallStatusChanged,
    CallTransferFailed,
    CallTransferSucceeded,
    CallUpdated,
    event_to_dict,
)
from .handlers import FunctionHandler, Handler, HandlerFactory, LogHandler
from .outcome import EndedBy, Outcome, classify
from .settings import Settings, load_settings

if TYPE_CHECKING:
    from .cli import main
    from .handlers.router import Router, Rule, load_rules
    from .server import create_server
    from .store import CallQuery, CallStore, StoreHandler
    from .webhooks import WebhookHandler

_LAZY = {
    "main": "cli",
    "Router": "handlers.router",
    "Rule": "handlers.router",
    "load_rules": "handlers.router",
    "create_server": "server",
    "CallQuery": "store",
    "CallStore": "store",
    "StoreHandler": "store",
    "WebhookHandler": "webhooks",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'agent' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "Call",
    "CallActionFailed",
    "CallAgentJoined",
    "CallAgentLeft",
    "CallAgentMissing",
    "CallAnswered",
    "CallControl",
    "CallDtmf",
    "CallEnded",
    "CallEvent",
    "CallHealth",
    "CallQuery",
    "CallSilence",
    "CallSilenceEnded",
    "CallSlowResponse",
    "CallStarted",
    "CallStatus",
    "CallStatusChanged",
    "CallStore",
    "CallTransferFailed",
    "CallTransferSucceeded",
    "CallUpdated",
    "ConfigError",
    "Direction",
    "EndedBy",
    "FunctionHandler",
    "Handler",
    "HandlerFactory",
    "Headers",
    "LogHandler",
    "Outcome",
    "ProviderIds",
    "Router",
    "Rule",
    "Settings",
    "StoreHandler",
    "WebhookHandler",
    "WorkerConfig",
    "classify",
    "control",
    "create_server",
    "entrypoint",
    "event_to_dict",
    "load_rules",
    "load_settings",
    "main",
    "parse_call",
]
