"""Many accounts in one warm function (contract section 6): `accounts` merchant accounts at one
provider, called round-robin through `/accounts/{account}/refunds/...`, `calls` calls in all.

Counts the Secrets Manager reads (ours: once per account per cache period), the RSS after call
`mark` and after the last (a capped cache must not grow), the peak, and the time per call;
next to what a user would write first: read the account's secret on every request (no cache).

Parent side: `measure(env, accounts, calls, mark)` writes the secrets into the bench's moto.
Child side: `python -m bench.accounts JOB OUT`.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

PROVIDER = "surecart"  # one host for every account: connections pooled across accounts
PREFIX = "refund-status/bench-accounts/surecart/"


def account_id(index: int) -> str:
    return f"store-{index:05d}"


def measure(env: Any, accounts: int, calls: int, mark: int) -> dict[str, Any]:
    from bench.children import run_child
    from bench.runtime_venv import runtime_env, runtime_python

    secrets = env.secrets_client()
    target = env.targets[PROVIDER]
    for index in range(accounts):
        name = PREFIX + account_id(index)
        value = json.dumps(target.credentials)
        try:
            secrets.create_secret(Name=name, SecretString=value)
        except secrets.exceptions.ResourceExistsException:
            secrets.put_secret_value(SecretId=name, SecretString=value)
    job = {"spec": target.spec(), "accounts": accounts, "calls": calls, "mark": mark}
    child_env = runtime_env(env.child_env(PROVIDER, ACCOUNT_SECRET_PREFIX=PREFIX))
    ours = run_child("bench.accounts", job, child_env, python=runtime_python(), timeout=900)
    # The comparison: a secret read per request. Its reads are the calls, by construction;
    # its time per read is measured on the same moto, over `accounts` reads.
    started = time.perf_counter()
    for index in range(min(accounts, 200)):
        secrets.get_secret_value(SecretId=PREFIX + account_id(index))
    read_ms = (time.perf_counter() - started) * 1000 / min(accounts, 200)
    return {
        "provider": PROVIDER,
        "accounts": accounts,
        "calls": calls,
        "mark": mark,
        "ours": ours,
        "uncached": {"secret_reads": calls, "secret_read_ms": read_ms},
    }


def run_child(spec: dict[str, Any], accounts: int, calls: int, mark: int) -> dict[str, Any]:
    import importlib

    from bench.lambda_stub import BenchLambdaContext, put_function_on_path
    from bench.memory import peak_rss_bytes, rss_bytes

    put_function_on_path(spec["provider"])
    handler = importlib.import_module("app").lambda_handler
    from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS

    context = BenchLambdaContext()
    events = [_account_event(spec, account_id(index)) for index in range(accounts)]
    reads = 0

    def count(**_: Any) -> None:
        nonlocal reads
        reads += 1

    at_mark, registered = 0, False
    durations: list[float] = []
    for index in range(calls):
        started = time.perf_counter_ns()
        response = handler(events[index % accounts], context)
        durations.append(time.perf_counter_ns() - started)
        if response["statusCode"] != 200:
            raise RuntimeError(f"our handler answered {response['statusCode']}: {response}")
        if not registered:
            # The client exists once the first call made it: count from here, that call too.
            client = DEFAULT_PROVIDERS["secrets"].client
            client.meta.events.register("before-call.secrets-manager.GetSecretValue", count)
            registered, reads = True, 1
        if index + 1 == mark:
            at_mark = rss_bytes()
    at_end, mib = rss_bytes(), 1024 * 1024
    durations.sort()
    return {
        "secret_reads": reads,
        "rss_at_mark_mib": at_mark / mib,
        "rss_at_end_mib": at_end / mib,
        "growth_mib": (at_end - at_mark) / mib,
        "peak_rss_mib": peak_rss_bytes() / mib,
        "median_ms": durations[len(durations) // 2] / 1e6,
        "p99_ms": durations[int(len(durations) * 0.99)] / 1e6,
    }


def _account_event(spec: dict[str, Any], account: str) -> dict[str, Any]:
    from bench.lambda_stub import rest_event

    event = rest_event(spec["provider"], spec["refund_id"])
    route = f"/accounts/{account}{event['path']}"
    event["resource"] = "/accounts/{account}" + event["resource"]
    event["path"] = route
    event["pathParameters"] = {**event["pathParameters"], "account": account}
    event["requestContext"] |= {"path": "/v1" + route, "resourcePath": event["resource"]}
    return event


def format_accounts(results: dict[str, Any]) -> str:
    ours, uncached = results["ours"], results["uncached"]
    head = f"{'':<34}{'ours (capped cache)':>20}{'read per request':>18}"
    lines = [
        f"6. Accounts ({results['accounts']} {results['provider']} accounts round-robin, "
        f"{results['calls']} calls, one warm process)",
        head,
        "-" * len(head),
        f"{'Secrets Manager reads':<34}{ours['secret_reads']:>20}{uncached['secret_reads']:>18}",
        f"{'  their time per call (ms, here)':<34}"
        f"{ours['secret_reads'] * uncached['secret_read_ms'] / results['calls']:>20.3f}"
        f"{uncached['secret_read_ms']:>18.3f}",
        f"{'call median / p99 (ms)':<34}"
        f"{ours['median_ms']:>11.2f} / {ours['p99_ms']:<6.2f}{'-':>18}",
        f"{'peak RSS MiB':<34}{ours['peak_rss_mib']:>20.1f}",
        f"{'RSS growth MiB, call ' + str(results['mark']) + ' to last':<34}"
        f"{ours['growth_mib']:>20.2f}",
    ]
    return "\n".join(lines)


def child_main(argv: list[str]) -> int:
    job = json.loads(Path(argv[0]).read_text())
    figures = run_child(job["spec"], job["accounts"], job["calls"], job["mark"])
    Path(argv[1]).write_text(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1:]))
