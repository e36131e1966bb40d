"""`switchyard keys create|list|revoke`: the keys API from a terminal, over HTTP (stdlib only).

The admin key comes from `--admin-key` or SWITCHYARD_ADMIN_KEY; it is sent, never printed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from typing import Any, TextIO

ADMIN_KEY_ENV = "SWITCHYARD_ADMIN_KEY"
COLUMNS = ("id", "name", "revoked", "budget_usd", "budget_period", "spend_usd", "rpm", "tpm", "max_parallel", "models")


class CliError(Exception):
    """What went wrong, already phrased for the terminal."""


def add_keys_parser(sub: Any) -> None:
    keys = sub.add_parser("keys", help="issue, list and revoke virtual keys on a running gateway")
    ops = keys.add_subparsers(dest="op", required=True)
    for name, help_text in (("create", "issue a key (prints its secret once)"), ("list", "list keys"),
                            ("revoke", "revoke a key on every replica")):
        op = ops.add_parser(name, help=help_text)
        op.add_argument("--url", default="http://127.0.0.1:8080", help="the gateway (default http://127.0.0.1:8080)")
        op.add_argument("--admin-key", help=f"an admin key (or {ADMIN_KEY_ENV})")
        op.add_argument("--json", action="store_true", help="print the API's JSON")
        if name == "create":
            op.add_argument("--name", required=True)
            op.add_argument("--budget-usd", type=float)
            op.add_argument("--budget-period", choices=("day", "week", "month"))
            op.add_argument("--rpm", type=int)
            op.add_argument("--tpm", type=int)
            op.add_argument("--max-parallel", type=int)
            op.add_argument("--model", action="append", dest="models", help="allowed model or pattern (repeatable)")
            op.add_argument("--expires-at", help="RFC 3339 time")
            op.add_argument("--cache", choices=("on", "off"),
                            help="the key's answer cache, unless a request says otherwise (default: the config's)")
            op.add_argument("--cache-ttl-s", type=float, help="with --cache on: how long entries live (default: the config's)")
        if name == "revoke":
            op.add_argument("id")


def call(url: str, admin_key: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url.rstrip("/") + path, data=data, method=method, headers={
        "Authorization": f"Bearer {admin_key}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read())["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = exc.reason
        raise CliError(f"{method} {path}: HTTP {exc.code}: {message}") from None
    except urllib.error.URLError as exc:
        raise CliError(f"cannot reach the gateway at {url}: {exc.reason}") from None


def run_keys(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    admin_key = args.admin_key or os.environ.get(ADMIN_KEY_ENV)
    if not admin_key:
        print(f"switchyard keys: an admin key is needed: --admin-key or {ADMIN_KEY_ENV}", file=sys.stderr)
        return 2
    try:
        if args.op == "create":
            body = {k: v for k, v in (("name", args.name), ("budget_usd", args.budget_usd),
                                      ("budget_period", args.budget_period), ("rpm", args.rpm), ("tpm", args.tpm),
                                      ("max_parallel", args.max_parallel), ("models", args.models),
                                      ("expires_at", args.expires_at)) if v is not None}
            cache, ttl = getattr(args, "cache", None), getattr(args, "cache_ttl_s", None)
            if cache is not None:
                body["cache"] = {"enabled": cache == "on", **({"ttl_s": ttl} if ttl is not None else {})}
            result = call(args.url, admin_key, "POST", "/v1/keys", body)
            if args.json:
                print(json.dumps(result, indent=2), file=out)
            else:
                print(f"created {result['id']} ({result['name']})\nsecret (shown once): {result['key']}", file=out)
        elif args.op == "list":
            result = call(args.url, admin_key, "GET", "/v1/keys")
            if args.json:
                print(json.dumps(result, indent=2), file=out)
            else:
                print("\t".join(COLUMNS), file=out)
                for key in result["data"]:
                    print("\t".join("-" if key[c] is None else ",".join(key[c]) if isinstance(key[c], list)
                                    else str(key[c]) for c in COLUMNS), file=out)
        else:
            result = call(args.url, admin_key, "DELETE", f"/v1/keys/{args.id}")
            print(json.dumps(result, indent=2) if args.json else f"revoked {result['id']} ({result['name']})", file=out)
    except CliError as exc:
        print(f"switchyard keys: {exc}", file=sys.stderr)
        return 1
    return 0
