"""Who is on the other end of a request: the one place the app works out a client's address.

Login throttling (django-axes calls `client_ip` through AXES_CLIENT_IP_CALLABLE) and the
audit log both use it, so a lockout and an audit row always name the same address.

Behind a proxy the socket address (REMOTE_ADDR) is the proxy's, the same for everyone.
Each proxy appends the address it was connected from to X-Forwarded-For, but anyone can
send that header with made-up entries in front. So the header is used only when
TRUSTED_PROXY_COUNT says how many proxies of ours stand in front of the app, and then only
the entry the outermost of them wrote is believed: the N-th from the right.
"""

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """The client's address, or None when there is no request or the address is unreadable."""
    if request is None:
        return None
    proxies = settings.TRUSTED_PROXY_COUNT
    address = request.META.get("REMOTE_ADDR") or ""
    if proxies > 0:
        hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        hops = [hop for hop in hops if hop]
        if hops:
            # Fewer entries than proxies: the request came through fewer of them (a health
            # check from inside, say), and every entry was written by one of ours.
            address = hops[-min(proxies, len(hops))]
    return _normalised(address)


def _normalised(address: str) -> str | None:
    # Never store or lock on something that is not an address (a proxy listening on a unix
    # socket writes "unix:"); IPv6 in its compressed form, as the database returns it.
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None
