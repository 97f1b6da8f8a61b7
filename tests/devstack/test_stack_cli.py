"""`python -m devstack up`: starts, prints its banner, answers, stops cleanly on Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from devstack.stack import LocalStack

REPO = Path(__file__).resolve().parents[2]


def launch_up() -> subprocess.Popen[str]:
    """`python -m devstack up` on free ports, its output on one pipe."""
    return subprocess.Popen(
        [sys.executable, "-m", "devstack", "up", "--port", "0", "--aws-port", "0",
         "--sandbox-port", "0"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip


def test_up_serves_the_api_and_stops_on_ctrl_c() -> None:
    process = launch_up()
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            assert line, "the stack exited before its banner:\n" + "".join(lines)
            lines.append(line)
            if "Ctrl-C stops everything" in line:
                break
        banner = "".join(lines)
        url = re.search(r"API \(as API Gateway[^)]*\): (\S+)", banner)
        refund = re.search(r"gr4vy\s+pending=(\S+)", banner)
        assert url is not None, banner
        assert refund is not None, banner
        assert f"curl -s {url[1]}/refunds/gr4vy/{refund[1]}" in banner
        answer = httpx.get(f"{url[1]}/refunds/gr4vy/{refund[1]}", timeout=30)
        assert answer.status_code == 200
        assert answer.json()["status"] == "pending"
        # A curl for each seeded account at each provider, each answering its own refund.
        account_urls = re.findall(
            rf"curl -s ({re.escape(url[1])}/accounts/(store-[ab])/\S+)", banner
        )
        assert len(account_urls) == 8, banner
        for account_url, account in account_urls:
            body = httpx.get(account_url, timeout=30).json()
            assert body["account"] == account, body
            assert body["status"] == ("pending" if account == "store-a" else "failed"), body
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0


@pytest.mark.parametrize("option", ["--port", "--aws-port", "--sandbox-port"])
def test_a_port_in_use_is_one_line_naming_it(option: str) -> None:
    import socket

    ports = {"--port": "0", "--aws-port": "0", "--sandbox-port": "0"}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ports[option] = str(port)
        done = subprocess.run(  # noqa: S603 - our own CLI
            [sys.executable, "-m", "devstack", "up", *(x for kv in ports.items() for x in kv)],
            cwd=REPO, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0, done.stderr
    assert str(port) in done.stderr


def test_ctrl_c_during_start_up_stops_cleanly() -> None:
    process = launch_up()
    assert process.stdout is not None
    first = process.stdout.readline()
    assert "starting" in first, first
    process.send_signal(signal.SIGINT)  # mid start-up: moto, sandboxes, resources
    output = first + process.stdout.read()
    assert process.wait(timeout=60) == 0, output
    assert "Traceback" not in output
    assert "Exception ignored" not in output
    assert "stopping" in output


@dataclass
class _Sandbox:
    port: int
    credentials: dict[str, str] = field(default_factory=dict)


def test_docker_mode_names_the_sandboxes_by_the_docker_host() -> None:
    stack = LocalStack(docker_host="host.docker.internal")
    stack.sandboxes["gr4vy"] = _Sandbox(  # type: ignore[assignment]
        8103, {"instance_id": "acme", "base_url": "http://0.0.0.0:8103"}
    )
    assert stack.secret_for("gr4vy") == {
        "instance_id": "acme",
        "base_url": "http://host.docker.internal:8103",
    }
