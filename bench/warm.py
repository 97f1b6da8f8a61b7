"""Warm calls: our handler against the floor and the usual alternatives, interleaved.

Parent side: `measure(env, calls, warmup)` runs one child per provider. Child side
(`python -m bench.warm SPEC OUT`): builds every contender once, warms each up, then runs
`calls` rounds; each round calls every contender once, in an order that rotates, so a noisy
second hits them all alike. Timings are `perf_counter_ns` around one whole call.

Contenders:
- ours: `functions/<provider>/app.lambda_handler` with a REST proxy event (Powertools logger,
  metrics and router included; the log line and the EMF blob go to the child's stdout).
- floor: one reused `httpx.Client`, the same GET with the same credentials, `json.loads`.
- gr4vy_sdk (Gr4vy): the official SDK's `refunds.get`, a JWT per request as the SDK does it.
- requests (ConvergeGate, SureCart): a reused `requests.Session`, `.json()`.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

Call = Callable[[], object]

GR4VY_SDK = "gr4vy_sdk"
REQUESTS = "requests"
REQUESTS_PROVIDERS = ("convergegate", "surecart")


# --------------------------------------------------------------------------- child side
def build_ours(spec: dict[str, Any]) -> Call:
    from bench.lambda_stub import BenchLambdaContext, put_function_on_path, rest_event

    put_function_on_path(spec["provider"])
    handler = importlib.import_module("app").lambda_handler
    event = rest_event(spec["provider"], spec["refund_id"])
    context = BenchLambdaContext()

    def call() -> object:
        response = handler(event, context)
        if response["statusCode"] != 200:
            raise RuntimeError(f"our handler answered {response['statusCode']}: {response}")
        return response

    return call


def build_floor(spec: dict[str, Any]) -> Call:
    import httpx

    client = httpx.Client(trust_env=False)
    url, headers = spec["refund_url"], spec["auth_headers"]

    def call() -> object:
        response = client.get(url, headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"floor GET answered {response.status_code}")
        return json.loads(response.content)

    return call


def build_requests(spec: dict[str, Any]) -> Call:
    import requests

    session = requests.Session()
    url, headers = spec["refund_url"], spec["auth_headers"]

    def call() -> object:
        response = session.get(url, headers=headers, timeout=10)
        response.raise_for_status()
        return response.json()

    return call


def build_gr4vy_sdk(spec: dict[str, Any]) -> Call:
    from gr4vy import Gr4vy, auth

    creds = spec["credentials"]
    sdk = Gr4vy(
        id=creds["instance_id"],
        server="sandbox",
        server_url=creds["base_url"],
        # The SDK's documented way: a callback that signs a fresh token for every request.
        bearer_auth=auth.with_token(private_key=creds["private_key"]),
        merchant_account_id=creds.get("merchant_account_id"),
    )
    refund_id = spec["refund_id"]

    def call() -> object:
        return sdk.refunds.get(refund_id=refund_id)

    return call


def contenders(spec: dict[str, Any]) -> dict[str, Call]:
    calls = {"ours": build_ours(spec), "floor": build_floor(spec)}
    if spec["provider"] == "gr4vy":
        calls[GR4VY_SDK] = build_gr4vy_sdk(spec)
    if spec["provider"] in REQUESTS_PROVIDERS:
        calls[REQUESTS] = build_requests(spec)
    return calls


def run_child(spec: dict[str, Any], calls: int, warmup: int) -> dict[str, list[int]]:
    contestants = contenders(spec)
    names = list(contestants)
    for _ in range(warmup):
        for name in names:
            contestants[name]()
    samples: dict[str, list[int]] = {name: [] for name in names}
    clock = time.perf_counter_ns
    for round_ in range(calls):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            call = contestants[name]
            started = clock()
            call()
            samples[name].append(clock() - started)
    return samples


def child_main(argv: list[str]) -> int:
    spec_path, out_path = Path(argv[0]), Path(argv[1])
    job = json.loads(spec_path.read_text())
    samples = run_child(job["spec"], job["calls"], job["warmup"])
    out_path.write_text(json.dumps(samples))
    return 0


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1:]))
