"""`python -m devstack up|demo|events`: the local stack by hand, the scripted demo, or the
refund events of a running `up`, as they arrive."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from devstack.aws.errors import LocalAwsError
from devstack.stack import (
    DEFAULT_AWS_PORT,
    DEFAULT_GATEWAY_PORT,
    DEFAULT_SANDBOX_PORT,
    LocalStack,
    StackPorts,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="run the whole service locally until Ctrl-C")
    up.add_argument("--port", type=int, default=DEFAULT_GATEWAY_PORT, help="API gateway port")
    up.add_argument("--aws-port", type=int, default=DEFAULT_AWS_PORT, help="moto server port")
    up.add_argument(
        "--sandbox-port", type=int, default=DEFAULT_SANDBOX_PORT,
        help="first sandbox port (one per provider from there; 0 = any free ports)",
    )  # fmt: skip
    up.add_argument(
        "--docker", action="store_true",
        help="for `sam local` (see events/env.json): listen on all interfaces and name the "
        "sandboxes host.docker.internal in the secrets",
    )  # fmt: skip
    commands.add_parser(
        "demo", help="the scripted end-to-end demo; exits 0 when all is as scripted"
    )
    events = commands.add_parser(
        "events", help="print the refund events of a running `up` as they arrive (Ctrl-C stops)"
    )
    events.add_argument("--aws-port", type=int, default=DEFAULT_AWS_PORT, help="moto server port")
    events.add_argument("--json", action="store_true", help="each whole event, one JSON per line")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from devstack.demo import main as demo

        return demo()
    if args.command == "events":
        return _events(args.aws_port, as_json=args.json)
    ports = StackPorts(gateway=args.port, aws=args.aws_port, sandbox=args.sandbox_port)
    return _up(ports, docker_host="host.docker.internal" if args.docker else None)


def _up(ports: StackPorts, docker_host: str | None) -> int:
    stopped = threading.Event()

    def stop(*_: object) -> None:
        stopped.set()
        # A second Ctrl-C (a start-up that hangs) interrupts at once.
        signal.signal(signal.SIGINT, signal.default_int_handler)

    # Ctrl-C or SIGTERM at any moment, start-up included, ends in the same clean stop: what
    # started is closed by the stack's exit, never abandoned mid-way by a KeyboardInterrupt.
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("starting the local stack…", flush=True)
    try:
        with LocalStack(ports=ports, docker_host=docker_host) as stack:
            if not stopped.is_set():
                print(stack.banner(stack.seed()), flush=True)
            stopped.wait()
            print("\nstopping…", flush=True)
    except (OSError, LocalAwsError) as error:
        # A port in use, a template the stack cannot run: one line, no traceback.
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    return 0


def _events(aws_port: int, *, as_json: bool) -> int:
    import json

    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from devstack.aws.lambdas import FAKE_CREDENTIALS
    from devstack.event_tap import EventTap, one_line

    sqs = boto3.client(
        "sqs",
        endpoint_url=f"http://127.0.0.1:{aws_port}",
        region_name="us-east-1",
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    try:
        tap = EventTap.of_queue(sqs)
        print("waiting for refund events (Ctrl-C stops)…", file=sys.stderr, flush=True)
        while True:
            for event in tap.collect(wait_seconds=5):
                print(json.dumps(event) if as_json else one_line(event), flush=True)
    except KeyboardInterrupt:
        return 0
    except (BotoCoreError, ClientError) as error:
        print(f"error: no local stack at port {aws_port} ({error})", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
