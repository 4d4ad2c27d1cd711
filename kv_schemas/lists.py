"""Lists operators keep up to date: IP addresses and networks.

``IPList.entries`` holds IPv4/IPv6 addresses (``203.0.113.7``, ``2001:db8::1``)
and CIDR networks (``198.51.100.0/24``, ``2001:db8::/32``). A network with
host bits set (``10.0.0.1/8``) is an error, as with ``ipaddress`` in strict
mode: it is almost always a typo for another network. An entry that is only
a ``#`` comment (or text after ``#``) is ignored. The list is compiled into
sorted integer ranges when configuration loads, so a lookup is a binary
search whatever the size of the list.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from ._base import Name, Schema

__all__ = ["IPList"]

IPEntry = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class IPList(Schema, frozen=True):
    """A named set of IP addresses and networks (referred to by rules)."""

    name: Name
    entries: list[IPEntry] = []
    description: str = ""
