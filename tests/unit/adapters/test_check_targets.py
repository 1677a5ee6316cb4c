"""Where checks may connect: the allowlist and the addresses never reachable (pure)."""

from __future__ import annotations

import ipaddress

import pytest

from bluegreen.adapters.check_targets import (
    AllowedHosts,
    CheckPolicy,
    describe_target,
    never_reachable,
    parse_allowed_hosts,
)


def ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(text)


ALLOW = parse_allowed_hosts(["127.0.0.1", "10.1.0.0/16", "Checks.Example.COM.", "fd12::/64"])
POLICY = CheckPolicy(
    allowed=ALLOW, own_ports=frozenset({9090, 8080}), own_addresses=frozenset({ip("10.1.2.3")})
)


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", False),  # a single IP is a /32, not its neighbours
        ("10.1.200.7", True),
        ("10.2.0.1", False),
        ("checks.example.com", True),
        ("CHECKS.example.com.", True),
        ("evil.checks.example.com", False),  # exact names, no suffix match
        ("[fd12::5]", True),
        ("fd13::5", False),
        ("2130706433", False),  # 127.0.0.1 in decimal: a name, and not a listed one
        ("localhost", False),
    ],
)
def test_explicit_url_hosts_need_the_allowlist(host: str, allowed: bool) -> None:
    refusal = POLICY.host_refusal(host, explicit=True)
    assert (refusal is None) is allowed
    if not allowed:
        assert refusal is not None and refusal.startswith(f"url host not allowed: {host}")


def test_empty_allowlist_allows_no_explicit_url() -> None:
    policy = CheckPolicy()
    assert policy.host_refusal("127.0.0.1", explicit=True) == "url host not allowed: 127.0.0.1"
    # The release's own Service (ClusterIP or its DNS name) needs no allowlist.
    assert policy.host_refusal("10.96.0.12", explicit=False) is None
    assert policy.host_refusal("shop-preview.shop.svc", explicit=False) is None


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("169.254.169.254", "cloud metadata address"),
        ("fd00:ec2::254", "cloud metadata address"),
        ("100.100.100.200", "cloud metadata address"),
        ("::ffff:169.254.169.254", "cloud metadata address"),
        ("169.254.10.1", "link-local"),
        ("fe80::1", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("0.1.2.3", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("255.255.255.255", "broadcast"),
        ("10.96.0.1", None),
        ("127.0.0.1", None),
        ("100.100.100.201", None),
    ],
)
def test_never_reachable(address: str, reason: str | None) -> None:
    assert never_reachable(ip(address)) == reason


def test_denied_addresses_win_over_the_allowlist() -> None:
    wide = CheckPolicy(allowed=parse_allowed_hosts(["0.0.0.0/0", "::/0", "metadata.internal"]))
    assert wide.host_refusal("169.254.169.254", explicit=True) == (
        "url host not allowed: 169.254.169.254 (cloud metadata address)"
    )
    assert wide.host_refusal("[fe80::1]", explicit=True) is not None
    # A listed name is checked again on what it resolves to.
    assert wide.host_refusal("metadata.internal", explicit=True) is None
    assert wide.address_refusal(ip("169.254.169.254"), 80) == "cloud metadata address"
    assert wide.address_refusal(ip("10.0.0.1"), 80) is None


@pytest.mark.parametrize(
    ("address", "port", "refused"),
    [
        ("127.0.0.1", 9090, True),
        ("127.3.4.5", 8080, True),
        ("::1", 9090, True),
        ("::ffff:127.0.0.1", 9090, True),
        ("10.1.2.3", 9090, True),  # the pod's own address
        ("127.0.0.1", 9091, False),
        ("10.1.2.4", 9090, False),  # another pod's metrics port is not ours
    ],
)
def test_the_operators_own_ports_are_never_reachable(
    address: str, port: int, refused: bool
) -> None:
    refusal = POLICY.address_refusal(ip(address), port)
    assert (refusal == "the operator's own port") is refused


@pytest.mark.parametrize("entry", ["not a host", "10.0.0.0/33", "-bad.example", "a..b", "x/y"])
def test_malformed_allowlist_entries_are_errors(entry: str) -> None:
    with pytest.raises(ValueError, match="bad allowed host"):
        parse_allowed_hosts([entry])


def test_allowlist_parsing() -> None:
    parsed = parse_allowed_hosts([" 127.0.0.1 ", "", "10.0.0.0/8", "[::1]", "Svc.Local"])
    assert parsed.names == frozenset({"svc.local"})
    assert [str(n) for n in parsed.networks] == ["127.0.0.1/32", "10.0.0.0/8", "::1/128"]
    assert AllowedHosts().allows("127.0.0.1") is False


@pytest.mark.parametrize(
    ("url", "described"),
    [
        ("http://user:pw@10.0.0.1:8080/x?token=s3cret#frag", "http://10.0.0.1:8080/x"),
        ("https://checks.example.com/health", "https://checks.example.com/health"),
        ("http://[fd12::5]:81/", "http://[fd12::5]:81/"),
        ("http://h:99999/", "(invalid url)"),
    ],
)
def test_targets_are_described_without_secrets(url: str, described: str) -> None:
    assert describe_target(url) == described


def test_long_targets_are_cut() -> None:
    described = describe_target("http://10.0.0.1/" + "p" * 2000)
    assert len(described) == 100 and described.endswith("...")


def test_the_flag_and_its_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from bluegreen.config import parse_config

    assert parse_config([]).check_allowed_hosts == ()
    flag = parse_config(["--check-allowed-hosts", "127.0.0.1, 10.0.0.0/8,checks.example.com"])
    assert flag.check_allowed_hosts == ("127.0.0.1", "10.0.0.0/8", "checks.example.com")
    monkeypatch.setenv("BLUEGREEN_CHECK_ALLOWED_HOSTS", "127.0.0.1")
    assert parse_config([]).check_allowed_hosts == ("127.0.0.1",)
    assert parse_config(["--check-allowed-hosts", ""]).check_allowed_hosts == ()
    with pytest.raises(SystemExit):
        parse_config(["--check-allowed-hosts", "not a host"])
