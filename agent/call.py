"""The call model: one immutable snapshot of a SIP call, parsed from participant attributes."""

from __future__ import annotations

import enum
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# Attributes whose value is longer than this are cut: a header can be anything a carrier
# sends, and one huge value must not be copied into every event and log line whole.
MAX_ATTRIBUTE_CHARS = 4096
TRUNCATED_SUFFIX = "…[truncated]"
# And a call keeps this many attributes, of at most this many characters in all (names and
# values): every event, log line and webhook body carries them, so 2,000 headers of 4,000
# characters must not make each one 8 MB. LiveKit's own (`sip.*`, `lk.*`) are kept first.
MAX_ATTRIBUTES = 256
MAX_ATTRIBUTES_TOTAL_CHARS = 65536


STATUS_KEY = "sip.callStatus"
"""The attribute LiveKit's SIP service writes the call's status on."""


class CallStatus(enum.StrEnum):
    """The five values LiveKit's SIP service writes on `sip.callStatus`."""

    DIALING = "dialing"
    RINGING = "ringing"
    AUTOMATION = "automation"
    ACTIVE = "active"
    HANGUP = "hangup"


class Direction(enum.StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class Headers(Mapping[str, str]):
    """SIP headers from `sip.h.*`: read-only, names compared without case, as SIP does."""

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, str] | None = None) -> None:
        self._items = {k.lower(): v for k, v in (items or {}).items()}

    @classmethod
    def _lowered(cls, items: dict[str, str]) -> Headers:
        """From names already lower-cased: the parser's hot path skips a second pass."""
        headers = cls.__new__(cls)
        headers._items = items
        return headers

    def __getitem__(self, key: str) -> str:
        return self._items[key.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._items

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return self._items == {str(k).lower(): v for k, v in other.items()}
        return NotImplemented

    def __hash__(self) -> int:
        return hash(frozenset(self._items.items()))

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


@dataclass(frozen=True, slots=True)
class ProviderIds:
    """Carrier-side identifiers, when the trunk is one LiveKit knows."""

    twilio_account_sid: str | None = None
    twilio_call_sid: str | None = None
    telnyx_call_leg_id: str | None = None
    telnyx_call_session_id: str | None = None
    amazon_contact_id: str | None = None
    amazon_initial_contact_id: str | None = None
    amazon_source_account: str | None = None
    amazon_source_arn: str | None = None
    amazon_target_arn: str | None = None


@dataclass(frozen=True, slots=True)
class Call:
    """What is known about one call at one moment. Absent values are normal (hidden numbers)."""

    call_id: str
    """LiveKit's id for the call (`sip.callID`, the identity when LiveKit wrote none): as
    written, so it can repeat (one caller's calls without `sip.callID`, two participants
    given one id). Tell calls apart by `key`."""
    key: str
    """This worker's own key for the call: unique, fixed at first sight. The call log, the
    webhook ids and the per-call ordering of handlers go by it."""
    room: str
    identity: str
    participant_sid: str
    first_seen: datetime
    direction: Direction
    status: CallStatus | None = None
    raw_status: str | None = None
    """The status as written; differs from `status` only when LiveKit sent an unknown value."""
    sip_call_id: str | None = None
    sip_call_tag: str | None = None
    from_number: str | None = None
    to_number: str | None = None
    trunk_id: str | None = None
    rule_id: str | None = None
    trunk_number: str | None = None
    hostname: str | None = None
    providers: ProviderIds = field(default_factory=ProviderIds)
    headers: Headers = field(default_factory=Headers)
    custom: Mapping[str, str] = field(default_factory=dict)
    attributes: Mapping[str, str] = field(default_factory=dict, repr=False)
    """Every attribute as received (after truncation), for handlers that need the rest."""
    attributes_dropped: int = 0
    """Attributes not kept because the participant had more than the bounds allow
    (`MAX_ATTRIBUTES`, `MAX_ATTRIBUTES_TOTAL_CHARS`)."""

    @property
    def status_is_unknown(self) -> bool:
        return self.raw_status is not None and self.status is None

    @property
    def twilio_call_sid(self) -> str | None:
        return self.providers.twilio_call_sid


_PROVIDER_KEYS = {
    "sip.twilio.accountSid": "twilio_account_sid",
    "sip.twilio.callSid": "twilio_call_sid",
    "sip.telnyx.callLegID": "telnyx_call_leg_id",
    "sip.telnyx.callSessionID": "telnyx_call_session_id",
    "sip.amazon.contactId": "amazon_contact_id",
    "sip.amazon.initialContactId": "amazon_initial_contact_id",
    "sip.amazon.sourceAccount": "amazon_source_account",
    "sip.amazon.sourceArn": "amazon_source_arn",
    "sip.amazon.targetArn": "amazon_target_arn",
}
HEADER_PREFIX = "sip.h."
_NO_PROVIDERS = ProviderIds()

# What each attribute name is, remembered: the same few names come with every change of
# every call, and sorting them with string tests was the parser's main cost. Names are
# untrusted (custom attributes), so the memory is bounded.
_SCALAR, _HEADER, _PROVIDER, _CUSTOM, _LIVEKIT = range(5)
_KINDS: dict[str, int] = {}
_MAX_REMEMBERED_NAMES = 4096


def _kind(key: str) -> int:
    kind = _KINDS.get(key)
    if kind is None:
        if key.startswith(HEADER_PREFIX):
            kind = _HEADER
        elif key in _PROVIDER_KEYS:
            kind = _PROVIDER
        elif key.startswith("sip."):
            kind = _SCALAR
        elif key.startswith("lk."):
            kind = _LIVEKIT
        else:
            kind = _CUSTOM
        if len(_KINDS) < _MAX_REMEMBERED_NAMES:
            _KINDS[key] = kind
    return kind


def clean_attributes(attributes: Mapping[Any, Any]) -> tuple[dict[str, str], int]:
    """Keep string pairs only, cut huge values and bound the whole: attributes are untrusted
    input. Returns the attributes kept and how many were left out."""
    cleaned: dict[str, str] = {}
    total = 0
    for key, value in attributes.items():
        if not isinstance(key, str) or not isinstance(value, str):
            continue
        if len(value) > MAX_ATTRIBUTE_CHARS:
            value = value[:MAX_ATTRIBUTE_CHARS] + TRUNCATED_SUFFIX
        cleaned[key] = value
        total += len(key) + len(value)
    if len(cleaned) > MAX_ATTRIBUTES or total > MAX_ATTRIBUTES_TOTAL_CHARS:
        kept = _bounded(cleaned)
        return kept, len(cleaned) - len(kept)
    return cleaned, 0


def _bounded(cleaned: dict[str, str]) -> dict[str, str]:
    """LiveKit's attributes first, then the others as they came, while the bounds allow."""
    ours = (_SCALAR, _PROVIDER, _LIVEKIT)
    order = [k for k in cleaned if _kind(k) in ours] + [k for k in cleaned if _kind(k) not in ours]
    kept: dict[str, str] = {}
    total = 0
    for key in order:
        size = len(key) + len(cleaned[key])
        if len(kept) < MAX_ATTRIBUTES and total + size <= MAX_ATTRIBUTES_TOTAL_CHARS:
            kept[key] = cleaned[key]
            total += size
    return kept


_STATUSES = {status.value: status for status in CallStatus}


def parse_status(raw: str | None) -> CallStatus | None:
    """The known status, or None for an absent or unknown value (kept raw by the caller)."""
    return _STATUSES.get(raw) if raw is not None else None


def new_call_key() -> str:
    """`CALL_` and 16 hex digits: unique per call, without asking anyone."""
    return f"CALL_{secrets.token_hex(8)}"


def parse_call(
    attributes: Mapping[str, str],
    *,
    room: str,
    identity: str,
    participant_sid: str,
    first_seen: datetime,
    call_id: str | None = None,
    key: str | None = None,
) -> Call:
    """Build the snapshot (of a new call unless `key` is given). Never raises on what
    LiveKit (or anyone) wrote in the attributes."""
    cleaned, dropped = clean_attributes(attributes)
    return _build(
        cleaned,
        dropped,
        room=room,
        identity=identity,
        participant_sid=participant_sid,
        first_seen=first_seen,
        call_id=call_id,
        key=key or new_call_key(),
    )


def with_attributes(call: Call, attributes: dict[str, str], dropped: int) -> Call:
    """The same call (id, room, participant, first sight) as its cleaned attributes now say."""
    return _build(
        attributes,
        dropped,
        room=call.room,
        identity=call.identity,
        participant_sid=call.participant_sid,
        first_seen=call.first_seen,
        call_id=call.call_id,
        key=call.key,
    )


def _build(
    attrs: dict[str, str],
    dropped: int,
    *,
    room: str,
    identity: str,
    participant_sid: str,
    first_seen: datetime,
    call_id: str | None,
    key: str,
) -> Call:
    # One pass sorts headers, carrier ids and custom attributes: this runs on every change.
    headers: dict[str, str] = {}
    custom: dict[str, str] = {}
    providers: dict[str, str] = {}
    for name, value in attrs.items():
        kind = _kind(name)
        if kind == _CUSTOM:
            custom[name] = value
        elif kind == _HEADER:
            headers[name[len(HEADER_PREFIX) :].lower()] = value
        elif kind == _PROVIDER:
            providers[_PROVIDER_KEYS[name]] = value
    get = attrs.get
    # LiveKit's own agents tell outbound by the missing dispatch rule: do the same.
    direction = Direction.INBOUND if get("sip.ruleID") else Direction.OUTBOUND
    remote, local = get("sip.phoneNumber"), get("sip.trunkPhoneNumber")
    from_number, to_number = (remote, local) if direction is Direction.INBOUND else (local, remote)
    raw_status = get("sip.callStatus")
    return Call(
        # The call id is fixed at first sight so a late or missing `sip.callID` cannot
        # split one call in two; the identity stands in when LiveKit wrote none.
        call_id=call_id or get("sip.callID") or identity,
        key=key,
        room=room,
        identity=identity,
        participant_sid=participant_sid,
        first_seen=first_seen,
        direction=direction,
        status=parse_status(raw_status),
        raw_status=raw_status,
        sip_call_id=get("sip.callIDFull"),
        sip_call_tag=get("sip.callTag"),
        from_number=from_number,
        to_number=to_number,
        trunk_id=get("sip.trunkID"),
        rule_id=get("sip.ruleID"),
        trunk_number=local,
        hostname=get("sip.hostname"),
        providers=ProviderIds(**providers) if providers else _NO_PROVIDERS,
        headers=Headers._lowered(headers),
        custom=custom,
        attributes=attrs,
        attributes_dropped=dropped,
    )


def dialled_attributes(
    attributes: Mapping[str, str], *, to: str, trunk: str, caller: str | None
) -> dict[str, str]:
    """The attributes LiveKit writes on a participant it dials (`sip.phoneNumber` the number
    dialled, `sip.trunkID`, `sip.trunkPhoneNumber` the caller id), for a dial whose
    participant never joined: its call still has a number and a trunk."""
    written = {"sip.phoneNumber": to, "sip.trunkID": trunk}
    if caller:
        written["sip.trunkPhoneNumber"] = caller
    return {**attributes, **written}
