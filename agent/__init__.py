"""sip-call-agent: LiveKit SIP participants in, typed call events out.

The public surface, at a glance:
- the call model: `Call`, `CallStatus`, `Direction`, `Headers`, `ProviderIds`
- events: `CallEvent` and its members, `event_to_dict`
- outcomes: `Outcome`, `EndedBy`, `classify`
- handlers: `Handler`, `FunctionHandler`, `LogHandler`, `Router`, `Rule`, `load_rules`
- the worker: `Settings`, `load_settings`, `create_server`, `entrypoint`, `main`
"""

from .call import Call, CallStatus, Direction, Headers, ProviderIds, parse_call
from .cli import main
from .entrypoint import WorkerConfig, entrypoint
from .errors import ConfigError
from .events import (
    CallAnswered,
    CallDtmf,
    CallEnded,
    CallEvent,
    CallStarted,
    CallStatusChanged,
    CallUpdated,
    event_to_dict,
)
from .handlers import FunctionHandler, Handler, HandlerFactory, LogHandler, Router
from .handlers.router import Rule, load_rules
from .outcome import EndedBy, Outcome, classify
from .server import create_server
from .settings import Settings, load_settings

__all__ = [
    "Call",
    "CallAnswered",
    "CallDtmf",
    "CallEnded",
    "CallEvent",
    "CallStarted",
    "CallStatus",
    "CallStatusChanged",
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
    "WorkerConfig",
    "classify",
    "create_server",
    "entrypoint",
    "event_to_dict",
    "load_rules",
    "load_settings",
    "main",
    "parse_call",
]
