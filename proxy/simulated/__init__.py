"""Simulated upstream providers: mock servers that speak each provider's real wire format.

They back `switchyard serve` when no provider API key is set, and the tests and benchmarks in
`bench/` (which import them from here so the installed gateway can use them too).
"""
