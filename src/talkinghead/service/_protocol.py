"""uvicorn's HTTP/1.1 protocol with the API's errors: loaded only by a process that serves."""

from __future__ import annotations

import json

from uvicorn.protocols.http.h11_impl import H11Protocol

from ..errors import BadRequestError
from ._http import error_body


class JsonErrorsH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, answering a request that is not valid HTTP (uvicorn refuses it
    before the app sees it) with the API's JSON error instead of plain text."""

    def send_400_response(self, msg: str) -> None:
        body = json.dumps(error_body(BadRequestError.http_status, BadRequestError.code, f"not a valid HTTP request: {msg}")).encode()
        self.transport.write(
            b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\n"
            + b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n" + body
        )
        self.transport.close()
