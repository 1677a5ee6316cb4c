"""The Terraform state key: one per (namespace, release), and a name Terraform and
Kubernetes both accept (see terraform/README.md, "State", for what Terraform
1.5.7 does with other suffixes)."""

from __future__ import annotations

import re

from hypothesis import assume, example, given
from hypothesis import strategies as st

from bluegreen.core import names
from bluegreen.core.infrastructure import InfrastructureInputs

_LABEL_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789-"
_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"
# k8s.io/apimachinery validation: IsDNS1123Subdomain, IsValidLabelValue.
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def _label(max_size: int) -> st.SearchStrategy[str]:
    """A DNS-1123 label: alphanumeric at both ends, '-' inside."""
    inner = st.text(alphabet=_LABEL_CHARS, max_size=max(max_size - 2, 0))
    return st.builds(
        lambda first, middle, last: (first + middle + last)[:max_size].rstrip("-"),
        st.sampled_from(_ALNUM),
        inner,
        st.sampled_from(_ALNUM),
    ).filter(bool)


namespaces = _label(63)
# A DNS-1123 subdomain of at most 63 characters: labels joined by dots.
release_names = (
    st.lists(_label(20), min_size=1, max_size=4).map(".".join).filter(lambda name: len(name) <= 63)
)
# Collision-prone pairs too: names made of the same few characters and dashes.
tight_namespaces = st.text(alphabet="ab-", min_size=1, max_size=6).filter(
    lambda s: s[0] != "-" and s[-1] != "-"
)
tight_names = st.text(alphabet="ab-.", min_size=1, max_size=6).filter(
    lambda s: bool(DNS1123_SUBDOMAIN.match(s))
)


@st.composite
def shifted_pairs(draw: st.DrawFn) -> tuple[tuple[str, str], tuple[str, str]]:
    """Two releases whose ``<namespace>-<name>`` spell the same string: the part of
    one's name before a '-' moves into the other's namespace."""
    namespace = draw(_label(40))
    head, tail = draw(_label(10)), draw(_label(20))
    return (namespace, f"{head}-{tail}"), (f"{namespace}-{head}", tail)


pairs = st.one_of(st.tuples(namespaces, release_names), st.tuples(tight_namespaces, tight_names))


@given(st.one_of(st.tuples(pairs, pairs), shifted_pairs()))
def test_distinct_releases_never_share_a_key(
    releases: tuple[tuple[str, str], tuple[str, str]],
) -> None:
    first, second = releases
    assume(first != second)
    assert names.state_key(*first) != names.state_key(*second)


def test_the_pair_that_collided_under_the_legacy_key_no_longer_does() -> None:
    assert names.legacy_state_key("shop", "a-b") == names.legacy_state_key("shop-a", "b")
    assert names.state_key("shop", "a-b") != names.state_key("shop-a", "b")


@given(namespaces, release_names)
def test_key_is_a_label_value_and_names_a_valid_secret(namespace: str, release: str) -> None:
    key = names.state_key(namespace, release)
    # Terraform labels the state Secret and the lock Lease with the key
    # (tfstateSecretSuffix): over 63 characters the API server refuses the Lease.
    assert len(key) <= 63
    assert LABEL_VALUE.match(key)
    secret = f"tfstate-default-{key}"
    assert len(secret) <= 253 and DNS1123_SUBDOMAIN.match(secret)
    assert DNS1123_SUBDOMAIN.match(f"lock-{secret}")


@given(namespaces, release_names)
@example("shop", "web-2")
def test_key_never_ends_like_a_state_chunk(namespace: str, release: str) -> None:
    # Newer Terraform versions store large states as tfstate-default-<key>-<n>;
    # a key ending in -<digits> could be read as another key's chunk.
    assert not re.search(r"-\d+$", names.state_key(namespace, release))


@given(namespaces, release_names)
def test_key_is_deterministic_and_readable(namespace: str, release: str) -> None:
    key = names.state_key(namespace, release)
    assert key == names.state_key(namespace, release)
    assert key.startswith(namespace[:20].rstrip("-") + ".")


def test_inputs_use_the_new_key_everywhere() -> None:
    inputs = InfrastructureInputs(
        release="a-b",
        release_namespace="shop",
        namespace="shop",
        create_namespace=False,
        service_name="shop",
        service_type="ClusterIP",
        service_port=80,
        target_port=5000,
        preview_service_name="shop-preview",
    )
    assert inputs.state_key() == names.state_key("shop", "a-b")
    assert inputs.legacy_state_key() == "shop-a-b"
