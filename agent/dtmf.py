"""DTMF digits and their RFC 4733 event codes, as LiveKit's `SipDTMF` carries them."""

from __future__ import annotations

from collections.abc import Mapping

CODES: Mapping[str, int] = {
    **{str(d): d for d in range(10)},
    "*": 10,
    "#": 11,
    **{letter: 12 + i for i, letter in enumerate("ABCD")},
}
DIGITS = frozenset(CODES)
