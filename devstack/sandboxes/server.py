"""The shared HTTP server: routing, fault application, counters, and the admin API."""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import Message
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

from devstack._http import send_final_answer

from .base import JsonObject, Provider, Reply, StoredRefund, json_reply
from .faults import (
    BODY_FAULTS,
    ERROR_FAULTS,
    Fault,
    FaultBook,
    check_header_value,
    check_optional_str,
    check_seconds,
)
from .lives import Life, LifeSpec, check_statuses

ADMIN_PREFIX = "/__sandbox/"
MAX_ADMIN_BODY = 1024 * 1024
_PRE_FAULTS = ERROR_FAULTS | frozenset({"drop_connection", "html"})
_DELAY = frozenset({"delay"})
_HTML_BODY = (
    b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>"
    b"<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>\n"
)
# The keys of an admin refund spec and of an admin fault spec (anything else is refused).
_REFUND_KEYS = frozenset(
    {"amount", "currency", "life", "status", "id", "reason", "created_at", "overrides"}
)
_FAULT_KEYS = frozenset(
    {"name", "refund_id", "times", "retry_after", "seconds", "value", "size_bytes", "status"}
)
_EXTRA_FIELDS: JsonObject = {
    "sandbox_added_field": "ignore me",
    "sandbox_added_object": {"nested": [1, 2, 3], "flag": True},
}


@dataclass(frozen=True)
class RecordedRequest:
    """One provider request as the sandbox saw it (admin calls are not recorded)."""

    method: str
    path: str
    headers: Mapping[str, str]
    at: float


