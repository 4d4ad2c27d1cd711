"""IP lists (``IPRangeSet``): the one IP set of the rules language and the configuration plane.

Membership and strictness are checked against :mod:`ipaddress` as the
reference, with IPv4-mapped IPv6 addresses and networks (``::ffff:0:0/96``)
read as the IPv4 ones.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgeline.config import IPListError, IPSet, sort_entries
from edgeline.filtering import IPRangeSet, ListError, ip_key

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


# -- the reference -------------------------------------------------------------------


def _as_v4(network: Network) -> Network:
    if network.version == 6 and network.prefixlen >= 96:
        mapped = network.network_address.ipv4_mapped
        if mapped is not None:
            return ipaddress.IPv4Network((mapped, network.prefixlen - 96))
    return network


def _reference(entries: list[str], probe: Address) -> bool:
    networks = [_as_v4(ipaddress.ip_network(e.partition("#")[0].strip()))
                for e in entries if e.partition("#")[0].strip()]
    if probe.version == 6 and probe.ipv4_mapped is not None:  # type: ignore[union-attr]
        probe = probe.ipv4_mapped  # type: ignore[union-attr]
    return any(probe.version == n.version and probe in n for n in networks)


def _networks(version: int) -> st.SearchStrategy[Network]:
    bits = 32 if version == 4 else 128
    low = 0 if version == 4 else 8
    return st.builds(lambda a, p: ipaddress.ip_network((a, p), strict=False),
                     st.integers(0, 2**bits - 1).map(
                         ipaddress.IPv4Address if version == 4 else ipaddress.IPv6Address),
                     st.integers(low, bits))


_MAPPED_NETS = st.builds(
    lambda a, p: ipaddress.IPv6Network(((0xFFFF << 32) | a, 96 + p), strict=False),
    st.integers(0, 2**32 - 1), st.integers(0, 32))
NETWORKS = st.one_of(_networks(4), _networks(4), _networks(6), _MAPPED_NETS,
                     st.sampled_from([ipaddress.ip_network(n) for n in
                                      ("0.0.0.0/0", "::/0", "::ffff:0:0/96", "::/96",
                                       "2001:db8::/32", "::1", "255.255.255.255")]))


def _text(network: Network, form: int) -> str:
    """Spell a network as an operator might: compressed, exploded, bare address, padded."""
    single = network.num_addresses == 1
    if form == 1 and network.version == 6:
        return network.exploded
    if form == 2 and single:
        return str(network.network_address)
    if form == 3:
        return f"  {network}  # listed"
    return str(network)


ENTRIES = st.lists(st.tuples(NETWORKS, st.integers(0, 3)), max_size=25).map(
    lambda items: [_text(n, form) for n, form in items])


def _probes(entries: list[str]) -> list[Address]:
    out: list[Address] = []
    for entry in entries:
        network = ipaddress.ip_network(entry.partition("#")[0].strip())
        for address in (network.network_address, network.broadcast_address):
            out.append(address)
            for step in (-1, 1):
                try:
                    out.append(address + step)
                except ipaddress.AddressValueError:
                    pass
            if address.version == 4:
                out.append(ipaddress.IPv6Address((0xFFFF << 32) | int(address)))
    return out


PROBES = st.lists(st.one_of(
    st.integers(0, 2**32 - 1).map(ipaddress.IPv4Address),
    st.integers(0, 2**128 - 1).map(ipaddress.IPv6Address),
    st.integers(0, 2**32 - 1).map(lambda a: ipaddress.IPv6Address((0xFFFF << 32) | a))),
    max_size=20)


@settings(max_examples=300, deadline=None)
@given(ENTRIES, PROBES)
def test_membership_agrees_with_ipaddress(entries: list[str], probes: list[Address]) -> None:
    ips = IPRangeSet(entries)
    # The same entries through the per-entry path (a comment line forces it).
    careful = IPRangeSet([*entries, "# forces the careful path"])
    assert len(ips) == len(careful) == len(entries)
    for probe in probes + _probes(entries):
        expected = _reference(entries, probe)
        assert (str(probe) in ips) is expected, (probe, entries)
        assert (probe in ips) is expected, (probe, entries)
        assert (probe.exploded in careful) is expected, (probe, entries)


# Networks in one small block, so that they nest and overlap often.
_CROWDED = st.lists(st.builds(
    lambda a, p: ipaddress.IPv4Network((0x0A000000 | a, p), strict=False),
    st.integers(0, 2**12 - 1), st.integers(20, 32)), max_size=40)


@settings(max_examples=300, deadline=None)
@given(_CROWDED, st.randoms(use_true_random=False))
def test_nested_and_overlapping_networks_in_any_order(networks: list[Network],
                                                      rng: Any) -> None:
    entries = [str(n) for n in networks]
    shuffled = entries[:]
    rng.shuffle(shuffled)
    # As pushed (address order: the overlaps are walked in place) and in any order.
    for listed in (sort_entries(entries), shuffled):
        ips = IPRangeSet(listed)
        starts, ends = ips.arrays()
        assert starts == sorted(starts) and ends == sorted(ends)
        for probe in _probes(entries):
            assert (probe in ips) is _reference(entries, probe), (probe, listed)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet="0123456789./:abcdefx #\n", max_size=20), min_size=1,
                max_size=5))
def test_as_strict_as_ipaddress_and_says_which_entry(entries: list[str]) -> None:
    first_bad = None
    for index, entry in enumerate(entries):
        text = entry.partition("#")[0].strip()
        if not text:
            continue  # blank lines and comments are skipped
        try:
            ipaddress.ip_network(text, strict=True)
        except ValueError:
            first_bad = index
            break
    try:
        IPRangeSet(entries, name="l")
    except ListError as exc:
        assert exc.index == first_bad, entries
        assert exc.line == first_bad + 1 and exc.reason and "'l'" in str(exc)
    else:
        assert first_bad is None, entries


@pytest.mark.parametrize("bad", [
    ["1.2.3.4", "01.2.3.4"], ["1.2.3", "1.2.3.4.5"], ["1.2.3.4/"], ["1.2.3.4/33"],
    ["256.0.0.0"], ["10.0.0.1/8"], ["1.2.3.4//8"], ["1.2.3.4", "0x1.2.3.4"], ["1.2.3.4/-1"],
    ["1.2.3.4/ 8"], ["1.2.3.4\x00"], ["::1", "1.2.3.4", "2001:db8::1/129"], ["1.2.3.4", "::g"],
    ["1.2.3.4", "2001:db8::1/64"], ["::ffff:1.2.3.4/95"],
])
def test_the_bulk_path_rejects_what_ipaddress_rejects(bad: list[str]) -> None:
    # Each list looks like canonical addresses to a bulk parser; its own checks
    # (or the per-entry path) must refuse it, naming the first bad entry.
    first_bad = None
    for index, entry in enumerate(bad):
        try:
            ipaddress.ip_network(entry)
        except ValueError:
            first_bad = index
            break
    if first_bad is None:  # ::ffff:1.2.3.4/95 is a valid network, just not a mapped one
        assert "::ffff:1.2.3.4" not in IPRangeSet(bad)
        assert "::ffff:1.2.3.4" not in IPRangeSet(bad[:1])
        return
    with pytest.raises(ListError) as info:
        IPRangeSet(bad)
    assert info.value.index == first_bad


def test_membership_v4_v6_and_mapped() -> None:
    ips = IPRangeSet(["10.0.0.0/8", "192.0.2.1", "2001:db8::/32", "# comment", "", "::1",
                      "::ffff:198.51.100.0/120"])
    assert "10.255.0.1" in ips and "192.0.2.1" in ips and "192.0.2.2" not in ips
    assert "2001:db8:ffff::1" in ips and "2001:db9::" not in ips and "::1" in ips
    assert "::ffff:10.1.1.1" in ips  # IPv4-mapped IPv6 reads as IPv4
    assert "198.51.100.7" in ips and "198.51.101.7" not in ips  # and so does a mapped network
    assert "fe80::1%eth0" not in ips and "::1%lo" in ips  # a zone does not change the address
    assert ipaddress.ip_address("10.1.2.3") in ips and ipaddress.ip_address("::2") not in ips
    assert "not an ip" not in ips and "" not in ips and "10.0.0.1/8" not in ips
    assert 42 not in ips and None not in ips
    assert len(ips) == 5


def test_everything_and_nothing() -> None:
    everything = IPRangeSet(["0.0.0.0/0", "::/0"])
    assert "0.0.0.0" in everything and "255.255.255.255" in everything and "::" in everything
    assert "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff" in everything
    nothing = IPRangeSet([])
    assert "1.2.3.4" not in nothing and "::1" not in nothing and len(nothing) == 0
    assert ip_key("1.2.3.4") == 0x01020304 and ip_key("::ffff:1.2.3.4") == 0x01020304
    assert ip_key("1.2.3") is None and ip_key("") is None


def test_text_form_and_unsorted_input() -> None:
    text = "# office\n203.0.113.0/24\n\n  198.51.100.7  # a laptop\n2001:db8::/48\n"
    ips = IPRangeSet(text, name="office")
    assert "203.0.113.9" in ips and "198.51.100.7" in ips and "2001:db8::9" in ips
    assert len(ips) == 3
    shuffled = IPRangeSet(["9.0.0.0/8", "1.0.0.0/8", "5.5.5.5", "1.2.0.0/16"])
    assert all(a in shuffled for a in ("9.1.1.1", "1.2.3.4", "1.255.0.0", "5.5.5.5"))
    assert "5.5.5.6" not in shuffled and "2.0.0.0" not in shuffled
    assert shuffled.spans() == [(1 << 24, 2 << 24), (0x05050505, 0x05050506),
                                (9 << 24, 10 << 24)]


@pytest.mark.parametrize(("entries", "line", "column", "message"), [
    (["10.0.0.0/8", "10.0.0.1/8"], 2, 1, "host bits set (did you mean 10.0.0.0/8?)"),
    ("1.2.3.4\n\n  10.0.0.0/33", 3, 12, "invalid prefix length '33'"),
    (["1.2.3.4", "300.1.1.1"], 2, 1, "not an IPv4/IPv6 address"),
    (["2001:db8::/129"], 1, 12, "invalid prefix length '129'"),
    (["01.2.3.4"], 1, 1, "not an IPv4/IPv6 address"),
    (["1.2.3.4", 5], 2, 1, "entries must be strings"),
])
def test_malformed_entries_are_rejected_with_line_and_column(
        entries: Any, line: int, column: int, message: str) -> None:
    with pytest.raises(ListError) as info:
        IPRangeSet(entries, name="blocklist")
    assert (info.value.line, info.value.column) == (line, column)
    assert message in str(info.value)
    assert info.value.index == line - 1


def test_hundred_thousand_entries() -> None:
    entries = [f"{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}.0/24" for i in range(1, 100_001)]
    entries += [f"2001:db8:{i:x}::/48" for i in range(1000)]
    ips = IPRangeSet(entries)
    assert len(ips) == 101_000
    probes = ["0.1.2.9", "1.134.160.77", "9.9.9.9", "200.1.1.1", "2001:db8:3e7::1",
              "2001:db8:3e8::1"]
    assert [p in ips for p in probes] == [True, True, False, False, True, False]


def test_the_plane_names_are_the_same_implementation() -> None:
    assert IPSet is IPRangeSet and IPListError is ListError
    with pytest.raises(IPListError) as info:
        IPSet(["192.0.2.0/24", "192.0.2.1/24"])
    assert info.value.index == 1 and "host bits set" in info.value.reason


def test_sort_entries_puts_lists_in_address_order() -> None:
    entries = ["2001:db8::/32", "10.0.0.0/8", "# note", "9.9.9.9", "10.0.0.0/16", "::1",
               "::ffff:1.2.3.4"]
    assert sort_entries(entries) == ["# note", "::ffff:1.2.3.4", "9.9.9.9", "10.0.0.0/8",
                                     "10.0.0.0/16", "::1", "2001:db8::/32"]
