"""A keep-alive HTTP client that sends exactly the bytes it is given, as a browser would
present them (User-Agent, `Host: localhost`), with a time limit on every request."""

from __future__ import annotations

import http.client
import socket
from dataclasses import dataclass
from urllib.parse import quote_from_bytes

# A real browser's User-Agent and Host: a signature WAF scores tool User-Agents and numeric
# Host headers on their own, which would credit it with blocking a banner.
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
BROWSER_HEADERS = {
    "Host": "localhost",
    "User-Agent": USER_AGENT,
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "en-US,en;q=0.5",
}


def encode(value: bytes | str) -> str:
    """`value` percent-encoded whole (only unreserved characters stay), so that the server
    decodes exactly `value` from a query string or a form body."""
    if isinstance(value, str):
        value = value.encode("utf-8", "surrogateescape")
    return quote_from_bytes(value, safe="")


def form(pairs: list[tuple[str, bytes | str]]) -> str:
    """An `application/x-www-form-urlencoded` body or query string."""
    return "&".join(f"{encode(name)}={encode(value)}" for name, value in pairs)


@dataclass
class Answer:
    """What came back; `status` is None when the request failed (`error` says how)."""

    status: int | None
    headers: dict[str, str]
    body: bytes
    error: str | None = None


class Client:
    """One keep-alive connection to 127.0.0.1:`port`, reopened when the server closes it."""

    def __init__(self, port: int, timeout: float = 10.0):
        self.port = port
        self.timeout = timeout
        self.conn: http.client.HTTPConnection | None = None

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def _send(self, method: str, target: str, body: str | None) -> Answer:
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        headers = dict(BROWSER_HEADERS)
        data = None
        if body is not None:
            data = body.encode("ascii")
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Content-Length"] = str(len(data))
        self.conn.request(method, target, body=data, headers=headers)
        response = self.conn.getresponse()
        payload = response.read()
        answer = Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, payload)
        if response.will_close:
            self.close()
        return answer

    def request(self, method: str, target: str, body: str | None = None) -> Answer:
        """Sends one request. A connection the server closed while idle is reopened once;
        a timeout is not retried (the server may still be working on the request)."""
        for attempt in (1, 2):
            try:
                return self._send(method, target, body)
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as error:
                self.close()
                if attempt == 2:
                    return Answer(None, {}, b"", f"connection: {error.__class__.__name__}")
            except (socket.timeout, TimeoutError):
                self.close()
                return Answer(None, {}, b"", "timeout")
            except (OSError, http.client.HTTPException) as error:
                self.close()
                return Answer(None, {}, b"", f"{error.__class__.__name__}: {error}")
        raise AssertionError("unreachable")

    def get(self, path: str, params: list[tuple[str, bytes | str]] | None = None) -> Answer:
        target = path if not params else f"{path}?{form(params)}"
        return self.request("GET", target)

    def post(self, path: str, fields: list[tuple[str, bytes | str]]) -> Answer:
        return self.request("POST", path, form(fields))