class Sandbox:
    """A running provider sandbox on 127.0.0.1; use as a context manager or call ``stop()``."""

    def __init__(
        self,
        provider: Provider,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        not_found_fault: str = "not_found",
    ) -> None:
        if not_found_fault not in provider.fault_names():
            raise ValueError(f"{provider.name} has no fault {not_found_fault!r}")
        self.provider = provider
        self.not_found_fault = not_found_fault
        self.faults = FaultBook(provider.fault_names())
        self.recent_requests: deque[RecordedRequest] = deque(maxlen=200)
        self._refunds: dict[str, StoredRefund] = {}
        self._request_counts: dict[str, int] = {}
        self._request_count = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd = _SandboxHTTPServer((host, port), _Handler, self)
        self.host = host
        self.port = int(self._httpd.server_address[1])
        self.base_url = f"http://{host}:{self.port}"
        self.credentials: dict[str, str] = provider.credentials(self.base_url)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"sandbox-{provider.name}-{self.port}",
            daemon=True,
        )
        self._thread.start()

    # --- lifecycle -------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The provider's path segment, e.g. ``"gr4vy"``."""
        return self.provider.name

    def stop(self) -> None:
        """Stop serving, close kept-alive connections and wake delayed requests."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.close_connections()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- refunds -----------------------------------------------------------------------------

    def create_refund(
        self,
        amount: int = 1000,
        currency: str | None = None,
        life: LifeSpec | str | None = None,
        *,
        refund_id: str | None = None,
        reason: str | None = None,
        created_at: float | None = None,
        overrides: JsonObject | None = None,
    ) -> str:
        """Store a refund and return its id.

        ``life`` is a status, a list of statuses advanced per read, or ``[(seconds, status)]``
        advanced by the clock; default: the provider's pending status forever. ``overrides`` are
        merged over the rendered refund object (e.g. ``{"updated_at": None}``).
        """
        provider = self.provider
        if life is not None and not isinstance(life, str | list | tuple):
            raise TypeError(f"life must be a status or a list of steps, got {life!r}")
        check_optional_str("currency", currency)
        check_optional_str("refund_id", refund_id)
        check_optional_str("reason", reason)
        if created_at is not None:
            created_at = check_seconds("created_at", created_at)
        if overrides is not None and not isinstance(overrides, dict):
            raise TypeError(f"overrides must be a JSON object, got {overrides!r}")
        parsed = Life.parse(life if life is not None else provider.pending_status)
        check_statuses(parsed, provider.statuses, provider.name)
        if currency is None:
            currency = provider.default_currency
        provider.validate_refund(amount, currency)
        if refund_id is not None and (not refund_id or "/" in refund_id or len(refund_id) > 255):
            raise ValueError("refund_id must be a non-empty path segment")
        now = time.time()
        created = now if created_at is None else float(created_at)
        with self._lock:
            new_id = refund_id or provider.new_id()
            if new_id in self._refunds:
                raise ValueError(f"refund {new_id!r} already exists")
            self._refunds[new_id] = StoredRefund(
                id=new_id,
                amount=amount,
                currency=currency.upper() if currency else None,
                reason=reason if reason is not None else provider.default_reason,
                life=parsed,
                created_at=created,
                created_mono=time.monotonic() - (now - created),
                fields=provider.new_fields(new_id),
                overrides=dict(overrides or {}),
                status=parsed.initial,
                status_since=created,
            )
        return new_id

    def refund_state(self, refund_id: str) -> JsonObject:
        """Internal state of a refund (status last shown, reads, requests); KeyError if none."""
        with self._lock:
            return self._refunds[refund_id].summary()

    def refund_ids(self) -> list[str]:
        """Ids of all stored refunds, oldest first."""
        with self._lock:
            return list(self._refunds)

    def refund_url(self, refund_id: str) -> str:
        """The provider URL a client GETs for ``refund_id``."""
        return self.base_url + self.provider.refund_path(refund_id)

    def auth_headers(self) -> dict[str, str]:
        """Headers with valid credentials, as a well-behaved client sends them."""
        return self.provider.auth_headers()

    # --- faults ------------------------------------------------------------------------------

    def add_fault(
        self,
        name: str,
        *,
        refund_id: str | None = None,
        times: int | None = None,
        retry_after: str | int | None = None,
        seconds: float | None = None,
        value: str | None = None,
        size_bytes: int | None = None,
        status: int | None = None,
    ) -> Fault:
        """Inject a fault for every request (or only ``refund_id``'s), ``times`` times or forever.

        ``retry_after`` goes with ``rate_limited``; ``seconds`` with ``delay`` (at most 600);
        ``value`` with ``unknown_status``; ``size_bytes`` with ``oversized``; ``status`` (100-599)
        with ``html``. A setting of the wrong type or out of range raises TypeError/ValueError
        naming it.
        """
        settings: dict[str, Any] = {
            "retry_after": None
            if retry_after is None
            else check_header_value("retry_after", retry_after),
            "seconds": seconds,
            "value": value,
            "size_bytes": size_bytes,
            "status": status,
        }
        fault = Fault(
            name=name,
            refund_id=refund_id,
            times=times,
            **{key: value for key, value in settings.items() if value is not None},
        )
        return self.faults.add(fault)

    def clear_faults(self, refund_id: str | None = None) -> int:
        """Remove every fault, or only those keyed to ``refund_id``."""
        return self.faults.clear(refund_id)

    # --- counters ----------------------------------------------------------------------------

    @property
    def request_count(self) -> int:
        """Provider requests received since start or the last reset (admin calls excluded)."""
        with self._lock:
            return self._request_count

    def requests_for(self, refund_id: str) -> int:
        """Provider requests whose path named ``refund_id``, whatever the answer was."""
        with self._lock:
            return self._request_counts.get(refund_id, 0)

    def reset_counters(self) -> None:
        """Zero the request counters and forget recorded requests (lives keep their reads)."""
        with self._lock:
            self._request_count = 0
            self._request_counts.clear()
            for refund in self._refunds.values():
                refund.requests = 0
            self.recent_requests.clear()

    def stats(self) -> JsonObject:
        """Counters as JSON."""
        with self._lock:
            return {"requests": self._request_count, "by_refund": dict(self._request_counts)}

    # --- request handling --------------------------------------------------------------------

    def handle_provider(self, method: str, path: str, headers: Message) -> Reply:
        """Answer one provider request the way the provider would (faults included)."""
        provider = self.provider
        refund_id = provider.route(path) if method == "GET" else None
        with self._lock:
            self._request_count += 1
            if refund_id is not None:
                self._request_counts[refund_id] = self._request_counts.get(refund_id, 0) + 1
                stored = self._refunds.get(refund_id)
                if stored is not None:
                    stored.requests += 1
            self.recent_requests.append(
                RecordedRequest(method, path, dict(headers.items()), time.time())
            )

        delay = self.faults.take(_DELAY, refund_id)
        if delay is not None and self._stopping.wait(delay.seconds):
            return Reply(status=0, drop=True)
        fault = self.faults.take(_PRE_FAULTS | provider.extra_error_faults, refund_id)
        if fault is not None:
            return self._fault_reply(fault, refund_id)
        if refund_id is None:
            status, body = provider.error("not_found", None)
            return json_reply(status, body)
        rejection = provider.authenticate(headers)
        if rejection is not None:
            return rejection
        return self._render(refund_id)

    def _fault_reply(self, fault: Fault, refund_id: str | None) -> Reply:
        if fault.name == "drop_connection":
            return Reply(status=0, drop=True)
        if fault.name == "html":
            return Reply(status=fault.status, body=_HTML_BODY, content_type="text/html")
        status, body = self.provider.error(fault.name, refund_id)
        headers: tuple[tuple[str, str], ...] = ()
        if fault.name == "rate_limited" and fault.retry_after is not None:
            headers = (("Retry-After", fault.retry_after),)
        return json_reply(status, body, headers)

    def _render(self, refund_id: str) -> Reply:
        provider = self.provider
        with self._lock:
            refund = self._refunds.get(refund_id)
            if refund is None:
                status, body = provider.error(self.not_found_fault, refund_id)
                return json_reply(status, body)
            elapsed = time.monotonic() - refund.created_mono
            current, began = refund.life.status_at(refund.reads, elapsed)
            refund.reads += 1
            if current != refund.status:
                refund.status = current
                refund.status_since = (
                    refund.created_at + began if began is not None else time.time()
                )
            obj = provider.render(refund, current, refund.status_since)
            obj.update(refund.overrides)
        faults = self.faults.take_all(BODY_FAULTS | provider.extra_body_faults, refund_id)
        truncate = False
        for fault in faults:
            if fault.name == "unknown_status":
                obj["status"] = fault.value
            elif fault.name == "extra_fields":
                obj.update(_EXTRA_FIELDS)
            elif fault.name == "oversized":
                obj["sandbox_padding"] = "x" * fault.size_bytes
            elif fault.name == "truncated_json":
                truncate = True
            else:
                provider.apply_body_fault(fault, obj, refund)
        body = provider.envelope(obj)
        if body is not obj and any(f.name == "extra_fields" for f in faults):
            body.update(_EXTRA_FIELDS)
        reply = json_reply(200, body)
        if truncate:
            return Reply(status=200, body=reply.body[: max(1, len(reply.body) // 2)])
        return reply

    def handle_admin(self, method: str, path: str, query: str, raw_body: bytes) -> Reply:
        """The ``/__sandbox/`` API: create refunds, set and clear faults, read counters."""
        try:
            return self._admin(method, path[len(ADMIN_PREFIX) :].strip("/"), query, raw_body)
        except (ValueError, TypeError, KeyError) as exc:
            return json_reply(400, {"error": str(exc)})

    def _admin(self, method: str, route: str, query: str, raw_body: bytes) -> Reply:
        params = {k: v[-1] for k, v in parse_qs(query).items()}
        if route == "refunds" and method == "POST":
            spec = _json_object(raw_body)
            _refuse_unknown_keys("refund", spec, _REFUND_KEYS)
            refund_id = self.create_refund(
                amount=spec.get("amount", 1000),
                currency=spec.get("currency"),
                life=spec.get("life", spec.get("status")),
                refund_id=spec.get("id"),
                reason=spec.get("reason"),
                created_at=spec.get("created_at"),
                overrides=spec.get("overrides"),
            )
            return json_reply(201, self.refund_state(refund_id))
        if route == "refunds" and method == "GET":
            with self._lock:
                refunds = [r.summary() for r in self._refunds.values()]
            return json_reply(200, {"refunds": refunds})
        if route.startswith("refunds/") and method == "GET":
            refund_id = route[len("refunds/") :]
            try:
                return json_reply(200, self.refund_state(refund_id))
            except KeyError:
                return json_reply(404, {"error": f"no refund {refund_id!r}"})
        if route == "faults" and method == "POST":
            spec = _json_object(raw_body)
            _refuse_unknown_keys("fault", spec, _FAULT_KEYS)
            if "name" not in spec:
                raise ValueError("a fault needs a name")
            fault = self.add_fault(spec.pop("name"), **spec)
            return json_reply(201, fault.to_json())
        if route == "faults" and method == "GET":
            return json_reply(200, {"faults": [f.to_json() for f in self.faults.active()]})
        if route == "faults" and method == "DELETE":
            removed = self.clear_faults(params.get("refund_id"))
            return json_reply(200, {"removed": removed})
        if route == "stats" and method == "GET":
            return json_reply(200, self.stats())
        if route == "stats" and method == "DELETE":
            self.reset_counters()
            return json_reply(200, self.stats())
        if route == "credentials" and method == "GET":
            return json_reply(200, self.credentials)
        return json_reply(404, {"error": f"no admin route {method} {ADMIN_PREFIX}{route}"})


def _refuse_unknown_keys(kind: str, spec: Mapping[str, Any], known: frozenset[str]) -> None:
    unknown = set(spec) - known
    if unknown:
        raise ValueError(f"unknown {kind} keys: {sorted(unknown)}; known: {sorted(known)}")


def _json_object(raw: bytes) -> dict[str, Any]:
    data = json.loads(raw or b"{}")
    if not isinstance(data, dict):
        raise ValueError("body must be a JSON object")
    return data


class _SandboxHTTPServer(ThreadingHTTPServer):
    """Tracks open connections so ``stop()`` can cut kept-alive ones."""

    daemon_threads = True
    # socketserver's default listen backlog is 5: a burst of connections (benchmarks, fuzzing,
    # the poller's retries) would wait a whole SYN retransmit (about 1 s) for a slot.
    request_queue_size = 128

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], sandbox: Sandbox
    ) -> None:
        self.sandbox = sandbox
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._conn_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._conn_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client hanging up mid-answer is normal (an oversized body, a client timeout)."""
        if isinstance(sys.exc_info()[1], ConnectionResetError | BrokenPipeError):
            return
        super().handle_error(request, client_address)

    def close_connections(self) -> None:
        with self._conn_lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    # Without this, headers and body leave as separate small writes and Nagle plus delayed ACK
    # make every answer take ~40 ms on loopback.
    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"
    server_version = "sandbox"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: per-request logging to stderr would dominate the sandbox's own time."""

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (HEAD, OPTIONS, a malformed request line) in JSON, as an
        API answers, never the stdlib's HTML page."""
        body = json.dumps(
            {"error": {"message": message or HTTPStatus(code).phrase, "status": code}}
        ).encode()
        send_final_answer(self, code, [("Content-Type", "application/json")], body)

    def _dispatch(self) -> None:
        sandbox = cast(_SandboxHTTPServer, self.server).sandbox
        raw_body = self._read_body()
        if raw_body is None:
            return
        split = urlsplit(self.path)
        if split.path.startswith(ADMIN_PREFIX):
            reply = sandbox.handle_admin(self.command, split.path, split.query, raw_body)
        else:
            reply = sandbox.handle_provider(self.command, split.path, self.headers)
        self._write(reply)

    def _read_body(self) -> bytes | None:
        length_header = self.headers.get("Content-Length")
        if not length_header:
            return b""
        try:
            length = int(length_header)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_ADMIN_BODY:
            self.close_connection = True
            self._write(json_reply(413, {"error": "request body too large or malformed"}))
            return None
        return self.rfile.read(length)

    def _write(self, reply: Reply) -> None:
        if reply.drop:
            self.close_connection = True
            return
        phrase = HTTPStatus(reply.status).phrase if reply.status in _PHRASES else ""
        lines = [
            f"HTTP/1.1 {reply.status} {phrase}",
            f"Date: {formatdate(usegmt=True)}",
            f"Content-Type: {reply.content_type}",
            f"Content-Length: {len(reply.body)}",
            f"X-Request-Id: {uuid.uuid4()}",
        ]
        lines.extend(f"{key}: {value}" for key, value in reply.headers)
        if self.close_connection:
            lines.append("Connection: close")
        # One write for head and body: fewer syscalls and no Nagle interaction at all.
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + reply.body)


_PHRASES = frozenset(status.value for status in HTTPStatus)
