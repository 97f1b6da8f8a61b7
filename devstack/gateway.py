"""A local API Gateway (REST, Lambda proxy integration) built from template.yaml's routes.

Each request becomes the REST proxy event API Gateway sends (path parameters decoded, headers
and multi-value headers, query strings, a request context with a request id and the stage)
and goes to the function the template routes it to; the function's answer becomes the HTTP
response. What API Gateway answers itself is answered here the same way: a route miss uses
the template's MISSING_AUTHENTICATION_TOKEN gateway response, a function error is 502
`{"message": "Internal server error"}`, an oversized request is 413.

SigV4 is not checked locally (there are no IAM identities here): requests may be unsigned.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from devstack._http import send_final_answer
from devstack.aws.lambdas import InvokeResult
from devstack.aws.template import Api, Route

# API Gateway's own limits: a 10 MB payload, 10,240 bytes of headers.
MAX_BODY_BYTES = 10 * 1024 * 1024
MAX_HEADER_BYTES = 10_240
DRAIN_LIMIT_BYTES = 64 * 1024 * 1024
API_ID = "local000001"
ACCOUNT_ID = "123456789012"

Invoke = Callable[[str, dict[str, Any]], InvokeResult]


@dataclass(frozen=True)
class CompiledRoute:
    route: Route
    pattern: re.Pattern[str]
    literal_segments: int

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if self.route.method not in (method, "ANY"):
            return None
        found = self.pattern.fullmatch(path)
        return None if found is None else found.groupdict()


def compile_route(route: Route) -> CompiledRoute:
    """`/refunds/{provider}/{refund_id}` → a regex with one named group per parameter."""
    parts = []
    literal = 0
    for segment in route.path.strip("/").split("/"):
        greedy = re.fullmatch(r"\{(\w+)\+\}", segment)
        single = re.fullmatch(r"\{(\w+)\}", segment)
        if greedy:
            parts.append(f"(?P<{greedy[1]}>.+)")
        elif single:
            parts.append(f"(?P<{single[1]}>[^/]+)")
        else:
            parts.append(re.escape(segment))
            literal += 1
    return CompiledRoute(route, re.compile("/" + "/".join(parts)), literal)


class RouteTable:
    """API Gateway's choice among matching routes: the most literal path, then GET over ANY."""

    def __init__(self, routes: tuple[Route, ...]) -> None:
        self._routes = sorted(
            (compile_route(r) for r in routes),
            key=lambda c: (-c.literal_segments, c.route.method == "ANY"),
        )

    def resolve(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for compiled in self._routes:
            raw = compiled.match(method, path)
            if raw is not None:
                return compiled.route, {k: unquote(v) for k, v in raw.items()}
        return None


def proxy_event(
    *,
    route: Route,
    method: str,
    raw_path: str,
    path_parameters: Mapping[str, str],
    headers: list[tuple[str, str]],
    body: bytes,
    stage: str,
    source_ip: str,
) -> dict[str, Any]:
    """The REST API proxy event for one request, as API Gateway builds it."""
    split = urlsplit(raw_path)
    query = parse_qsl(split.query, keep_blank_values=True)
    single_headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    for name, value in headers:
        single_headers[name] = value
        multi_headers.setdefault(name, []).append(value)
    multi_query: dict[str, list[str]] = {}
    for name, value in query:
        multi_query.setdefault(name, []).append(value)
    try:
        text_body: str | None = body.decode("utf-8") if body else None
        encoded = False
    except UnicodeDecodeError:
        text_body, encoded = base64.b64encode(body).decode("ascii"), True
    now = datetime.now(UTC)
    request_id = str(uuid.uuid4())
    host = single_headers.get("Host", "127.0.0.1")
    return {
        "resource": route.path,
        "path": split.path,
        "httpMethod": method,
        "headers": single_headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": dict(path_parameters) or None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "local",
            "resourcePath": route.path,
            "httpMethod": method,
            "extendedRequestId": request_id,
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "path": f"/{stage}{split.path}",
            "accountId": ACCOUNT_ID,
            "protocol": "HTTP/1.1",
            "stage": stage,
            "domainPrefix": API_ID,
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "requestId": request_id,
            "identity": {
                "sourceIp": source_ip,
                "userAgent": single_headers.get("User-Agent"),
                "accountId": None,
                "caller": None,
                "user": None,
                "userArn": None,
                "accessKey": None,
                "cognitoIdentityPoolId": None,
                "cognitoIdentityId": None,
                "cognitoAuthenticationType": None,
                "cognitoAuthenticationProvider": None,
                "principalOrgId": None,
            },
            "domainName": host,
            "apiId": API_ID,
        },
        "body": text_body,
        "isBase64Encoded": encoded,
    }


