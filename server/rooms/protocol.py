"""Signaling protocol v1 (docs/protocol.md): parsing and validating client messages. Plain Python, no I/O.

Every refusal is a ``ProtocolError`` with a stable ``code``; the handler sends it as
``{"type": "error", "code", "message", "ref"}`` and keeps the connection open.
"""

from __future__ import annotations

import json
from typing import Any

VERSION = 1
MAX_MESSAGE_BYTES = 64 * 1024  # larger text frames are refused with ``too_large`` (connection stays open)
HARD_MESSAGE_BYTES = 1024 * 1024  # beyond this the WebSocket layer closes the connection (code 1009)
MAX_ID_LEN = 64
MAX_TOKEN_LEN = 4096
MAX_SDP_LEN = 60_000  # an SDP offer or answer in an ``sfu`` message (under MAX_MESSAGE_BYTES)


class ProtocolError(Exception):
    def __init__(self, code: str, message: str, ref: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.ref = ref

    def as_message(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "error", "code": self.code, "message": self.message}
        if self.ref is not None:
            out["ref"] = self.ref
        return out


_STR, _BOOL, _OBJ, _LIST = "str", "bool", "obj", "list"
# type -> {field: (kind, required, nullable, max_len)}
_F = tuple[str, bool, bool, int]
SCHEMA: dict[str, dict[str, _F]] = {
    "join": {"token": (_STR, True, False, MAX_TOKEN_LEN), "resume": (_STR, False, True, 200),
             "check": (_STR, False, True, 32), "session": ("int", False, True, 0)},
    "signal": {"to": (_STR, True, False, MAX_ID_LEN), "data": (_OBJ, True, False, 0)},
    "chat": {"text": (_STR, True, False, 2000)},
    "hand": {"raised": (_BOOL, True, False, 0)},
    "consent": {"recording": (_BOOL, True, False, 0)},
    "media": {"audio": (_BOOL, False, True, 0), "video": (_BOOL, False, True, 0)},
    "leave": {},
    "ping": {},
    "admit": {"peer": (_STR, True, False, MAX_ID_LEN)},
    "deny": {"peer": (_STR, True, False, MAX_ID_LEN)},
    "mute": {"peer": (_STR, True, False, MAX_ID_LEN), "kind": (_STR, True, False, 5)},
    "remove": {"peer": (_STR, True, False, MAX_ID_LEN)},
    "lock": {"locked": (_BOOL, True, False, 0)},
    "move": {"peer": (_STR, True, False, MAX_ID_LEN), "subroom": (_STR, True, True, 40)},
    "floor": {"peer": (_STR, True, True, MAX_ID_LEN)},
    "recording": {"on": (_BOOL, True, False, 0), "subrooms": (_LIST, False, True, 20)},
    "end": {},
    # The SFU backend (docs/sfu.md, docs/protocol.md "Media on the SFU"): SDP relayed to and from Janus.
    "sfu": {"op": (_STR, True, False, 16), "sdp": (_STR, False, False, MAX_SDP_LEN),
            "layers": (_OBJ, False, False, 0)},
}
SFU_CLIENT_OPS = frozenset({"publish", "start", "layers"})
MAX_TILES = 200  # tiles a layers report may describe
MAX_BANDWIDTH = 100_000_000  # bits/s
MODERATOR_TYPES = frozenset({"admit", "deny", "mute", "remove", "lock", "move", "floor", "recording", "end"})


def _check(t: str, name: str, spec: _F, value: Any) -> Any:
    kind, _required, nullable, max_len = spec
    if value is None:
        if nullable:
            return None
        raise ProtocolError("invalid_field", f"{name} must not be null", t)
    ok = {
        _STR: isinstance(value, str),
        _BOOL: isinstance(value, bool),
        _OBJ: isinstance(value, dict),
        _LIST: isinstance(value, list),
        "int": isinstance(value, int) and not isinstance(value, bool),
    }[kind]
    if not ok:
        raise ProtocolError("invalid_field", f"{name} has the wrong type", t)
    if kind in (_STR, _LIST) and max_len and len(value) > max_len:
        raise ProtocolError("invalid_field", f"{name} is too long (max {max_len})", t)
    if kind == _LIST and not all(isinstance(x, str) for x in value):
        raise ProtocolError("invalid_field", f"{name} must be a list of strings", t)
    return value


def parse(raw: str | bytes) -> dict[str, Any]:
    """A validated client message: a dict with ``type`` and only that type's known fields."""
    size = len(raw.encode() if isinstance(raw, str) else raw)
    if size > MAX_MESSAGE_BYTES:
        raise ProtocolError("too_large", f"message over {MAX_MESSAGE_BYTES} bytes")
    try:
        msg = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ProtocolError("invalid_json", "message is not valid JSON") from None
    if not isinstance(msg, dict):
        raise ProtocolError("invalid_message", "message must be a JSON object")
    t = msg.get("type")
    if not isinstance(t, str):
        raise ProtocolError("missing_field", "missing field: type")
    fields = SCHEMA.get(t)
    if fields is None:
        raise ProtocolError("unknown_type", f"unknown message type {t[:40]!r}", t[:40])
    out: dict[str, Any] = {"type": t}
    for name, spec in fields.items():
        if name not in msg:
            if spec[1]:
                raise ProtocolError("missing_field", f"missing field: {name}", t)
            continue
        out[name] = _check(t, name, spec, msg[name])
    if t == "mute" and out["kind"] not in ("audio", "video"):
        raise ProtocolError("invalid_field", "kind must be audio or video", t)
    if t == "chat" and not out["text"].strip():
        raise ProtocolError("invalid_field", "text is empty", t)
    if t == "sfu":
        _check_sfu(out)
    return out


def _check_sfu(m: dict[str, Any]) -> None:
    """``sfu`` ops from a client: ``publish`` (an SDP offer), ``start`` (the answer to the server's
    subscription offer), ``layers`` (what the client shows and can receive)."""
    op = m["op"]
    if op not in SFU_CLIENT_OPS:
        raise ProtocolError("invalid_field", f"unknown sfu op {op[:16]!r}", "sfu")
    if op in ("publish", "start"):
        sdp = m.get("sdp")
        if not sdp or not sdp.startswith("v=0"):
            raise ProtocolError("invalid_field", "sdp must be a session description", "sfu")
        return
    layers = m.get("layers")
    if not isinstance(layers, dict):
        raise ProtocolError("missing_field", "missing field: layers", "sfu")
    tiles = layers.get("tiles", [])
    bw = layers.get("bandwidth")
    ok = (isinstance(tiles, list) and len(tiles) <= MAX_TILES
          and all(isinstance(x, dict) and isinstance(x.get("peer"), str) and len(x["peer"]) <= MAX_ID_LEN
                  and isinstance(x.get("height"), int) and not isinstance(x.get("height"), bool)
                  and 0 <= x["height"] <= 8192 and isinstance(x.get("screen", False), bool) for x in tiles)
          and (bw is None or (isinstance(bw, int) and not isinstance(bw, bool) and 0 <= bw <= MAX_BANDWIDTH))
          and isinstance(layers.get("low_data", False), bool))
    if not ok:
        raise ProtocolError("invalid_field", "layers: tiles [{peer, height, screen?}] (at most "
                            f"{MAX_TILES}), bandwidth 0-{MAX_BANDWIDTH} bits/s, low_data true/false", "sfu")
    m["layers"] = {"tiles": [{"peer": x["peer"], "height": x["height"], "screen": bool(x.get("screen", False))}
                             for x in tiles], "bandwidth": bw,
                   "low_data": bool(layers.get("low_data", False))}


def dumps(msg: dict[str, Any]) -> str:
    return json.dumps(msg, ensure_ascii=False, separators=(",", ":"))
