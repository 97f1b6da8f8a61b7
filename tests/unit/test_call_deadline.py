"""The whole provider call ends by one deadline, over real sockets (httpx's own timeouts bound
each read alone, so a provider dripping its answer could hold a call for minutes)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from refund_core.errors import ProviderTimeout
from refund_core.transport import build_http_client, send

ANSWER = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
    b"X-Padding: " + b"x" * 200 + b"\r\n\r\n{}"
)


@contextmanager
def dripping_server(chunk: int, pause: float) -> Iterator[str]:
    """A loopback HTTP server that sends its whole answer `chunk` bytes every `pause` s."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(5)
    stop = threading.Event()

    def serve() -> None:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            conn.recv(65536)
            for start in range(0, len(ANSWER), chunk):
                if stop.is_set():
                    return
                try:
                    conn.sendall(ANSWER[start : start + chunk])
                except OSError:
                    return
                time.sleep(pause)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1/refunds/re_1"
    finally:
        stop.set()
        listener.close()
        thread.join(timeout=5)


def fetch(url: str, timeout_seconds: float) -> float:
    client = build_http_client()
    started = time.monotonic()
    try:
        send(
            client,
            client.build_request("GET", url),
            timeout_seconds=timeout_seconds,
            provider="surecart",
        )
    finally:
        client.close()
    return time.monotonic() - started


def test_headers_dripping_past_the_deadline_end_the_call_at_the_deadline() -> None:
    # Each 8-byte piece comes well within a read timeout; the whole takes about 5 s.
    with dripping_server(chunk=8, pause=0.15) as url:
        started = time.monotonic()
        with pytest.raises(ProviderTimeout):
            fetch(url, timeout_seconds=0.6)
        elapsed = time.monotonic() - started
    assert elapsed < 1.2, f"the call took {elapsed:.2f} s against a 0.6 s deadline"


def test_a_slow_answer_within_the_deadline_is_read_whole() -> None:
    with dripping_server(chunk=64, pause=0.05) as url:
        assert fetch(url, timeout_seconds=5) < 5


def test_a_connection_refused_is_provider_timeout_at_once() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(ProviderTimeout):
        fetch(f"http://127.0.0.1:{port}/v1/refunds/re_1", timeout_seconds=2)
    assert time.monotonic() - started < 1


def test_the_deadline_is_per_call_not_left_on_the_client() -> None:
    client = build_http_client()
    try:
        with dripping_server(chunk=8, pause=0.15) as url, pytest.raises(ProviderTimeout):
            send(client, client.build_request("GET", url), timeout_seconds=0.3, provider="surecart")
        # The same client, outside any call: no deadline is left behind to fail this one.
        with dripping_server(chunk=4096, pause=0) as url:
            answer = send(
                client, client.build_request("GET", url), timeout_seconds=2, provider="surecart"
            )
        assert answer.status_code == 200
        assert answer.content == b"{}"
    finally:
        client.close()


def test_tests_own_transports_still_plug_in() -> None:
    client = build_http_client(httpx.MockTransport(lambda _: httpx.Response(200, json={})))
    answer = send(
        client,
        client.build_request("GET", "https://api.surecart.com/v1/refunds/x"),
        timeout_seconds=1,
        provider="surecart",
    )
    assert answer.content == b"{}"
