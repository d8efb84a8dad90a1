"""Request size limits: a body larger than the API accepts is refused before it is read whole.

``BodyLimit`` is a pure ASGI middleware. A request whose ``Content-Length`` exceeds
``max_bytes`` is answered ``413`` at once; a body without a length (chunked) is counted as it
arrives and refused with ``413`` as soon as it passes the limit (the application is told the
client went away and its own answer is dropped), so no request can make the server buffer
more than ``max_bytes`` of body. WebSocket and lifespan traffic pass untouched.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BodyLimit"]

logger = logging.getLogger(__name__)


class BodyLimit:
    """Refuse HTTP request bodies over ``max_bytes`` with 413; see the module docstring."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.refused = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, receive, send, declared)
            return
        seen = 0
        started = refused = False

        async def counted_receive() -> Message:
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    refused = True
                    if not started:
                        await self._refuse(scope, receive, send, seen)
                    return {
                        "type": "http.disconnect"
                    }  # the app stops reading; its answer is dropped
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counted_receive, tracked_send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, size: int) -> None:
        self.refused += 1
        logger.info(
            "%s %s: request body of %d+ bytes refused (limit %d)",
            scope.get("method"),
            scope.get("path"),
            size,
            self.max_bytes,
        )
        detail = f"request body too large: {size} bytes or more, the limit is {self.max_bytes}"
        await JSONResponse({"detail": detail}, status_code=413)(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    headers: Any = scope.get("headers") or ()
    for name, value in headers:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
