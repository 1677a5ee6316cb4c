"""Where the dashboard may listen: loopback only. Pure."""

from __future__ import annotations

import ipaddress
from typing import Final

DEFAULT_PORT: Final = 3100
DEFAULT_ADDRESS: Final = "127.0.0.1"
_NAMES: Final = {"localhost": DEFAULT_ADDRESS}


def loopback_address(value: str) -> str:
    """The address ``--address`` names; ValueError for anything but a loopback address.

    The page shows what the caller's credentials may read: another address would
    hand that to whoever reaches this machine.
    """
    name = value.strip().lower()
    name = _NAMES.get(name, name).removeprefix("[").removesuffix("]")
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        address = None
    if address is None or not address.is_loopback:
        raise ValueError(
            "the dashboard listens on a loopback address only (127.0.0.1, ::1 or localhost), "
            f"not {value!r}"
        )
    return str(address)


def url_host(address: str) -> str:
    """An address as it stands in a URL or a Host header."""
    return f"[{address}]" if ":" in address else address
