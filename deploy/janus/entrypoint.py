"""Write Janus's configuration from the environment (server/sfu/jcfg.py) and exec janus on it.

Environment (docs/operations.md, "SFU (Janus)"):
  JANUS_API_SECRET, JANUS_ADMIN_SECRET, JANUS_ADMIN_KEY   required; the same values as Concord's
      CONCORD_JANUS_API_SECRET, CONCORD_JANUS_ADMIN_SECRET, CONCORD_JANUS_ADMIN_KEY
  JANUS_API_IP           address the WebSocket, HTTP and Admin APIs listen on (only Concord reaches it)
  JANUS_WS_PORT / JANUS_HTTP_PORT / JANUS_ADMIN_PORT   8188 / 8088 / 7088
  JANUS_RTP_PORT_RANGE   media (ICE/DTLS/SRTP) ports, e.g. 20000-40000; open them to browsers
  JANUS_NAT_1_1_MAPPING  the public address to advertise when the host is behind 1:1 NAT (cloud, DMZ)
  JANUS_ICE_ENFORCE_LIST interfaces/addresses to gather ICE candidates on (e.g. eth0); unset: all but
                         docker's bridges and veths
  JANUS_STUN_SERVER      host:port of a STUN server, to learn the public address without a mapping
  JANUS_CONFIG_DIR       where to write the files (a tmpfs; default /run/janus)
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

# In the image jcfg.py sits beside this file; in a checkout it is server/sfu/jcfg.py.
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE if (HERE / "jcfg.py").exists() else HERE.parents[1] / "server" / "sfu"))

from jcfg import JanusConfig  # noqa: E402


def need(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        sys.exit(f"{name} must be set (Concord never runs an open Janus)")
    return value


def main() -> None:
    lo, hi = (int(x) for x in os.environ.get("JANUS_RTP_PORT_RANGE", "20000-40000").split("-", 1))
    arch = {"x86_64": "x86_64-linux-gnu", "aarch64": "aarch64-linux-gnu"}.get(platform.machine(),
                                                                             "x86_64-linux-gnu")
    stun = os.environ.get("JANUS_STUN_SERVER") or None
    stun_host, _, stun_port = (stun or "").partition(":")
    cfg = JanusConfig(
        api_secret=need("JANUS_API_SECRET"), admin_secret=need("JANUS_ADMIN_SECRET"),
        admin_key=need("JANUS_ADMIN_KEY"),
        ws_port=int(os.environ.get("JANUS_WS_PORT", "8188")),
        http_port=int(os.environ.get("JANUS_HTTP_PORT", "8088")),
        admin_port=int(os.environ.get("JANUS_ADMIN_PORT", "7088")),
        bind_ip=os.environ.get("JANUS_API_IP", "127.0.0.1"),
        rtp_port_range=(lo, hi),
        ice_enforce_list=os.environ.get("JANUS_ICE_ENFORCE_LIST") or None,
        # On the host network Janus also sees docker's bridges; their addresses are useless to browsers.
        ice_ignore_list="vmnet,docker,br-,veth",
        nat_1_1_mapping=os.environ.get("JANUS_NAT_1_1_MAPPING") or None,
        stun_server=stun_host or None, stun_port=int(stun_port or 3478),
        lib_dir=Path(f"/usr/lib/{arch}/janus"),
    )
    out = cfg.write(Path(os.environ.get("JANUS_CONFIG_DIR", "/run/janus")))
    print(f"janus config written for {cfg!r}", flush=True)  # repr carries no secret
    os.execvp("janus", ["janus", "-F", str(out), "-o", "-D"])


if __name__ == "__main__":
    main()
