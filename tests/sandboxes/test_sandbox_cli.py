"""``python -m devstack.sandboxes``: starts, prints URLs and secrets, stops on Ctrl-C."""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devstack.sandboxes import mint_token

REPO = Path(__file__).resolve().parents[2]


def _launch(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
        [sys.executable, "-m", "devstack.sandboxes", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _read_until(proc: subprocess.Popen[str], marker: str, timeout: float = 15.0) -> list[str]:
    """Lines printed up to the one holding ``marker`` (read on a thread: pipes block)."""
    assert proc.stdout is not None
    stdout = proc.stdout
    lines: queue.Queue[str | None] = queue.Queue()

    def _pump() -> None:
        for line in stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=_pump, daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=remaining)
        except queue.Empty:
            break
        if line is None:
            break
        seen.append(line)
        if marker in line:
            return seen
    proc.kill()
    stderr = proc.stderr.read() if proc.stderr else ""
    pytest.fail(f"no {marker!r} in output: {seen!r}; stderr: {stderr}")


def _interrupt(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGINT)
    try:
        return proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)


def _free_port_block(size: int) -> int:
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = int(probe.getsockname()[1])
        if base + size > 65535:
            continue
        sockets = []
        try:
            for port in range(base, base + size):
                sock = socket.socket()
                sockets.append(sock)
                sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
        return base
    pytest.fail("no block of free ports")


def test_cli_json_gr4vy(processes: list[subprocess.Popen[str]]) -> None:
    proc = _launch("gr4vy", "--port", "0", "--json")
    processes.append(proc)
    report = json.loads(_read_until(proc, "{")[-1])
    info = report["gr4vy"]
    secret = info["secret"]
    assert secret["base_url"] == info["base_url"]
    assert secret["environment"] == "sandbox"
    assert len(info["refunds"]) >= 3
    token = mint_token(secret["private_key"])
    refund_id = info["refunds"][1]["id"]
    response = httpx.get(
        f"{info['base_url']}/refunds/{refund_id}", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    assert response.json()["status"] == "succeeded"
    assert _interrupt(proc) == 0


def test_cli_single_provider_on_a_chosen_port(processes: list[subprocess.Popen[str]]) -> None:
    port = _free_port_block(1)
    proc = _launch("convergegate", "--port", str(port))
    processes.append(proc)
    lines = _read_until(proc, "Ctrl-C")
    assert lines[0] == f"convergegate: http://127.0.0.1:{port}"
    secret = json.loads(lines[1].split("secret: ", 1)[1])
    assert secret["base_url"] == f"http://127.0.0.1:{port}"
    refund_id = lines[2].split()[1].rstrip(":")
    response = httpx.get(
        f"{secret['base_url']}/v1/refunds/{refund_id}", auth=(secret["secret_key"], "")
    )
    assert response.status_code == 200
    assert _interrupt(proc) == 0
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{secret['base_url']}/v1/refunds/{refund_id}", timeout=2.0)


def test_cli_all_on_consecutive_ports(processes: list[subprocess.Popen[str]]) -> None:
    base = _free_port_block(4)
    proc = _launch("all", "--port", str(base))
    processes.append(proc)
    lines = _read_until(proc, "Ctrl-C")
    urls = [line for line in lines if not line.startswith(" ") and ": http" in line]
    assert urls == [
        f"convergegate: http://127.0.0.1:{base}",
        f"surecart: http://127.0.0.1:{base + 1}",
        f"gr4vy: http://127.0.0.1:{base + 2}",
        f"shoplazza: http://127.0.0.1:{base + 3}",
    ]
    secrets = [json.loads(line.split("secret: ", 1)[1]) for line in lines if "secret: " in line]
    assert [set(s) for s in secrets] == [
        {"secret_key", "base_url"},
        {"api_token", "base_url"},
        {"instance_id", "private_key", "environment", "base_url"},
        {"store_domain", "access_token", "api_version", "base_url"},
    ]
    shoplazza = secrets[3]
    refund_ids = [line.split()[1].rstrip(":") for line in lines if "refund " in line]
    assert len(refund_ids) >= 12
    response = httpx.get(
        f"{shoplazza['base_url']}/openapi/{shoplazza['api_version']}/shoplazza-payment/refunds/"
        f"{refund_ids[-3]}",
        headers={"Access-Token": shoplazza["access_token"]},
    )
    assert response.status_code == 200
    assert response.json()["data"]["refund_order"]["status"] == "succeeded"
    assert _interrupt(proc) == 0


def test_cli_rejects_unknown_provider() -> None:
    proc = _launch("stripe")
    assert proc.wait(timeout=15) == 2


def test_a_port_in_use_is_one_line_naming_it() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = _launch("surecart", "--port", str(port))
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert err.strip().count("\n") == 0, err
    assert str(port) in err
