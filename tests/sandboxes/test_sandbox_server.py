"""The server itself: admin API, counters, keep-alive, speed, start and stop."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from email.message import Message
from typing import Any

import httpx
import pytest

from devstack.sandboxes import Sandbox, start_sandbox
from devstack.sandboxes.server import _Handler

Start = Callable[..., Sandbox]
GetRefund = Callable[[Sandbox, str], dict[str, Any]]


def test_admin_creates_refunds(
    sandbox: Sandbox, client: httpx.Client, get_refund: GetRefund
) -> None:
    pending = {"convergegate": "pending", "surecart": "pending"}.get(sandbox.name, "processing")
    created = client.post(
        f"{sandbox.base_url}/__sandbox/refunds",
        json={"amount": 2500, "currency": "USD", "life": [pending, "succeeded"]},
    )
    assert created.status_code == 201
    refund_id = created.json()["id"]
    assert created.json()["life"] == [pending, "succeeded"]
    assert get_refund(sandbox, refund_id)["status"] == pending
    assert get_refund(sandbox, refund_id)["status"] == "succeeded"
    state = client.get(f"{sandbox.base_url}/__sandbox/refunds/{refund_id}").json()
    assert (state["reads"], state["status"]) == (2, "succeeded")
    listed = client.get(f"{sandbox.base_url}/__sandbox/refunds").json()["refunds"]
    assert [r["id"] for r in listed] == [refund_id]


def test_admin_timed_life_and_chosen_id(sandbox: Sandbox, client: httpx.Client) -> None:
    pending = {"convergegate": "pending", "surecart": "pending"}.get(sandbox.name, "processing")
    created = client.post(
        f"{sandbox.base_url}/__sandbox/refunds",
        json={"id": "chosen-1", "life": [[0, pending], [60, "failed"]]},
    )
    assert created.status_code == 201
    assert created.json()["id"] == "chosen-1"
    assert sandbox.refund_state("chosen-1")["life"] == [[0.0, pending], [60.0, "failed"]]


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1]", b'{"amount": 0}', b'{"life": ["bogus_status"]}'],
)
def test_admin_rejects_bad_refunds(start: Start, client: httpx.Client, body: bytes) -> None:
    sandbox = start("surecart")
    response = client.post(f"{sandbox.base_url}/__sandbox/refunds", content=body)
    assert response.status_code == 400
    assert response.json()["error"]


def test_admin_faults(sandbox: Sandbox, client: httpx.Client) -> None:
    refund_id = sandbox.create_refund()
    url = sandbox.refund_url(refund_id)
    admin = f"{sandbox.base_url}/__sandbox/faults"
    added = client.post(admin, json={"name": "rate_limited", "retry_after": "3", "times": 1})
    assert added.status_code == 201
    assert added.json()["name"] == "rate_limited"
    assert client.get(admin).json()["faults"][0]["retry_after"] == "3"
    limited = client.get(url, headers=sandbox.auth_headers())
    assert (limited.status_code, limited.headers["retry-after"]) == (429, "3")
    client.post(admin, json={"name": "server_error", "refund_id": refund_id})
    client.post(admin, json={"name": "bad_gateway"})
    assert client.get(url, headers=sandbox.auth_headers()).status_code == 500
    removed = client.delete(admin, params={"refund_id": refund_id})
    assert removed.json() == {"removed": 1}
    assert client.get(url, headers=sandbox.auth_headers()).status_code == 502
    assert client.delete(admin).json() == {"removed": 1}
    assert client.get(url, headers=sandbox.auth_headers()).status_code == 200


@pytest.mark.parametrize("body", [{"name": "no_such_fault"}, {"name": "delay", "sconds": 3}, {}])
def test_admin_rejects_bad_faults(start: Start, client: httpx.Client, body: Any) -> None:
    sandbox = start("gr4vy")
    response = client.post(f"{sandbox.base_url}/__sandbox/faults", json=body)
    assert response.status_code == 400


def test_admin_stats_credentials_and_unknown_routes(sandbox: Sandbox, client: httpx.Client) -> None:
    admin = f"{sandbox.base_url}/__sandbox"
    assert client.get(f"{admin}/credentials").json() == sandbox.credentials
    client.get(sandbox.refund_url("abc"))
    assert client.get(f"{admin}/stats").json() == {"requests": 1, "by_refund": {"abc": 1}}
    assert client.delete(f"{admin}/stats").json() == {"requests": 0, "by_refund": {}}
    assert client.get(f"{admin}/nothing").status_code == 404
    assert client.get(f"{admin}/refunds/unknown").status_code == 404
    assert sandbox.request_count == 0  # admin calls are never counted


def test_counters(sandbox: Sandbox, client: httpx.Client) -> None:
    refund_id = sandbox.create_refund()
    assert sandbox.request_count == 0
    assert sandbox.requests_for(refund_id) == 0
    client.get(sandbox.refund_url(refund_id), headers=sandbox.auth_headers())
    client.get(sandbox.refund_url(refund_id))  # rejected, still a provider call
    sandbox.add_fault("drop_connection", times=1)
    with pytest.raises(httpx.RemoteProtocolError):
        client.get(sandbox.refund_url(refund_id), headers=sandbox.auth_headers())
    client.get(sandbox.refund_url("someone-else"), headers=sandbox.auth_headers())
    client.get(f"{sandbox.base_url}/not/a/provider/path")
    assert sandbox.requests_for(refund_id) == 3
    assert sandbox.requests_for("someone-else") == 1
    assert sandbox.request_count == 5
    assert sandbox.refund_state(refund_id)["requests"] == 3
    assert sandbox.refund_state(refund_id)["reads"] == 1  # only the rendered answer advances
    recorded = sandbox.recent_requests[0]
    assert recorded.method == "GET"
    assert recorded.path == sandbox.refund_url(refund_id)[len(sandbox.base_url) :]
    sandbox.reset_counters()
    assert (sandbox.request_count, sandbox.requests_for(refund_id)) == (0, 0)
    assert len(sandbox.recent_requests) == 0


def test_unrouted_paths_and_methods_get_provider_not_found(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    refund_id = sandbox.create_refund()
    headers = sandbox.auth_headers()
    assert client.get(f"{sandbox.base_url}/v2/elsewhere", headers=headers).status_code == 404
    assert client.post(sandbox.refund_url(refund_id), headers=headers).status_code == 404
    assert client.get(sandbox.refund_url(refund_id) + "/extra", headers=headers).status_code == 404
    assert client.get(sandbox.refund_url(refund_id) + "?expand=x", headers=headers).is_success


def test_keep_alive_and_content_length(sandbox: Sandbox) -> None:
    refund_id = sandbox.create_refund()
    seen_ports: set[int] = set()
    with httpx.Client() as http:
        for _ in range(5):
            response = http.get(sandbox.refund_url(refund_id), headers=sandbox.auth_headers())
            assert int(response.headers["content-length"]) == len(response.content)
            assert response.http_version == "HTTP/1.1"
            assert response.headers.get("connection", "").lower() != "close"
            stream = response.extensions["network_stream"]
            seen_ports.add(stream.get_extra_info("client_addr")[1])
    assert len(seen_ports) == 1


def test_handler_keeps_connections_alive_without_nagle() -> None:
    assert _Handler.disable_nagle_algorithm is True
    assert _Handler.protocol_version == "HTTP/1.1"


def test_answers_fast_on_loopback(sandbox: Sandbox) -> None:
    """Nagle off and no per-request work: well under the 40 ms a Nagle stall costs."""
    refund_id = sandbox.create_refund()
    headers = sandbox.auth_headers()  # one Gr4vy token, reused as a caching client would
    timings = []
    with httpx.Client() as http:
        http.get(sandbox.refund_url(refund_id), headers=headers)
        for _ in range(50):
            began = time.perf_counter()
            http.get(sandbox.refund_url(refund_id), headers=headers)
            timings.append(time.perf_counter() - began)
    assert statistics.median(timings) < 0.005


def test_server_own_time_is_well_under_a_millisecond(sandbox: Sandbox) -> None:
    refund_id = sandbox.create_refund()
    path = sandbox.refund_url(refund_id)[len(sandbox.base_url) :]
    headers = Message()
    for key, value in sandbox.auth_headers().items():
        headers[key] = value
    assert sandbox.handle_provider("GET", path, headers).status == 200
    # Best of five batches: what the server costs, not what a busy machine's scheduler adds.
    rounds, batches = 60, []
    for _ in range(5):
        began = time.perf_counter()
        for _ in range(rounds):
            sandbox.handle_provider("GET", path, headers)
        batches.append((time.perf_counter() - began) / rounds)
    assert min(batches) < 0.0005


def test_stop_cuts_kept_alive_connections_and_delays(start: Start) -> None:
    sandbox = start("surecart")
    refund_id = sandbox.create_refund()
    http = httpx.Client(timeout=10.0)
    assert http.get(sandbox.refund_url(refund_id), headers=sandbox.auth_headers()).is_success
    sandbox.add_fault("delay", seconds=30)
    errors: list[BaseException] = []

    def _slow() -> None:
        try:
            http.get(sandbox.refund_url(refund_id), headers=sandbox.auth_headers())
        except httpx.HTTPError as exc:
            errors.append(exc)

    worker = threading.Thread(target=_slow)
    worker.start()
    time.sleep(0.2)
    began = time.perf_counter()
    sandbox.stop()
    worker.join(timeout=5)
    assert not worker.is_alive()
    assert time.perf_counter() - began < 3
    assert errors
    with pytest.raises(httpx.ConnectError):
        httpx.get(sandbox.refund_url(refund_id), timeout=2.0)
    sandbox.stop()  # idempotent
    http.close()


def test_start_sandbox_on_a_chosen_port_and_as_context_manager() -> None:
    with start_sandbox("convergegate", 0) as first:
        port = first.port
    with start_sandbox("convergegate", port=port) as again:
        assert again.base_url == f"http://127.0.0.1:{port}"
        refund_id = again.create_refund()
        response = httpx.get(again.refund_url(refund_id), headers=again.auth_headers())
        assert response.status_code == 200


def test_unknown_provider_and_options() -> None:
    with pytest.raises(ValueError, match="unknown provider"):
        start_sandbox("stripe")
    with pytest.raises(TypeError):
        start_sandbox("surecart", secret_key="sk_test_x")
    with pytest.raises(ValueError, match="api_version"):
        start_sandbox("shoplazza", api_version="2020-01")
    with pytest.raises(ValueError, match="no fault"):
        start_sandbox("gr4vy", not_found_fault="not_found_422")


def test_a_burst_of_new_connections_is_served_without_a_syn_retry() -> None:
    # With socketserver's default backlog of 5, some of 64 simultaneous connections wait a
    # whole SYN retransmit (about 1 s): the benchmarks and the poller tests would measure it.
    import socket

    with start_sandbox("surecart") as sandbox:
        host, port = "127.0.0.1", sandbox.port
        barrier = threading.Barrier(64)
        times: list[float] = []

        def connect() -> None:
            barrier.wait()
            started = time.monotonic()
            with socket.create_connection((host, port), timeout=5) as conn:
                conn.sendall(b"GET /v1/refunds/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                conn.recv(1)
            times.append(time.monotonic() - started)

        threads = [threading.Thread(target=connect) for _ in range(64)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
    assert len(times) == 64
    assert max(times) < 0.9, f"slowest connection took {max(times):.2f} s"


@pytest.mark.parametrize("method", ["HEAD", "OPTIONS"])
def test_methods_http_server_refuses_answer_json_not_html(method: str) -> None:
    with start_sandbox("surecart") as sandbox, httpx.Client() as client:
        answer = client.request(method, sandbox.refund_url(sandbox.create_refund()))
    assert answer.status_code == 501
    assert answer.headers["content-type"] == "application/json"
    if method != "HEAD":
        assert answer.json()["error"]["status"] == 501


def test_convergegate_says_a_path_naming_no_refund_is_unrecognized() -> None:
    with start_sandbox("convergegate") as sandbox, httpx.Client() as client:
        answer = client.get(sandbox.base_url + "/v1/nothing")
    assert answer.status_code == 404
    assert answer.json()["error"]["message"] == "Unrecognized request URL."
