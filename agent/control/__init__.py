"""Call control: hang up, transfer, dial out, dispatch a voice agent, DTMF, attributes.

In a handler: `await control(event).transfer("tel:+15551230000")`. In a rules file: the
actions `hangup`, `hangup_all`, `transfer`, `dial`, `dispatch_agent`, `send_dtmf`,
`set_attributes` (see `agent.control.rules`).
"""

from .facade import CallControl, control
from .failures import Failure

__all__ = ["CallControl", "Failure", "control"]
