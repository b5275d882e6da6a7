"""The tcp[]/tls[] filter chains meshd's L4 translator produces (golden file written and checked
by L4RouteTranslationTests) decode with the official protos and pass Envoy's PGV rules,
recursively into the tcp_proxy inside Any. No meshd needed."""
from __future__ import annotations

import base64
import json
from pathlib import Path

from envoy.config.listener.v3 import listener_components_pb2
from envoy.extensions.filters.network.tcp_proxy.v3 import tcp_proxy_pb2

import proto_check

GOLDEN = Path(__file__).resolve().parent.parent / "Shared" / "l4" / "filter_chains.json"


def test_l4_filter_chains_decode_and_pass_pgv():
    chains = json.loads(GOLDEN.read_text())["chains"]
    assert len(chains) >= 3, chains
    names = []
    for entry in chains:
        chain = listener_components_pb2.FilterChain()
        chain.ParseFromString(base64.b64decode(entry["filterChain"]))
        assert chain.name == entry["name"]
        problems = proto_check.find_problems(chain)
        assert not problems, f"{entry['name']}: {problems}"
        assert [f.name for f in chain.filters] == ["envoy.filters.network.tcp_proxy"]
        proxy = tcp_proxy_pb2.TcpProxy()
        assert chain.filters[0].typed_config.Unpack(proxy), chain.filters[0].typed_config.type_url
        assert proxy.stat_prefix and (proxy.cluster or proxy.weighted_clusters.clusters)
        assert chain.filter_chain_match.destination_port.value == 9080
        names.append(chain.name)
    first = listener_components_pb2.FilterChain()
    first.ParseFromString(base64.b64decode(chains[0]["filterChain"]))
    assert list(first.filter_chain_match.server_names) == ["a.reviews.example"]
    assert first.filter_chain_match.transport_protocol == "tls"
    assert [(r.address_prefix, r.prefix_len.value) for r in first.filter_chain_match.prefix_ranges] == [("10.0.0.0", 8), ("::1", 128)]


def test_pgv_refuses_a_broken_chain():
    """The oracle can fail: a weighted cluster of weight 0 breaks tcp_proxy's PGV rule."""
    proxy = tcp_proxy_pb2.TcpProxy(stat_prefix="s")
    proxy.weighted_clusters.clusters.add(name="a", weight=0)
    proxy.weighted_clusters.clusters.add(name="b", weight=1)
    chain = listener_components_pb2.FilterChain(name="bad")
    chain.filters.add(name="envoy.filters.network.tcp_proxy").typed_config.Pack(proxy)
    assert proto_check.find_problems(chain)
