"""Prometheus text metrics, including event-loop lag (overload shows as latency, not drops)."""

from __future__ import annotations

import asyncio
import hmac
import resource
import time
from collections import defaultdict
from collections.abc import Callable, Iterable

from aiohttp import web

from server import __version__
from server.services import services

# One labelled sample of a collector: (metric name, help text, labels, value).
Sample = tuple[str, str, dict[str, str], float]


class Metrics:
    def __init__(self) -> None:
        self.counters: dict[tuple[str, tuple[tuple[str, str], ...]], float] = defaultdict(float)
        self.gauges: dict[str, Callable[[], float]] = {}
        self.help: dict[str, str] = {}
        self.collectors: list[Callable[[], Iterable[Sample]]] = []
        self.loop_lag_s = 0.0
        self.loop_lag_max_s = 0.0
        self.started = time.time()

    def inc(self, name: str, value: float = 1.0, **labels: str) -> None:
        self.counters[(name, tuple(sorted(labels.items())))] += value

    def gauge(self, name: str, fn: Callable[[], float], help: str = "") -> None:
        self.gauges[name] = fn
        self.help[name] = help

    def collect(self, fn: Callable[[], Iterable[Sample]]) -> None:
        """Labelled gauges read at each scrape (e.g. per Janus instance: server.sfu.load.LoadBoard.samples).
        Labels must never carry a secret: the SFU's are ``instance="host:port"``."""
        self.collectors.append(fn)

    async def watch_loop(self, interval: float = 0.5) -> None:
        while True:
            t0 = time.perf_counter()
            await asyncio.sleep(interval)
            lag = max(0.0, time.perf_counter() - t0 - interval)
            self.loop_lag_s = lag
            self.loop_lag_max_s = max(self.loop_lag_max_s * 0.99, lag)

    def render(self) -> str:
        lines: list[str] = []
        by_name: dict[str, list[str]] = defaultdict(list)
        for (name, labels), v in sorted(self.counters.items()):
            lab = ",".join(f'{k}="{_esc(val)}"' for k, val in labels)
            by_name[name].append(f"{name}{{{lab}}} {v:g}" if lab else f"{name} {v:g}")
        for name, rows in by_name.items():
            lines.append(f"# TYPE {name} counter")
            lines.extend(rows)
        rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        builtin = {
            "concord_event_loop_lag_seconds": self.loop_lag_s,
            "concord_event_loop_lag_max_seconds": self.loop_lag_max_s,
            "concord_uptime_seconds": time.time() - self.started,
            "concord_peak_rss_bytes": rss_kb * 1024,
        }
        for name, v in builtin.items():
            lines.append(f"# TYPE {name} gauge")
            lines.append(f"{name} {v:g}")
        for name, fn in self.gauges.items():
            if self.help.get(name):
                lines.append(f"# HELP {name} {self.help[name]}")
            lines.append(f"# TYPE {name} gauge")
            lines.append(f"{name} {fn():g}")
        grouped: dict[str, tuple[str, list[str]]] = {}
        for collector in self.collectors:
            for name, help_text, sample_labels, value in collector():
                lab = ",".join(f'{k}="{_esc(v)}"' for k, v in sorted(sample_labels.items()))
                grouped.setdefault(name, (help_text, []))[1].append(
                    f"{name}{{{lab}}} {value:g}" if lab else f"{name} {value:g}")
        for name, (help_text, rows) in grouped.items():
            if help_text:
                lines.append(f"# HELP {name} {help_text}")
            lines.append(f"# TYPE {name} gauge")
            lines.extend(rows)
        return "\n".join(lines) + "\n"


def _esc(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@web.middleware
async def count_requests(request: web.Request, handler):  # type: ignore[no-untyped-def]
    resp = await handler(request)
    route = request.match_info.route.resource.canonical if request.match_info.route.resource else "unmatched"
    services(request).metrics.inc("concord_http_requests_total", method=request.method, route=route,
                               status=str(resp.status))
    return resp


async def healthz(request: web.Request) -> web.Response:
    db = services(request).db
    try:
        await db.ping()
    except Exception as e:  # the database is down: say so, do not crash
        return web.json_response({"status": "error", "database": db.backend, "detail": type(e).__name__},
                                 status=503)

    return web.json_response({"status": "ok", "version": __version__, "database": db.backend,
                              "bus": services(request).bus_name})


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text, for a scraper holding CONCORD_METRICS_TOKEN; without that setting, refused."""
    token = services(request).config.metrics_token
    if not token:
        return web.Response(status=403, text="metrics are off: set CONCORD_METRICS_TOKEN and scrape with "
                                             "Authorization: Bearer <token>\n", content_type="text/plain")
    sent = request.headers.get("Authorization", "")
    if not (sent.startswith("Bearer ") and hmac.compare_digest(sent[7:].strip().encode(), token.encode())):
        return web.Response(status=401, text="metrics need Authorization: Bearer <CONCORD_METRICS_TOKEN>\n",
                            content_type="text/plain", headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    return web.Response(text=services(request).metrics.render(), content_type="text/plain", charset="utf-8",
                        headers={"X-Content-Type-Options": "nosniff"})
