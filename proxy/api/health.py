"""GET /health: liveness plus a one-glance view of provider circuits."""

from __future__ import annotations

import time

from aiohttp import web

from proxy.appkeys import CIRCUITS, GATEWAY, KEYS, STORE


async def health(request: web.Request) -> web.Response:
    gw = request.app[GATEWAY]
    state = request.app[KEYS].state
    circuits = request.app.get(CIRCUITS)
    return web.json_response(
        {
            "status": "ok",
            "simulated_providers": gw.simulated,
            "simulated": gw.simulated,
            "gateway_keys": gw.gateway_keys,
            "uptime_s": round(time.time() - gw.started_at, 3),
            "models": len(gw.catalog.live_models()),
            "circuits": gw.scorer.circuit_counts(),
            "in_flight": gw.in_flight - 1,  # requests other than this one
            "log": request.app[STORE].status,
            "limits": state.health(),
            # replicas sharing provider health: the peers' latest snapshots (no Redis call here)
            **({"replicas": circuits.peer_view()} if circuits is not None and state.shared else {}),
        }
    )