@dataclass(frozen=True)
class GatewayAnswer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def gateway_response(
    api: Api, response_type: str, default_status: int, message: str
) -> GatewayAnswer:
    """What API Gateway answers itself, from the API's gateway responses when declared (the
    `x-amazon-apigateway-gateway-responses` SAM writes from the template's GatewayResponses)."""
    # As API Gateway does: a type the template does not declare falls back to DEFAULT_4XX or
    # DEFAULT_5XX (their body, the type's own status).
    fallback = "DEFAULT_5XX" if default_status >= 500 else "DEFAULT_4XX"
    declared = api.gateway_responses.get(response_type)
    if declared is None:
        declared = {
            k: v
            for k, v in (api.gateway_responses.get(fallback) or {}).items()
            if k != "statusCode"
        }
    status = int(declared.get("statusCode", default_status))
    headers = [("Content-Type", "application/json"), ("x-amzn-ErrorType", response_type)]
    template = (declared.get("responseTemplates") or {}).get("application/json")
    if template:
        body = template.replace("$context.error.messageString", json.dumps(message))
    else:
        body = json.dumps({"message": message})
    return GatewayAnswer(status, headers, body.encode("utf-8"))


def function_answer(result: InvokeResult) -> GatewayAnswer | None:
    """The HTTP response a proxy function's return value describes; None if malformed."""
    if not result.ok:
        return None
    payload = result.payload
    if not isinstance(payload, dict) or not isinstance(payload.get("statusCode"), int):
        return None
    headers: list[tuple[str, str]] = []
    for name, values in (payload.get("multiValueHeaders") or {}).items():
        headers += [(name, str(v)) for v in values]
    seen = {name.lower() for name, _ in headers}
    headers += [
        (k, str(v)) for k, v in (payload.get("headers") or {}).items() if k.lower() not in seen
    ]
    raw = payload.get("body") or ""
    body = base64.b64decode(raw) if payload.get("isBase64Encoded") else str(raw).encode("utf-8")
    return GatewayAnswer(payload["statusCode"], headers, body)


# http.server's own error statuses, as the API Gateway response types that answer them.
_GATEWAY_RESPONSE_BY_STATUS = {
    400: "BAD_REQUEST_BODY",
    413: "REQUEST_TOO_LARGE",
    414: "REQUEST_TOO_LARGE",
    431: "REQUEST_TOO_LARGE",
}


def _read_chunked(stream: Any, limit: int) -> bytes | str | None:
    """A `Transfer-Encoding: chunked` body: its bytes, a reason it is malformed, or None when
    it is larger than `limit`."""
    body = bytearray()
    while True:
        size_line = stream.readline(1026)
        size_text = size_line.split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            return "malformed chunked body"
        if size < 0:
            return "malformed chunked body"
        if size == 0:
            while stream.readline(1026) not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return bytes(body)
        if len(body) + size > limit:
            return None
        chunk = stream.read(size)
        if len(chunk) != size or stream.readline(3) not in (b"\r\n", b"\n"):
            return "malformed chunked body"
        body += chunk


def _drain(stream: Any, length: int) -> None:
    remaining = length
    while remaining > 0:
        chunk = stream.read(min(remaining, 1 << 16))
        if not chunk:
            return
        remaining -= len(chunk)


class _GatewayHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default listen backlog is 5: a burst of clients would wait a whole SYN
    # retransmit (about 1 s) for a slot.
    request_queue_size = 128


