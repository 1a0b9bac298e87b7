"""``python -m simulator --router URL --users N --seed S --events PATH [--effect E]
[--population-seed P]``.

Run from example-model/serving with ../src on PYTHONPATH (the pipeline's generators).
Prints a JSON summary (per variant: users, impressions, clicks, observed and true CTR,
mean session length) to stdout; exits 1 when any request failed or the deadline hit.
The router must be on this machine: a simulator is load, and load stays on loopback.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import sys
import time
from urllib.parse import urlsplit

import httpx2

from simulator.run import SimulationConfig, simulate, write_events


def is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def wait_ready(client: httpx2.Client, seconds: float) -> bool:
    """Poll ``/readyz`` so a model still loading does not turn the first users into 502s."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if client.get("/readyz").status_code == 200:
                return True
        except httpx2.HTTPError:
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


def parse_shift(parser: argparse.ArgumentParser, items: list[str]) -> dict[str, float]:
    shift = {}
    for item in items:
        name, sep, factor = item.partition("=")
        try:
            shift[name] = float(factor) if sep and name else float("nan")
        except ValueError:
            shift[name] = float("nan")
        if not shift[name] > 0:
            parser.error(f"--shift: expected FEATURE=FACTOR with a positive factor, got {item!r}")
    return shift


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m simulator", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--router", required=True, help="router base URL (loopback only)")
    parser.add_argument("--users", type=int, required=True)
    parser.add_argument("--seed", type=int, default=7, help="traffic seed (sessions, draws)")
    parser.add_argument("--population-seed", type=int, default=None,
                        help="users' and items' seed (default: --seed); another --seed over "
                             "the same population is traffic that does not drift")
    parser.add_argument("--events", required=True, help="JSONL file to write events to")
    parser.add_argument("--effect", type=float, default=0.05,
                        help="relative CTR lift of the treatment (0 for an A/A run)")
    parser.add_argument("--treatment", default="treatment", help="variant that gets the effect")
    parser.add_argument("--shift", action="append", default=[], metavar="FEATURE=FACTOR",
                        help="multiply a numeric feature (drift), e.g. price=2.5; repeatable")
    parser.add_argument("--rows", type=int, default=5, help="impressions per request")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--max-requests", type=int, default=50_000)
    parser.add_argument("--deadline", type=float, default=600.0, help="seconds for the whole run")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
    parser.add_argument("--wait-ready", type=float, default=60.0,
                        help="seconds to wait for the router's /readyz first (0: do not wait)")
    args = parser.parse_args(argv)
    if not is_loopback(args.router):
        parser.error(f"--router must be a loopback address, got {args.router}")
    config = SimulationConfig(
        users=args.users, seed=args.seed, effect=args.effect, treatment=args.treatment,
        rows_per_request=args.rows, concurrency=args.concurrency,
        max_requests=args.max_requests, deadline_seconds=args.deadline,
        shift=parse_shift(parser, args.shift), population_seed=args.population_seed,
    )
    with httpx2.Client(base_url=args.router, timeout=args.timeout, trust_env=False) as client:
        if args.wait_ready > 0 and not wait_ready(client, args.wait_ready):
            print(f"simulator: {args.router}/readyz not 200 within {args.wait_ready:g}s",
                  file=sys.stderr)
            return 1
        result = simulate(config, client)
    write_events(result.events, args.events)
    json.dump(result.summary(), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0 if result.finished and not result.errors else 1


if __name__ == "__main__":
    sys.exit(main())
