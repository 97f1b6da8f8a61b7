"""``python -m devstack.sandboxes {provider|all} [--port N]``: run sandboxes until Ctrl-C."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import Any

from . import PROVIDERS, Sandbox, start_sandbox

# A few refunds so a demo has something to look at: (description, life) per provider.
_SEEDS: dict[str, list[tuple[str, Any]]] = {
    "convergegate": [
        ("pending, succeeded from the 3rd read", ["pending", "pending", "succeeded"]),
        ("succeeded", "succeeded"),
        ("failed", "failed"),
        ("succeeded, then failed late after 60 s", [(0, "succeeded"), (60, "failed")]),
    ],
    "surecart": [
        ("pending, succeeded from the 3rd read", ["pending", "pending", "succeeded"]),
        ("succeeded", "succeeded"),
        ("failed (insufficient_funds)", "failed"),
        ("succeeded, then failed late after 60 s", [(0, "succeeded"), (60, "failed")]),
    ],
    "gr4vy": [
        ("processing, succeeded from the 3rd read", ["processing", "processing", "succeeded"]),
        ("succeeded", "succeeded"),
        ("declined", "declined"),
        ("voided", "voided"),
    ],
    "shoplazza": [
        ("processing, succeeded from the 3rd read", ["processing", "processing", "succeeded"]),
        ("succeeded", "succeeded"),
        ("failed", "failed"),
        ("processing for 30 s, then succeeded", [(0, "processing"), (30, "succeeded")]),
    ],
}


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m devstack.sandboxes",
        description="Run provider sandboxes on 127.0.0.1 until Ctrl-C.",
    )
    parser.add_argument("provider", choices=[*PROVIDERS, "all"])
    parser.add_argument(
        "--port", type=int, default=0, help="port (first of consecutive ports for 'all'); 0 = any"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--merchant-account-id", help="make the Gr4vy sandbox require this id")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead")
    return parser.parse_args(argv)


def _start(args: argparse.Namespace) -> list[Sandbox]:
    names = list(PROVIDERS) if args.provider == "all" else [args.provider]
    sandboxes: list[Sandbox] = []
    try:
        for offset, name in enumerate(names):
            port = args.port + offset if args.port else 0
            options: dict[str, Any] = {}
            if name == "gr4vy" and args.merchant_account_id:
                options["merchant_account_id"] = args.merchant_account_id
            sandboxes.append(start_sandbox(name, port, host=args.host, **options))
    except BaseException:
        for sandbox in sandboxes:
            sandbox.stop()
        raise
    return sandboxes


def _seed(sandbox: Sandbox) -> list[dict[str, str]]:
    currency = {"shoplazza": "USD", "gr4vy": "USD", "surecart": "USD"}.get(sandbox.name)
    return [
        {"id": sandbox.create_refund(1299, currency, life), "life": description}
        for description, life in _SEEDS[sandbox.name]
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Start the sandboxes, print how to reach them, and block until interrupted."""
    args = _parse(argv)
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    try:
        sandboxes = _start(args)
    except OSError as error:  # a port in use: one line, no traceback
        print(
            f"error: cannot listen on {args.host}:{args.port or 'any port'}: {error.strerror}",
            file=sys.stderr,
        )
        return 1
    try:
        report: dict[str, dict[str, Any]] = {
            s.name: {"base_url": s.base_url, "secret": s.credentials, "refunds": _seed(s)}
            for s in sandboxes
        }
        if args.json:
            print(json.dumps(report), flush=True)
        else:
            for name, info in report.items():
                print(f"{name}: {info['base_url']}")
                print(f"  secret: {json.dumps(info['secret'])}")
                for refund in info["refunds"]:
                    print(f"  refund {refund['id']}: {refund['life']}")
            print("Ctrl-C to stop.", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        for sandbox in sandboxes:
            sandbox.stop()
    print("stopped.", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