class LocalApiGateway:
    """The HTTP server: `with LocalApiGateway(api, invoke, port=3000) as gateway: ...`."""

    def __init__(
        self, api: Api, invoke: Invoke, *, host: str = "127.0.0.1", port: int = 3000
    ) -> None:
        self.api = api
        self._invoke = invoke
        self._routes = RouteTable(api.routes)
        try:
            self._server = _GatewayHTTPServer((host, port), self._handler_class())
        except OSError as exc:
            raise OSError(f"port {port} on {host} is already in use ({exc.strerror})") from None
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> LocalApiGateway:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> LocalApiGateway:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def handle(
        self,
        method: str,
        raw_path: str,
        headers: list[tuple[str, str]],
        body: bytes,
        source_ip: str,
    ) -> GatewayAnswer:
        """One request, start to finish (also usable without a socket, in tests)."""
        path = urlsplit(raw_path).path
        resolved = self._routes.resolve(method, path)
        if resolved is None:
            return gateway_response(
                self.api, "MISSING_AUTHENTICATION_TOKEN", 403, "Missing Authentication Token"
            )
        route, parameters = resolved
        event = proxy_event(
            route=route,
            method=method,
            raw_path=raw_path,
            path_parameters=parameters,
            headers=headers,
            body=body,
            stage=self.api.stage_name,
            source_ip=source_ip,
        )
        result = self._invoke(route.function, event)
        if result.error_type == "Sandbox.Timedout":
            return gateway_response(
                self.api, "INTEGRATION_TIMEOUT", 504, "Endpoint request timed out"
            )
        answer = function_answer(result)
        if answer is None:
            return gateway_response(self.api, "DEFAULT_5XX", 502, "Internal server error")
        return answer

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body in one segment: no 40 ms stalls

            def _serve(self) -> None:
                answer = self._answer()
                self.send_response(answer.status)
                for name, value in answer.headers:
                    if name.lower() not in ("content-length", "connection"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
                if self.close_connection:
                    # Said out loud, or a keep-alive client sends its next request into a
                    # socket we are closing.
                    self.send_header("Connection", "close")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(answer.body)

            def _answer(self) -> GatewayAnswer:
                header_bytes = sum(len(k) + len(v) + 4 for k, v in self.headers.items())
                if header_bytes > MAX_HEADER_BYTES:
                    self.close_connection = True
                    return gateway_response(
                        gateway.api, "REQUEST_TOO_LARGE", 431, "Request headers too large"
                    )
                if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                    self.close_connection = True  # what is left of a bad stream is unread
                    chunked = _read_chunked(self.rfile, MAX_BODY_BYTES)
                    if chunked is None:
                        return gateway_response(
                            gateway.api, "REQUEST_TOO_LARGE", 413, "Request Too Long"
                        )
                    if isinstance(chunked, str):
                        return gateway_response(gateway.api, "BAD_REQUEST_BODY", 400, chunked)
                    self.close_connection = False
                    return gateway.handle(
                        self.command,
                        self.path,
                        [(k, v) for k, v in self.headers.items()
                         if k.lower() != "transfer-encoding"],
                        chunked,
                        self.client_address[0],
                    )  # fmt: skip
                length_text = self.headers.get("Content-Length", "0") or "0"
                if not length_text.isdigit():
                    self.close_connection = True
                    return gateway_response(gateway.api, "BAD_REQUEST_BODY", 400, "Bad request")
                length = int(length_text)
                if length > MAX_BODY_BYTES:
                    # Read (and drop) what the client is still sending, so it sees the 413
                    # instead of a reset; past a sane bound, just close.
                    self.close_connection = True
                    if length <= DRAIN_LIMIT_BYTES:
                        _drain(self.rfile, length)
                    return gateway_response(
                        gateway.api, "REQUEST_TOO_LARGE", 413, "Request Too Long"
                    )
                body = self.rfile.read(length) if length else b""
                return gateway.handle(
                    self.command,
                    self.path,
                    list(self.headers.items()),
                    body,
                    self.client_address[0],
                )

            def __getattr__(self, name: str) -> Any:
                # Every method (GET, TRACE, QUERY…) reaches the route table, as API Gateway's
                # ANY does: the function answers 405, or the route miss its 404.
                if name.startswith("do_"):
                    return self._serve
                raise AttributeError(name)

            def log_message(self, format: str, *args: Any) -> None:
                # One quiet line per request is printed by the stack, not by http.server.
                return

            def send_error(
                self, code: int, message: str | None = None, explain: str | None = None
            ) -> None:
                # http.server's own errors (a request line too long, too many headers) as
                # the gateway's other answers: the template's gateway responses, never the
                # stdlib's HTML page.
                kind = _GATEWAY_RESPONSE_BY_STATUS.get(
                    code, "DEFAULT_5XX" if code >= 500 else "DEFAULT_4XX"
                )
                answer = gateway_response(
                    gateway.api, kind, code, message or HTTPStatus(code).phrase
                )
                send_final_answer(self, code, answer.headers, answer.body)

        return Handler
