"""Runtime configuration from flags and environment variables (docs/api.md "Stable names", docs/operations.md)."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from server.publicurl import parse_public_url
from server.security.clientip import parse_networks

ROOT = Path(__file__).resolve().parent.parent
# A source checkout: web/ and recordings/ sit beside server/. An installed wheel carries web/ as the
# package server.web instead, and ROOT is site-packages, which is no place for recordings.
SOURCE_TREE = (ROOT / "pyproject.toml").is_file() and (ROOT / "web").is_dir()


def default_web_dir() -> Path:
    """CONCORD_WEB_DIR, else the source tree's web/, else the templates and static files in the wheel."""
    env = os.environ.get("CONCORD_WEB_DIR")
    if env:
        return Path(env)
    if SOURCE_TREE:
        return ROOT / "web"
    return Path(str(resources.files("server") / "web"))


def default_recordings_dir() -> Path:
    return ROOT / "recordings" if SOURCE_TREE else Path("recordings")


def missing_web_files(web_dir: Path) -> list[str]:
    """What `concord serve` cannot run without: the page templates and the static files."""
    needed = [web_dir / "templates" / "base.html", web_dir / "templates" / "login.html",
              web_dir / "static" / "css" / "concord.css", web_dir / "static" / "js" / "concord.js"]
    return [str(p) for p in needed if not p.is_file()]


class ConfigError(ValueError):
    pass


def _load_secret(data_dir: Path) -> bytes:
    env = os.environ.get("CONCORD_SECRET_KEY")
    if env:
        return env.encode()
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip().encode()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # Create with 0600 from the start so the key is never world-readable, even briefly.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key)
    return key.encode()


def _ice_servers() -> list[dict]:
    raw = os.environ.get("CONCORD_ICE_SERVERS")
    if not raw:
        return []
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as e:
        raise ConfigError(f"CONCORD_ICE_SERVERS is not valid JSON: {e}") from e
    if not isinstance(value, list) or not all(isinstance(s, dict) and "urls" in s for s in value):
        raise ConfigError('CONCORD_ICE_SERVERS must be a JSON list of {"urls": ...} objects')
    return value


