"""One gateway websocket: an ordered outgoing queue, zlib-stream compression and a clean close."""

from __future__ import annotations

import asyncio
import json
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog
from aiohttp import web

from src.sandbox.gateway_session import DeferredPayload

if TYPE_CHECKING:
    from src.sandbox.gateway_session import Session

log = structlog.get_logger(__name__)

# How long a close handshake may take before the socket is dropped anyway.
CLOSE_TIMEOUT = 2.0


@dataclass(frozen=True)
class _Close:
    """Queue item asking the writer to close the socket after what is queued before it."""

    code: int
    reason: str


SentHook = Callable[[int, str | None], None]


class Connection:
    """Frames are queued synchronously (so dispatch order is sequence order) and written by one task."""

    def __init__(self, conn_id: int, ws: web.WebSocketResponse, *, compress: bool, on_sent: SentHook) -> None:
        self.id = conn_id
        self.session: Session | None = None
        self.close_requested = False
        self.done = asyncio.Event()
        self._ws = ws
        self._on_sent = on_sent
        self._broken = False
        # One compression context for the whole connection, as zlib-stream requires.
        self._compressor = zlib.compressobj() if compress else None
        self._queue: asyncio.Queue[dict[str, Any] | _Close] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None
        self._acks_due: deque[float] = deque()
        self._ack_timer: asyncio.TimerHandle | None = None

    def start(self) -> None:
        """Start the writer task."""
        self._writer = asyncio.create_task(self._write_loop(), name=f"sandbox-gateway-writer-{self.id}")

    @property
    def open(self) -> bool:
        """Whether frames sent now will still be written."""
        return not (self.close_requested or self._broken)

    def send(self, frame: dict[str, Any]) -> None:
        """Queue a frame (dropped once the connection is closing)."""
        if self.open:
            self._queue.put_nowait(frame)

    def acknowledge_heartbeat(self, ack: dict[str, Any], delay: float) -> None:
        """Queue `ack` after `delay` seconds (a network round trip): one per heartbeat, in arrival order."""
        loop = asyncio.get_running_loop()
        self._acks_due.append(loop.time() + delay)
        if self._ack_timer is None:
            self._ack_timer = loop.call_at(self._acks_due[0], self._send_due_acks, ack)

    def _send_due_acks(self, ack: dict[str, Any]) -> None:
        """Send the acknowledgement the timer was set for, any others now due, and time the next one."""
        loop = asyncio.get_running_loop()
        self._ack_timer = None
        self._acks_due.popleft()
        self.send(dict(ack))
        while self._acks_due and self._acks_due[0] <= loop.time():
            self._acks_due.popleft()
            self.send(dict(ack))
        if self._acks_due:
            self._ack_timer = loop.call_at(self._acks_due[0], self._send_due_acks, ack)

    def close(self, code: int, reason: str = "") -> None:
        """Queue a close with `code` after the frames already queued."""
        if not self.close_requested:
            self.close_requested = True
            log.debug("sandbox.gateway.close", conn=self.id, code=code, reason=reason)
            self._queue.put_nowait(_Close(code, reason))

    async def drained(self) -> None:
        """Wait until every queued frame has been written (or dropped)."""
        await self._queue.join()

    async def finish(self) -> None:
        """Close if still open, wait for the writer to end and release anyone waiting on `drained`."""
        self.close(1000)
        if self._ack_timer is not None:
            self._ack_timer.cancel()
            self._ack_timer = None
        if self._writer is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._writer), CLOSE_TIMEOUT + 1.0)
            except TimeoutError:
                self._writer.cancel()
                await asyncio.gather(self._writer, return_exceptions=True)
        while not self._queue.empty():
            self._queue.get_nowait()
            self._queue.task_done()
        self.done.set()

    async def _write_loop(self) -> None:
        """Write queued frames in order until a close item is reached."""
        while True:
            item = await self._queue.get()
            if isinstance(item, _Close):
                # `drained` means every frame went out; it must not wait for the peer's close handshake.
                self._queue.task_done()
                await self._close_socket(item)
                return
            try:
                if not self._broken:
                    await self._write(item)
            except (ConnectionError, RuntimeError) as exc:
                # The peer vanished mid-write; later frames are dropped until the close item arrives.
                self._broken = True
                log.debug("sandbox.gateway.write_failed", conn=self.id, error=str(exc))
            finally:
                self._queue.task_done()

    async def _close_socket(self, item: _Close) -> None:
        """Send the close frame and wait (bounded by CLOSE_TIMEOUT) for the peer's answer."""
        try:
            await self._ws.close(code=item.code, message=item.reason.encode())
        except (ConnectionError, RuntimeError) as exc:
            log.debug("sandbox.gateway.close_failed", conn=self.id, error=str(exc))

    async def _write(self, frame: dict[str, Any]) -> None:
        """Build a deferred payload, encode, compress if asked, send and report the frame."""
        data = frame.get("d")
        if isinstance(data, DeferredPayload):
            head = json.dumps({k: v for k, v in frame.items() if k != "d"}, separators=(",", ":"))
            text = f'{head[:-1]},"d":{data.build_json()}}}'
        else:
            text = json.dumps(frame, separators=(",", ":"), ensure_ascii=False)
        if self._compressor is not None:
            data = self._compressor.compress(text.encode()) + self._compressor.flush(zlib.Z_SYNC_FLUSH)
            await self._ws.send_bytes(data)
        else:
            await self._ws.send_str(text)
        self._on_sent(frame["op"], frame.get("t"))
