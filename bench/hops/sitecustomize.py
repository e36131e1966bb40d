"""Hop timestamps inside a proxy process, for bench.profile_c1 --hops (on sys.path only when it asks).

Python imports `sitecustomize` at start-up. With BENCH_HOPS_OUT set, this wraps four aiohttp methods
that every aiohttp proxy goes through (the bare forwarder and Switchyard alike), records when bytes
come in from the client, go out to the upstream, come back and go out to the client, and at exit
writes bench.hop_report's per-request summary to BENCH_HOPS_OUT. Unset, it does nothing.
"""

from __future__ import annotations

import os

if os.environ.get("BENCH_HOPS_OUT"):
    import atexit
    import time
    from typing import Any

    from aiohttp import client_proto, http_writer, web_protocol

    EVENTS: list[tuple[int, str, bool]] = []  # (ns, hop, carries content)
    CONTENT, EMPTY = b'"content":"', b'"content":""'

    def has_content(data: Any) -> bool:
        raw = bytes(data)
        return CONTENT in raw and raw.count(CONTENT) > raw.count(EMPTY)

    def wrap_in(cls: Any, hop: str) -> None:
        original = cls.data_received

        def data_received(self: Any, data: bytes) -> None:
            EVENTS.append((time.perf_counter_ns(), hop, has_content(data)))
            original(self, data)

        cls.data_received = data_received

    def wrap_out(name: str) -> None:
        original = getattr(http_writer.StreamWriter, name)

        def write(self: Any, data: Any) -> None:
            upstream = isinstance(self._protocol, client_proto.ResponseHandler)
            chunks = [data] if name == "_write" else list(data)
            EVENTS.append((time.perf_counter_ns(), "up_out" if upstream else "out", any(has_content(c) for c in chunks)))
            original(self, data if name == "_write" else chunks)

        setattr(http_writer.StreamWriter, name, write)

    def wrap_mark(target: str) -> None:
        """`module:Qualified.name` records its entry and exit (a coroutine's, when it is one)."""
        import functools
        import importlib
        import inspect
        import sys

        module_name, _, qualname = target.partition(":")
        owner: Any = importlib.import_module(module_name)
        *parents, name = qualname.split(".")
        for part in parents:
            owner = getattr(owner, part)
        original = getattr(owner, name)
        label = qualname.rsplit(".", 1)[-1] if not parents else qualname

        if inspect.iscoroutinefunction(original):
            @functools.wraps(original)
            async def marked(*args: Any, **kwargs: Any) -> Any:
                EVENTS.append((time.perf_counter_ns(), f"enter {label}", False))
                try:
                    return await original(*args, **kwargs)
                finally:
                    EVENTS.append((time.perf_counter_ns(), f"exit {label}", False))
        else:
            @functools.wraps(original)
            def marked(*args: Any, **kwargs: Any) -> Any:
                EVENTS.append((time.perf_counter_ns(), f"enter {label}", False))
                try:
                    return original(*args, **kwargs)
                finally:
                    EVENTS.append((time.perf_counter_ns(), f"exit {label}", False))

        setattr(owner, name, marked)
        for module in list(sys.modules.values()):  # names bound by `from module import name` before now
            for attr, value in list(vars(module).items()):
                if value is original:
                    setattr(module, attr, marked)

    for mark in filter(None, os.environ.get("BENCH_HOPS_MARKS", "").split(",")):
        try:
            wrap_mark(mark)
        except (ImportError, AttributeError, TypeError) as exc:  # TypeError: a C type cannot be patched
            print(f"bench hops: no mark {mark}: {exc}", file=__import__("sys").stderr)

    wrap_in(web_protocol.RequestHandler, "in")
    wrap_in(client_proto.ResponseHandler, "up_in")
    wrap_out("_write")
    wrap_out("_writelines")

    def dump() -> None:
        import importlib.util
        import json
        from pathlib import Path

        # by path: the process may run from another tree whose own `bench` package has no hop_report
        spec = importlib.util.spec_from_file_location("bench_hop_report", Path(__file__).parent.parent / "hop_report.py")
        assert spec is not None and spec.loader is not None
        report = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(report)
        with open(os.environ["BENCH_HOPS_OUT"], "w") as f:
            json.dump(report.summarise_hops(EVENTS), f)

    atexit.register(dump)
