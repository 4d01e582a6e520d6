"""Before the worker starts: is LiveKit there, and does it take our credentials?

livekit-agents retries a failing connection for minutes with its own log lines; an
operator starting the worker wants one clear line instead.
"""

from __future__ import annotations

import warnings

import aiohttp
from livekit import api

from .errors import ConfigError
from .settings import Settings

TIMEOUT_S = 10.0


def agent_endpoint(url: str) -> str:
    base = url.rstrip("/")
    for plain, secure in (("http://", "ws://"), ("https://", "wss://")):
        if base.startswith(plain):
            base = secure + base[len(plain) :]
    return base + "/agent"


async def check_livekit(settings: Settings) -> None:
    """Open the worker endpoint the way the worker will, then close it unregistered."""
    with warnings.catch_warnings():
        # PyJWT warns on short dev secrets; the worker itself will say it again if it matters.
        warnings.simplefilter("ignore")
        token = (
            api.AccessToken(
                settings.livekit_api_key, settings.livekit_api_secret.get_secret_value()
            )
            .with_grants(api.VideoGrants(agent=True))
            .to_jwt()
        )
    url = agent_endpoint(settings.livekit_url)
    timeout = aiohttp.ClientTimeout(total=TIMEOUT_S)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.ws_connect(url, headers={"Authorization": f"Bearer {token}"}),
        ):
            return
    except aiohttp.WSServerHandshakeError as exc:
        if exc.status in (401, 403):
            msg = (
                f"LiveKit at {settings.livekit_url} refused LIVEKIT_API_KEY/LIVEKIT_API_SECRET"
                f" (HTTP {exc.status}): check that the key and secret belong to this server"
            )
        else:
            msg = f"LiveKit at {settings.livekit_url} answered HTTP {exc.status} on {url}"
        raise ConfigError(msg) from None
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        detail = str(exc) or type(exc).__name__
        msg = f"cannot reach LiveKit at {settings.livekit_url}: {detail}"
        raise ConfigError(msg) from None
