"""Which providers are live, and whether the gateway serves simulated ones instead.

Simulation is only ever a choice made when it is safe: `simulate: auto` simulates only when no provider
key at all is in the environment, and `simulate: never` with no live provider refuses to start.
"""

from __future__ import annotations

from collections.abc import Mapping

from proxy.catalog import Upstream
from proxy.config import ConfigError, Settings


def keyed_upstreams(settings: Settings, environ: Mapping[str, str]) -> dict[str, Upstream]:
    """Providers whose API key is in the environment, or that need none."""
    out: dict[str, Upstream] = {}
    for slug, provider in settings.providers.items():
        # several keys (`api_keys`, used in turn by proxy.upstream.keys): live when any is set
        ring = [environ[k.env] for k in provider.api_keys if environ.get(k.env)]
        if ring:
            out[slug] = Upstream(provider.base_url, ring[0])
        elif provider.api_key_env is None and not provider.api_keys:
            out[slug] = Upstream(provider.base_url, None)
        elif provider.api_key_env and environ.get(provider.api_key_env):
            out[slug] = Upstream(provider.base_url, environ[provider.api_key_env])
    return out


def should_simulate(settings: Settings, upstreams: Mapping[str, Upstream]) -> bool:
    """`always`; or `auto` with no provider key at all in the environment. `never` with no live
    provider is a configuration error that names the variables to set."""
    keyed = [slug for slug in upstreams if settings.providers[slug].api_key_env or settings.providers[slug].api_keys]
    if settings.simulate == "always":
        return True
    if settings.simulate == "auto":
        return not keyed
    if not upstreams:
        wanted = sorted({p.api_key_env for p in settings.providers.values() if p.api_key_env}
                        | {k.env for p in settings.providers.values() for k in p.api_keys})
        raise ConfigError(f"simulate: never, but no provider is live: set at least one of {', '.join(wanted)} "
                          "(or set simulate: auto to serve simulated providers).")
    return False


def startup_line(simulated: bool, upstreams: Mapping[str, Upstream], keys_on: bool) -> str:
    keys = "gateway API keys ON" if keys_on else "gateway API keys OFF (anyone who can reach this port can use it)"
    if simulated:
        return (f"switchyard: SIMULATING: no provider API key is set, answers come from {len(upstreams)} built-in "
                f"simulated providers and carry x-switchyard-simulated: true; {keys}.")
    return f"switchyard: serving {len(upstreams)} live provider(s) ({', '.join(upstreams)}); {keys}."
