"""Where an HTTP check may connect: the policy, as pure functions of addresses.

By default a check reaches only the release's own Service (core builds that
URL from the observed ClusterIP, or ``<service>.<namespace>.svc``). A URL
written in the spec (``http.url``) is allowed only for hosts the operator was
started with (``--check-allowed-hosts``). Whatever the allowlist says, some
addresses are never reachable: link-local and cloud metadata endpoints,
unspecified, multicast and broadcast addresses, and the operator's own metrics
and liveness ports. The checker resolves a host once, asks ``address_refusal``
about every address, and connects only to those it checked.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack...
        "fd00:ec2::254",  # AWS over IPv6
        "100.100.100.200",  # Alibaba Cloud
    )
)
NEVER_REACHABLE: tuple[tuple[IPNetwork, str], ...] = tuple(
    (ipaddress.ip_network(net), why)
    for net, why in (
        ("0.0.0.0/8", "unspecified"),  # Linux connects 0.x.y.z to the host itself
        ("169.254.0.0/16", "link-local"),
        ("fe80::/10", "link-local"),
        ("224.0.0.0/4", "multicast"),
        ("ff00::/8", "multicast"),
        ("255.255.255.255/32", "broadcast"),
        ("::/128", "unspecified"),
    )
)
LOOPBACK: tuple[IPNetwork, ...] = (
    ipaddress.ip_network("127.0.0.0/8"),
    ipaddress.ip_network("::1/128"),
)
MAX_TARGET_CHARS = 100
"""A check target in a message is cut here: messages stay short whatever the path."""


@dataclass(frozen=True)
class AllowedHosts:
    """The operator's ``--check-allowed-hosts``: exact hostnames, and IP networks."""

    names: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    def allows(self, host: str) -> bool:
        """An IP literal inside a listed network, or a listed hostname (exact match)."""
        address = parse_address(host)
        if address is None:
            return _normal_name(host) in self.names
        return any(address in net for net in self.networks if net.version == address.version)


def parse_allowed_hosts(entries: Iterable[str]) -> AllowedHosts:
    """Hostnames, IPs and CIDRs; raises ValueError naming a malformed entry."""
    names: set[str] = set()
    networks: list[IPNetwork] = []
    for raw in entries:
        entry = raw.strip()
        if not entry:
            continue
        if "/" in entry or parse_address(entry) is not None:
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError as err:
                raise ValueError(f"bad allowed host {entry!r}: {err}") from None
        elif _is_hostname(entry):
            names.add(_normal_name(entry))
        else:
            raise ValueError(f"bad allowed host {entry!r}: not a hostname, IP or CIDR")
    return AllowedHosts(frozenset(names), tuple(networks))


@dataclass(frozen=True)
class CheckPolicy:
    allowed: AllowedHosts = field(default_factory=AllowedHosts)
    own_ports: frozenset[int] = frozenset()
    """The operator's metrics and liveness ports."""
    own_addresses: frozenset[IPAddress] = frozenset()
    """Addresses of this host or pod besides loopback (where own_ports listen too)."""

    def host_refusal(self, host: str, explicit: bool) -> str | None:
        """Why a URL's host may not be used, decided before any lookup; None if it may.

        ``explicit``: the URL came from ``http.url`` in the spec, not from the
        release's own Service.
        """
        if explicit and not self.allowed.allows(host):
            return f"url host not allowed: {host}"
        address = parse_address(host)
        if address is not None:
            reason = never_reachable(address)
            if reason is not None:
                return f"url host not allowed: {host} ({reason})"
        return None

    def address_refusal(self, address: IPAddress, port: int) -> str | None:
        """Why a resolved address may not be connected to; None if it may."""
        reason = never_reachable(address)
        if reason is not None:
            return reason
        if port in self.own_ports and self._is_own(address):
            return "the operator's own port"
        return None

    def _is_own(self, address: IPAddress) -> bool:
        address = _unmapped(address)
        return (
            any(address in net for net in LOOPBACK if net.version == address.version)
            or address in self.own_addresses
        )


def never_reachable(address: IPAddress) -> str | None:
    """The reason ``address`` is refused whatever the allowlist says, or None."""
    address = _unmapped(address)
    if address in METADATA_ADDRESSES:
        return "cloud metadata address"
    for net, why in NEVER_REACHABLE:
        if net.version == address.version and address in net:
            return why
    return None


def parse_address(host: str) -> IPAddress | None:
    """The IP of an IP-literal host (brackets and IPv6 zone allowed), else None."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def describe_target(url: str) -> str:
    """``scheme://host[:port]/path`` for messages: no credentials, query or fragment."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "(invalid url)"
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    where = f"{parts.scheme}://{host}{f':{port}' if port else ''}{parts.path}"
    return where if len(where) <= MAX_TARGET_CHARS else where[: MAX_TARGET_CHARS - 3] + "..."


def _unmapped(address: IPAddress) -> IPAddress:
    """``::ffff:a.b.c.d`` is a.b.c.d on the wire: judge it as such."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _normal_name(host: str) -> str:
    return host.strip().rstrip(".").lower()


def _is_hostname(entry: str) -> bool:
    labels = _normal_name(entry).split(".")
    return all(
        0 < len(label) <= 63
        and all(c.isalnum() or c == "-" for c in label)
        and label.isascii()
        and not label.startswith("-")
        and not label.endswith("-")
        for label in labels
    )
