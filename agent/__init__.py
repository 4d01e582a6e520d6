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

from .call import Call, CallStatus, Direction, Headers, ProviderIds, parse_call
from .cli import main
from .control import CallControl, control
from .entrypoint import WorkerConfig, entrypoint
from .errors import ConfigError
from .events import (
    CallActionFailed,
    CallAnswered,
    CallDtmf,
    CallEnded,
    CallEvent,
    CallStarted,
    CallStatusChanged,
    CallTransferFailed,
    CallTransferSucceeded,
    CallUpdated,
    event_to_dict,
)
from .handlers import FunctionHandler, Handler, HandlerFactory, LogHandler, Router
from .handlers.router import Rule, load_rules
from .outcome import EndedBy, Outcome, classify
from .server import create_server
from .settings import Settings, load_settings
from .store import CallQuery, CallStore, StoreHandler
from .webhooks import WebhookHandler

__all__ = [
    "Call",
    "CallActionFailed",
    "CallAnswered",
    "CallControl",
    "CallDtmf",
    "CallEnded",
    "CallEvent",
    "CallQuery",
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
