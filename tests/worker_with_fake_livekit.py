"""`python -m agent start`, unchanged, in a process whose rooms are answered by FakeLiveKit.

The /agent endpoint is real (tests run AgentEndpoint); only the media server is stood in
for, because none exists here. A caller is already in the room when the job starts; once
the job's room connects, a thread plays the rest of the call as LiveKit's SIP service would.
"""

import json
import os
import sys
import threading
import time

from agent.cli import main
from agent.standin import FakeLiveKit

fake = FakeLiveKit(
    api_key=os.environ["LIVEKIT_API_KEY"], api_secret=os.environ["LIVEKIT_API_SECRET"]
)
fake.install()
room = fake.room(os.environ["TEST_ROOM"])
identity = "sip_+15551230001"
room.join(identity, attributes=json.loads(os.environ["TEST_ATTRIBUTES"]))


def play() -> None:
    while not room.rooms():
        time.sleep(0.02)
    time.sleep(0.3)
    room.set_attributes(identity, {"sip.callStatus": "active"})
    time.sleep(float(os.environ.get("TEST_TALK_S", "0.3")))
    room.set_attributes(identity, {"sip.callStatus": "hangup"})
    room.leave(identity, "CLIENT_INITIATED")


threading.Thread(target=play, daemon=True).start()
main(sys.argv[1:])
