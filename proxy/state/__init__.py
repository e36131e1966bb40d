"""Live state that replicas share through Redis: rate limits, budgets, revocations, provider health.

`rules` holds the limiter's rules as pure functions; `local` and `redis_limits` apply them in-process
and atomically in Redis; `reference` is the plainly-correct oracle the property tests compare with.
"""