def _seconds(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError as e:
        raise ConfigError(f"{name} must be a number of seconds, not {raw!r}") from e
    if not 0 < value <= 30 * 86400:
        raise ConfigError(f"{name} must be between 0 and 30 days in seconds")
    return value


def _trusted_proxies() -> tuple:
    try:
        return parse_networks(os.environ.get("CONCORD_TRUSTED_PROXIES", ""))
    except ValueError as e:
        raise ConfigError(f"CONCORD_TRUSTED_PROXIES: {e}") from e


def _public_url() -> str | None:
    try:
        return parse_public_url(os.environ.get("CONCORD_PUBLIC_URL"))
    except ValueError as e:
        raise ConfigError(f"CONCORD_PUBLIC_URL {e}") from e


def parse_janus_urls(raw: str) -> tuple[str, ...]:
    """CONCORD_JANUS_URL: one or more Janus WebSocket API URLs, separated by commas or whitespace."""
    urls = tuple(u.rstrip("/") for u in raw.replace(",", " ").split())
    for u in urls:
        if not (u.startswith("ws://") or u.startswith("wss://")) or len(u.split("://", 1)[1]) == 0:
            raise ConfigError(f"CONCORD_JANUS_URL: {u!r} is not a ws:// or wss:// URL")
    if len(set(urls)) != len(urls):
        raise ConfigError("CONCORD_JANUS_URL lists the same instance twice")
    return urls


def parse_janus_admin_urls(raw: str, janus_urls: tuple[str, ...]) -> tuple[str, ...]:
    """CONCORD_JANUS_ADMIN_URL: each instance's Admin API (http(s)://host:port/admin), in the order of
    CONCORD_JANUS_URL; empty means no load polling (placement then counts rooms only)."""
    urls = tuple(u.rstrip("/") for u in raw.replace(",", " ").split())
    for u in urls:
        if not (u.startswith("http://") or u.startswith("https://")) or len(u.split("://", 1)[1]) == 0:
            raise ConfigError(f"CONCORD_JANUS_ADMIN_URL: {u!r} is not an http:// or https:// URL")
    if urls and len(urls) != len(janus_urls):
        raise ConfigError("CONCORD_JANUS_ADMIN_URL needs one Admin API URL per CONCORD_JANUS_URL, in the same order")
    return urls


def _janus() -> dict:
    urls = parse_janus_urls(os.environ.get("CONCORD_JANUS_URL", ""))
    api_secret = os.environ.get("CONCORD_JANUS_API_SECRET") or None
    admin_key = os.environ.get("CONCORD_JANUS_ADMIN_KEY") or None
    if urls and not (api_secret and admin_key):
        # Concord never drives an open Janus: without the secret anyone on the network could use it.
        raise ConfigError("CONCORD_JANUS_URL needs CONCORD_JANUS_API_SECRET and CONCORD_JANUS_ADMIN_KEY")
    admin_urls = parse_janus_admin_urls(os.environ.get("CONCORD_JANUS_ADMIN_URL", ""), urls)
    admin_secret = os.environ.get("CONCORD_JANUS_ADMIN_SECRET") or None
    if admin_urls and not admin_secret:
        raise ConfigError("CONCORD_JANUS_ADMIN_URL needs CONCORD_JANUS_ADMIN_SECRET")
    return {"janus_urls": urls, "janus_api_secret": api_secret, "janus_admin_key": admin_key,
            "janus_admin_secret": admin_secret, "janus_admin_urls": admin_urls,
            "janus_poll_s": _seconds("CONCORD_JANUS_POLL_S", 10.0), "sfu_instance_peers": _instance_peers()}


def _instance_peers() -> int:
    raw = os.environ.get("CONCORD_SFU_INSTANCE_PEERS", "").strip()
    if not raw:
        return 250
    try:
        n = int(raw)
    except ValueError:
        raise ConfigError(f"CONCORD_SFU_INSTANCE_PEERS must be a whole number of people, not {raw!r}") from None
    if n < 1:
        raise ConfigError("CONCORD_SFU_INSTANCE_PEERS must be at least 1")
    return n


def _mesh_limit() -> int:
    raw = os.environ.get("CONCORD_MESH_LIMIT", "").strip()
    if not raw:
        return 4
    try:
        n = int(raw)
    except ValueError:
        raise ConfigError(f"CONCORD_MESH_LIMIT must be a whole number of people, not {raw!r}") from None
    if not 2 <= n <= 50:
        raise ConfigError("CONCORD_MESH_LIMIT must be between 2 and 50")
    return n


@dataclass
class Config:
    data_dir: Path
    database_url: str
    secret_key: bytes
    redis_url: str | None = None
    # Namespace of every Redis key (room logs, node mail, liveness, attempt counters).
    redis_prefix: str = "concord"
    recordings_dir: Path = field(default_factory=default_recordings_dir)
    ice_servers: list[dict] = field(default_factory=list)
    turn_secret: str | None = None
    web_dir: Path = field(default_factory=default_web_dir)
    host: str = "127.0.0.1"
    port: int = 8080
    # Background schedulers (overdue checks, ...) can be disabled in tests.
    schedulers: bool = True
    # Reverse proxies whose X-Forwarded-For/-Proto/-Host and Forwarded are believed (CONCORD_TRUSTED_PROXIES,
    # comma-separated); server/security/clientip.py.
    trusted_proxies: tuple = ()
    # Rooms: a dropped participant's place is kept this long (CONCORD_ROOM_GRACE_S); a live session that
    # everybody has left ends after CONCORD_ROOM_IDLE_END_S (docs/protocol.md, "Drops and ending").
    room_grace_s: float = 60.0
    room_idle_end_s: float = 7200.0
    # GET /metrics answers only with "Authorization: Bearer <this>" (CONCORD_METRICS_TOKEN); unset, it is
    # refused (403), so the app port never hands out its counters (docs/operations.md, "Monitoring").
    metrics_token: str | None = None
    # The address residents and courts open (CONCORD_PUBLIC_URL, e.g. https://tiaojie.example.gov.cn): the only
    # source of absolute URLs in documents, QR codes and messages (server/publicurl.py). Unset: a warning at
    # start, and documents say "未配置公开地址" instead of trusting a request's Host header.
    public_url: str | None = None
    # The SFU backend (docs/sfu.md): Janus WebSocket API URLs (CONCORD_JANUS_URL, a list); empty means
    # mesh only. The secrets stay on the server: never sent to browsers, never logged, not in repr().
    janus_urls: tuple[str, ...] = ()
    janus_api_secret: str | None = field(default=None, repr=False)
    janus_admin_key: str | None = field(default=None, repr=False)
    janus_admin_secret: str | None = field(default=None, repr=False)
    # Each instance's Admin API, for its load (CONCORD_JANUS_ADMIN_URL, same order; server/sfu/load.py).
    janus_admin_urls: tuple[str, ...] = ()
    # Seconds between two load polls of each instance (CONCORD_JANUS_POLL_S); two failed polls in a row
    # count as a failed health check (the instance's rooms move: docs/scaling.md, "Failover").
    janus_poll_s: float = 10.0
    # People of one SFU room per Janus instance before later ones go to another instance, the room's
    # feeds cascaded between them (CONCORD_SFU_INSTANCE_PEERS, docs/scaling.md).
    sfu_instance_peers: int = 250
    # A mesh room with more admitted people than this moves to the SFU in place (CONCORD_MESH_LIMIT, when
    # a Janus is configured; docs/sfu.md).
    mesh_limit: int = 4

    @classmethod
    def load(cls, data_dir: str | Path | None = None, host: str = "127.0.0.1", port: int = 8080) -> Config:
        d = Path(data_dir or "data").resolve()
        d.mkdir(parents=True, exist_ok=True)
        url = os.environ.get("CONCORD_DATABASE_URL") or f"sqlite+aiosqlite:///{d / 'concord.db'}"
        url = normalise_db_url(url)
        rec = Path(os.environ.get("CONCORD_RECORDINGS_DIR") or default_recordings_dir()).resolve()
        return cls(
            data_dir=d,
            database_url=url,
            secret_key=_load_secret(d),
            redis_url=os.environ.get("CONCORD_REDIS_URL") or None,
            redis_prefix=os.environ.get("CONCORD_REDIS_PREFIX") or "concord",
            recordings_dir=rec,
            ice_servers=_ice_servers(),
            turn_secret=os.environ.get("CONCORD_TURN_SECRET") or None,
            web_dir=default_web_dir(),
            host=host,
            port=port,
            trusted_proxies=_trusted_proxies(),
            room_grace_s=_seconds("CONCORD_ROOM_GRACE_S", 60.0),
            room_idle_end_s=_seconds("CONCORD_ROOM_IDLE_END_S", 7200.0),
            metrics_token=os.environ.get("CONCORD_METRICS_TOKEN") or None,
            public_url=_public_url(),
            mesh_limit=_mesh_limit(),
            **_janus(),
        )


def normalise_db_url(url: str) -> str:
    """Accept plain postgresql:// and sqlite:// URLs and pick the async drivers."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url[len("sqlite:///"):]
    return url


def redact_url(url: str) -> str:
    """Hide any password in a URL before it is logged."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in creds else f"{scheme}://{user}@{host}"
