"""The Janus config writer and the Janus settings in Config (no Janus needed)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from server.config import Config, ConfigError, parse_janus_urls
from server.sfu.jcfg import JanusConfig, render


def _cfg(**kw) -> JanusConfig:  # type: ignore[no-untyped-def]
    return JanusConfig(api_secret="API-S3CRET", admin_secret="ADMIN-S3CRET", admin_key="KEY-S3CRET",
                       ws_port=18188, http_port=18088, admin_port=17088, **kw)


def test_render_libconfig() -> None:
    text = render({"general": {"a": "x \"q\"", "b": 3, "c": True, "d": ["/bin", "/usr"]}, "empty": {}})
    assert text == 'general: {\n\ta = "x \\"q\\""\n\tb = 3\n\tc = true\n\td = ["/bin", "/usr"]\n}\n\nempty: {\n}\n'


def test_config_directory(tmp_path: Path) -> None:
    cfg = _cfg(ice_enforce_list="10.99.0.1", nat_1_1_mapping="203.0.113.7", rtp_port_range=(30000, 30099),
               extra={"media": {"dtls_mtu": 1200}})
    d = cfg.write(tmp_path / "janus")
    assert stat.S_IMODE(d.stat().st_mode) == 0o700
    names = sorted(p.name for p in d.iterdir())
    assert names == ["janus.jcfg", "janus.plugin.videoroom.jcfg", "janus.transport.http.jcfg",
                     "janus.transport.websockets.jcfg"]
    for p in d.iterdir():
        assert stat.S_IMODE(p.stat().st_mode) == 0o600
    core = (d / "janus.jcfg").read_text()
    assert 'api_secret = "API-S3CRET"' in core and "token_auth = false" in core
    assert 'admin_secret = "ADMIN-S3CRET"' in core
    assert 'rtp_port_range = "30000-30099"' in core and "dtls_mtu = 1200" in core
    assert 'ice_enforce_list = "10.99.0.1"' in core and "ice_ignore_list" not in core
    assert 'nat_1_1_mapping = "203.0.113.7"' in core
    assert f'configs_folder = "{d}"' in core
    assert "libjanus_streaming.so" in core  # unused plugins are not loaded
    http = (d / "janus.transport.http.jcfg").read_text()
    assert 'ip = "127.0.0.1"' in http and 'admin_ip = "127.0.0.1"' in http and "port = 18088" in http
    ws = (d / "janus.transport.websockets.jcfg").read_text()
    assert 'ws_ip = "127.0.0.1"' in ws and "ws_port = 18188" in ws and "admin_ws = false" in ws
    vr = (d / "janus.plugin.videoroom.jcfg").read_text()
    assert 'admin_key = "KEY-S3CRET"' in vr and "lock_rtp_forward = true" in vr and "string_ids = true" in vr
    assert "room-" not in vr  # no static rooms: Concord creates each one with its own secret
    # Secrets never show in a repr (logs, tracebacks).
    assert "S3CRET" not in repr(cfg)
    assert cfg.ws_url == "ws://127.0.0.1:18188" and cfg.admin_url == "http://127.0.0.1:17088/admin"


def test_bad_port_range(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        _cfg(rtp_port_range=(40000, 30000)).write(tmp_path)


def test_janus_urls_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert parse_janus_urls("") == ()
    assert parse_janus_urls("ws://10.0.0.5:8188/, wss://janus-b.example:443/ws  ws://h:1") == (
        "ws://10.0.0.5:8188", "wss://janus-b.example:443/ws", "ws://h:1")
    for bad in ("http://h:8088/janus", "janus:8188", "ws://", "ws://a ws://a"):
        with pytest.raises(ConfigError):
            parse_janus_urls(bad)
    monkeypatch.setenv("CONCORD_SECRET_KEY", "k")
    for name in ("CONCORD_JANUS_URL", "CONCORD_JANUS_API_SECRET", "CONCORD_JANUS_ADMIN_KEY",
                 "CONCORD_JANUS_ADMIN_SECRET"):
        monkeypatch.delenv(name, raising=False)
    c = Config.load(tmp_path)
    assert c.janus_urls == () and c.janus_api_secret is None  # mesh only
    monkeypatch.setenv("CONCORD_JANUS_URL", "ws://127.0.0.1:8188")
    with pytest.raises(ConfigError, match="CONCORD_JANUS_API_SECRET"):
        Config.load(tmp_path)
    monkeypatch.setenv("CONCORD_JANUS_API_SECRET", "api-secret-value")
    monkeypatch.setenv("CONCORD_JANUS_ADMIN_KEY", "admin-key-value")
    c = Config.load(tmp_path)
    assert c.janus_urls == ("ws://127.0.0.1:8188",)
    assert c.janus_api_secret == "api-secret-value" and c.janus_admin_key == "admin-key-value"
    assert "api-secret-value" not in repr(c) and "admin-key-value" not in repr(c)
