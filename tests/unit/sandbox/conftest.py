"""Fixtures for the sandbox tests: a started sandbox on a manual clock, a REST helper and a gateway helper."""

from __future__ import annotations

import asyncio
import json
import zlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from src.sandbox import Sandbox, SandboxConfig
from tests.clock import ManualClock

ZLIB_SUFFIX = b"\x00\x00\xff\xff"


@dataclass
class Answer:
    """One REST answer as a test sees it."""

    status: int
    headers: Any
    body: Any
    raw: bytes


class RestClient:
    """Calls the sandbox's REST API the way discord.py does (Authorization: Bot <token>)."""

    def __init__(self, session: aiohttp.ClientSession, sandbox: Sandbox) -> None:
        self.session = session
        self.sandbox = sandbox

    async def call(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: dict[str, Any] | None = None,
        token: str | None = "default",
    ) -> Answer:
        """Send a request to `rest_url + path` and decode a JSON body when there is one."""
        headers = {}
        if token == "default":
            headers["Authorization"] = f"Bot {self.sandbox.config.token}"
        elif token is not None:
            headers["Authorization"] = token
        url = self.sandbox.rest_url + path
        async with self.session.request(method, url, json=json_body, params=params, headers=headers) as resp:
            raw = await resp.read()
            body = json.loads(raw) if resp.headers.get("Content-Type") == "application/json" else raw
            return Answer(resp.status, resp.headers, body, raw)


class GatewayClient:
    """A minimal gateway client: decompresses zlib-stream frames and waits with timeouts."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.binary_frames: list[bytes] = []
        self.text_frames = 0
        self._inflate = zlib.decompressobj()
        self._buffer = bytearray()

    @classmethod
    async def connect(
        cls, session: aiohttp.ClientSession, url: str, *, compress: bool = True
    ) -> GatewayClient:
        """Open a connection with discord.py's query string."""
        query = "?encoding=json&v=10" + ("&compress=zlib-stream" if compress else "")
        return cls(await session.ws_connect(url + query, autoclose=False))

    async def recv(self, timeout: float = 3.0) -> dict[str, Any] | None:
        """Return the next frame, or None once the server closed the socket."""
        while True:
            message = await self.ws.receive(timeout=timeout)
            if message.type is aiohttp.WSMsgType.TEXT:
                self.text_frames += 1
                return dict(json.loads(message.data))
            if message.type is aiohttp.WSMsgType.BINARY:
                self.binary_frames.append(message.data)
                self._buffer.extend(message.data)
                if not message.data.endswith(ZLIB_SUFFIX):
                    continue
                text = self._inflate.decompress(bytes(self._buffer))
                self._buffer.clear()
                return dict(json.loads(text))
            if message.type is aiohttp.WSMsgType.CLOSE:
                await self.ws.close()
            return None

    async def recv_until(self, event: str, timeout: float = 3.0) -> dict[str, Any]:
        """Skip frames until the dispatch `event` arrives."""
        async with asyncio.timeout(timeout):
            while True:
                frame = await self.recv(timeout)
                if frame is None:
                    raise AssertionError(f"socket closed ({self.ws.close_code}) before {event}")
                if frame.get("t") == event:
                    return frame

    async def send(self, op: int, d: Any) -> None:
        """Send one frame."""
        await self.ws.send_str(json.dumps({"op": op, "d": d}))

    async def identify(self, token: str, intents: int, **extra: Any) -> None:
        """Send IDENTIFY (after reading HELLO)."""
        await self.send(2, {"token": token, "intents": intents, "properties": {}, **extra})

    async def wait_closed(self, timeout: float = 3.0) -> int | None:
        """Read until the server closes; return the close code."""
        async with asyncio.timeout(timeout):
            while await self.recv(timeout) is not None:
                pass
        return self.ws.close_code


async def until(predicate: Callable[[], Any], timeout: float = 3.0) -> None:
    """Poll `predicate` until it holds (nothing signals "a response is parked on the clock")."""
    async with asyncio.timeout(timeout):
        while True:
            if predicate():
                return
            await asyncio.sleep(0.005)


@pytest.fixture
def clock() -> ManualClock:
    """A clock that only moves when the test says so."""
    return ManualClock()


@pytest.fixture
def config() -> SandboxConfig:
    """A small guild with 2,500 seeded bans."""
    return SandboxConfig(members=50, bans=2500)


@pytest.fixture
async def sandbox(config: SandboxConfig, clock: ManualClock) -> AsyncIterator[Sandbox]:
    """A started sandbox, stopped after the test."""
    async with Sandbox(config, clock=clock) as sb:
        yield sb


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client session."""
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
def api(session: aiohttp.ClientSession, sandbox: Sandbox) -> RestClient:
    """The REST helper bound to the sandbox."""
    return RestClient(session, sandbox)


@pytest.fixture
async def gateway(session: aiohttp.ClientSession, sandbox: Sandbox) -> AsyncIterator[GatewayClient]:
    """A compressed gateway connection whose HELLO has been read."""
    client = await GatewayClient.connect(session, sandbox.gateway_url)
    hello = await client.recv()
    assert hello is not None
    assert hello["op"] == 10
    yield client
    await client.ws.close()
