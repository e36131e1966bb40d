"""One shared aiohttp ClientSession per upstream origin, each with its own keep-alive pool.

The sessions keep no cookies: one session serves every user of a provider, so a cookie a provider
sets (load balancers do) must never ride along on somebody else's request. They carry no default
headers either; the adapters send the User-Agent with each request (see `proxy.catalog.USER_AGENT`), which spares
aiohttp a merge of session headers into every request's.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import aiohttp


class UpstreamPool:
    def __init__(self, connections_per_host: int = 0, keepalive_s: float = 60.0) -> None:
        self._sessions: dict[str, aiohttp.ClientSession] = {}
        self._by_url: dict[str, aiohttp.ClientSession] = {}  # base URL -> its origin's session (no urlsplit per call)
        self._connections_per_host = connections_per_host
        self._keepalive_s = keepalive_s

    def session_for(self, url: str) -> aiohttp.ClientSession:
        session = self._by_url.get(url)
        if session is not None and not session.closed:
            return session
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        session = self._sessions.get(origin)
        if session is None or session.closed:
            connector = aiohttp.TCPConnector(
                limit=0,
                limit_per_host=self._connections_per_host,
                keepalive_timeout=self._keepalive_s,
                ttl_dns_cache=300,
            )
            session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=None),
                auto_decompress=True,
                cookie_jar=aiohttp.DummyCookieJar(),
            )
            self._sessions[origin] = session
        if len(self._by_url) < 1024:  # base URLs come from the config: a handful
            self._by_url[url] = session
        return session

    def open_connections(self) -> int:
        total = 0
        for session in self._sessions.values():
            connector = session.connector
            if connector is not None:
                total += sum(len(v) for v in getattr(connector, "_conns", {}).values())
                total += len(getattr(connector, "_acquired", ()))
        return total

    async def close(self) -> None:
        for session in self._sessions.values():
            await session.close()
        self._sessions.clear()
        self._by_url.clear()
