"""Which client address a live vote counts against: the socket peer, or what a trusted proxy says it forwarded.

``X-Forwarded-For`` is written by whoever sends the request, so it is believed only when the
socket peer is one of the operator's proxies (``EVALSUITE_TRUSTED_PROXIES``); then the client
is the right-most address in the header that is not itself a trusted proxy (each proxy
appends the address it received the request from, so everything left of that may be forged).
"""

from __future__ import annotations

from collections.abc import Sequence

from evalsuite import settings


def client_address(peer: str, forwarded_for: str | None = None, trusted_proxies: Sequence[str] | None = None) -> str:
    """The address a per-address limit counts; ``trusted_proxies`` defaults to the setting."""
    trusted = set(settings.TRUSTED_PROXIES.read() if trusted_proxies is None else trusted_proxies)
    if peer not in trusted or not forwarded_for:
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if hop not in trusted:
            return hop
    return peer
