import ast
from pathlib import Path

from server.security.clientip import forwarded_client, parse_networks

PROXY = parse_networks("172.28.0.0/24, 10.0.0.1")


def test_untrusted_peer_header_ignored() -> None:
    assert forwarded_client("203.0.113.9", "1.2.3.4", PROXY) == "203.0.113.9"
    assert forwarded_client("203.0.113.9", "", ()) == "203.0.113.9"


def test_trusted_proxy_rightmost_untrusted_hop() -> None:
    # The client may prepend anything; only what our proxy appended counts.
    assert forwarded_client("172.28.0.5", "6.6.6.6, 198.51.100.7", PROXY) == "198.51.100.7"
    assert forwarded_client("172.28.0.5", "198.51.100.7, 10.0.0.1", PROXY) == "198.51.100.7"
    assert forwarded_client("172.28.0.5", "", PROXY) == "172.28.0.5"
    assert forwarded_client("172.28.0.5", "not-an-ip", PROXY) == "172.28.0.5"
    assert forwarded_client("172.28.0.5", "2001:db8::1", PROXY) == "2001:db8::1"


def test_parse_networks_rejects_garbage() -> None:
    import pytest

    with pytest.raises(ValueError):
        parse_networks("10.0.0.0/8, banana")
    assert parse_networks("") == ()


def test_only_the_clientip_module_reads_the_socket_peer() -> None:
    """``request.remote`` is the proxy's address behind a trusted proxy: every other module asks
    ``client_ip(request)``, which applies CONCORD_TRUSTED_PROXIES (agreements/api.py once did not)."""
    server = Path(__file__).resolve().parents[2] / "server"
    readers = []
    for path in server.rglob("*.py"):
        if path == server / "security" / "clientip.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            peer = isinstance(node, ast.Attribute) and node.attr == "remote" and isinstance(node.value, ast.Name)
            if peer and "req" in node.value.id.lower():  # type: ignore[union-attr]
                readers.append(f"{path.relative_to(server.parent)}:{node.lineno}")
            if isinstance(node, ast.Constant) and node.value == "peername":
                readers.append(f"{path.relative_to(server.parent)}:{node.lineno}")
    assert readers == [], f"read the peer address without client_ip(): {readers}"
