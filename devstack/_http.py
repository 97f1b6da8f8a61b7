"""What the local HTTP servers (the gateway, the sandboxes) share."""

from __future__ import annotations

from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler


def send_final_answer(
    handler: BaseHTTPRequestHandler, status: int, headers: Iterable[tuple[str, str]], body: bytes
) -> None:
    """Answer and close: what a server sends for a request it could not read whole (http.server's
    own refusals), so nothing of that request is left to be read as the next one."""
    handler.send_response(status)
    for name, value in headers:
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.send_header("Connection", "close")
    handler.end_headers()
    if getattr(handler, "command", None) != "HEAD":
        handler.wfile.write(body)
    handler.close_connection = True
