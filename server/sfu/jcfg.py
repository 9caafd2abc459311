"""Write a Janus configuration directory from Python (``janus -F <dir>`` reads it).

Only what Concord needs is loaded: the VideoRoom plugin, the WebSocket transport (Concord's API link) and
the HTTP transport (readiness probe and the Admin API). Every listener is bound to one address, 127.0.0.1
by default, so only Concord on the same host reaches Janus's API; media ports (``rtp_port_range``) are
the only thing browsers reach. The API secret, the admin secret and the VideoRoom admin key are written
to files created with mode 0600 and never logged.

The format is libconfig's (``.jcfg``): ``name: { key = value ... }`` with quoted strings.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

JANUS_LIB = Path("/usr/lib/x86_64-linux-gnu/janus")

# Plugins, transports, loggers and event handlers that the Debian package ships and Concord does not use.
UNUSED_PLUGINS = ("libjanus_audiobridge.so", "libjanus_duktape.so", "libjanus_echotest.so", "libjanus_lua.so",
                  "libjanus_nosip.so", "libjanus_recordplay.so", "libjanus_sip.so", "libjanus_streaming.so",
                  "libjanus_textroom.so", "libjanus_videocall.so", "libjanus_voicemail.so")
UNUSED_TRANSPORTS = ("libjanus_mqtt.so", "libjanus_nanomsg.so", "libjanus_pfunix.so", "libjanus_rabbitmq.so")
UNUSED_LOGGERS = ("libjanus_jsonlog.so",)
UNUSED_EVENTS = ("libjanus_gelfevh.so", "libjanus_mqttevh.so", "libjanus_nanomsgevh.so",
                 "libjanus_rabbitmqevh.so", "libjanus_sampleevh.so", "libjanus_wsevh.so")

Value = str | int | bool | list[str]


def _value(v: Value) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    # libconfig strings: JSON escaping of quotes and backslashes is the same.
    return json.dumps(str(v), ensure_ascii=False)


def render(sections: Mapping[str, Mapping[str, Value]]) -> str:
    """libconfig text for ``{section: {key: value}}``; None-free, keys in the given order."""
    out: list[str] = []
    for name, items in sections.items():
        out.append(f"{name}: {{")
        out.extend(f"\t{k} = {_value(v)}" for k, v in items.items())
        out.append("}")
        out.append("")
    return "\n".join(out)


@dataclass
class JanusConfig:
    """One Janus instance's settings. Secrets are required: Concord never runs an open Janus."""

    api_secret: str
    admin_secret: str
    admin_key: str
    ws_port: int
    http_port: int
    admin_port: int
    bind_ip: str = "127.0.0.1"
    rtp_port_range: tuple[int, int] = (20000, 40000)
    # ICE: interfaces/addresses to gather candidates on (None: all but ice_ignore_list).
    ice_enforce_list: str | None = None
    ice_ignore_list: str = "vmnet"
    # The public address of a host behind 1:1 NAT (docker, cloud); Janus advertises it in its candidates.
    nat_1_1_mapping: str | None = None
    ice_lite: bool = False
    full_trickle: bool = False
    ipv6: bool = False
    stun_server: str | None = None
    stun_port: int = 3478
    debug_level: int = 3
    session_timeout: int = 60
    server_name: str = "concord-janus"
    lib_dir: Path = JANUS_LIB
    # Extra keys per section, for settings this class does not name (e.g. {"media": {"dtls_mtu": 1200}}).
    extra: dict[str, dict[str, Value]] = field(default_factory=dict)

    def __repr__(self) -> str:  # secrets never end up in logs or tracebacks
        return (f"JanusConfig(ws=:{self.ws_port}, http=:{self.http_port}, admin=:{self.admin_port}, "
                f"bind={self.bind_ip}, rtp={self.rtp_port_range[0]}-{self.rtp_port_range[1]})")

    @property
    def ws_url(self) -> str:
        return f"ws://{self.bind_ip}:{self.ws_port}"

    @property
    def http_url(self) -> str:
        return f"http://{self.bind_ip}:{self.http_port}/janus"

    @property
    def admin_url(self) -> str:
        return f"http://{self.bind_ip}:{self.admin_port}/admin"

    def files(self, config_dir: Path) -> dict[str, str]:
        """File name → contents of the configuration directory."""
        lo, hi = self.rtp_port_range
        if not 0 < lo < hi < 65536:
            raise ValueError(f"bad rtp_port_range {self.rtp_port_range}")
        nat: dict[str, Value] = {"nice_debug": False, "full_trickle": self.full_trickle,
                                 "ice_lite": self.ice_lite, "ignore_mdns": True}
        # Janus uses the ignore list only when no enforce list is given (and warns if both are).
        if self.ice_enforce_list:
            nat["ice_enforce_list"] = self.ice_enforce_list
        else:
            nat["ice_ignore_list"] = self.ice_ignore_list
        if self.nat_1_1_mapping:
            nat["nat_1_1_mapping"] = self.nat_1_1_mapping
        if self.stun_server:
            nat["stun_server"] = self.stun_server
            nat["stun_port"] = self.stun_port
        core: dict[str, dict[str, Value]] = {
            "general": {
                "configs_folder": str(config_dir),
                "plugins_folder": str(self.lib_dir / "plugins"),
                "transports_folder": str(self.lib_dir / "transports"),
                "events_folder": str(self.lib_dir / "events"),
                "loggers_folder": str(self.lib_dir / "loggers"),
                "debug_level": self.debug_level,
                "debug_colors": False,
                "server_name": self.server_name,
                "session_timeout": self.session_timeout,
                "api_secret": self.api_secret,
                "token_auth": False,
                "admin_secret": self.admin_secret,
                "hide_dependencies": True,
                "protected_folders": ["/bin", "/boot", "/dev", "/etc", "/lib", "/proc", "/sbin", "/sys",
                                      "/usr", "/var"],
            },
            "certificates": {},
            "media": {"ipv6": self.ipv6, "rtp_port_range": f"{lo}-{hi}"},
            "nat": nat,
            "plugins": {"disable": ",".join(UNUSED_PLUGINS)},
            "transports": {"disable": ",".join(UNUSED_TRANSPORTS)},
            "loggers": {"disable": ",".join(UNUSED_LOGGERS)},
            "events": {"broadcast": False, "disable": ",".join(UNUSED_EVENTS)},
        }
        for section, items in self.extra.items():
            core.setdefault(section, {}).update(items)
        http: dict[str, dict[str, Value]] = {
            "general": {"json": "plain", "base_path": "/janus", "http": True, "port": self.http_port,
                        "ip": self.bind_ip, "https": False},
            "admin": {"admin_base_path": "/admin", "admin_http": True, "admin_port": self.admin_port,
                      "admin_ip": self.bind_ip, "admin_https": False},
            "cors": {},
        }
        ws: dict[str, dict[str, Value]] = {
            "general": {"json": "plain", "ws": True, "ws_port": self.ws_port, "ws_ip": self.bind_ip,
                        "wss": False, "ws_logging": "err,warn"},
            "admin": {"admin_ws": False, "admin_wss": False},
            "cors": {},
        }
        # admin_key: rooms are created (and RTP forwarders opened) only by whoever holds it, i.e. Concord.
        # lock_rooms would also stop listing rooms without it; Concord creates every room with its own secret.
        videoroom: dict[str, dict[str, Value]] = {"general": {"admin_key": self.admin_key, "lock_rtp_forward": True, "string_ids": True,
                                 "events": False}}
        return {
            "janus.jcfg": render(core),
            "janus.transport.http.jcfg": render(http),
            "janus.transport.websockets.jcfg": render(ws),
            "janus.plugin.videoroom.jcfg": render(videoroom),
        }

    def write(self, config_dir: Path) -> Path:
        """Write the directory (created 0700, files 0600: they hold secrets). Returns it."""
        config_dir = Path(config_dir).resolve()
        config_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(config_dir, 0o700)
        for name, text in self.files(config_dir).items():
            path = config_dir / name
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(text)
        return config_dir
