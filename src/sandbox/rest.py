"""The REST front door: routing, auth, injected faults and delays, rate limits, Cloudflare's ban, journal."""

from __future__ import annotations

from http import HTTPStatus

import structlog
from aiohttp import web

from src.sandbox.faults import DelayInjector, FaultInjector
from src.sandbox.journal import RequestRecord
from src.sandbox.ratelimit import BucketRegistry, BucketSpec, SlidingWindowLimiter, Verdict, round_up_ms
from src.sandbox.responses import (
    ApiError,
    HiddenRateLimited,
    Reply,
    not_found_route,
    rate_limited,
    unauthorized,
)
from src.sandbox.restcore import RestCall, RestContext, RouteDef
from src.sandbox.routes_channel import channel_routes
from src.sandbox.routes_core import core_routes
from src.sandbox.routes_guild import guild_routes
from src.sandbox.routes_interactions import interaction_routes

log = structlog.get_logger(__name__)

API_PREFIX = "/api/v10"
GLOBAL_SPEC = BucketSpec("global", 50, 1.0)  # 50 requests per second per bot
INVALID_LIMIT, INVALID_WINDOW = 10_000, 600.0  # 401/403/429 before Cloudflare bans the IP
CLOUDFLARE_BAN = 3600.0
INVALID_STATUSES = frozenset({401, 403, 429})


class RestApi:
    """Answers every HTTP request under the REST port except the gateway websocket."""

    def __init__(self, ctx: RestContext, faults: FaultInjector, delays: DelayInjector) -> None:
        self._ctx = ctx
        self._faults = faults
        self._delays = delays
        self._routes: list[RouteDef] = [
            *core_routes(),
            *guild_routes(),
            *channel_routes(),
            *interaction_routes(),
        ]
        self._buckets = BucketRegistry(ctx.clock, ctx.config.time_scale)
        self._invalid = SlidingWindowLimiter(
            ctx.clock, limit=INVALID_LIMIT, window=INVALID_WINDOW, time_scale=ctx.config.time_scale
        )
        self._banned_until: float | None = None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Answer one request and journal it."""
        clock = self._ctx.clock
        started = clock.monotonic()
        method = request.method
        emulated = request.path.startswith(API_PREFIX + "/")
        path = request.path[len(API_PREFIX) :] if emulated else request.path
        query = dict(request.query)
        reply, bucket = await self._answer(request, method, path, query, emulated)
        if reply.status in INVALID_STATUSES:
            self._count_invalid()
        self._ctx.journal.record_request(RequestRecord(started, method, path, query, reply.status, bucket))
        log.debug("sandbox.request", method=method, path=path, status=reply.status)
        delay = self._delays.match(f"{method} {path}")
        if delay is not None:
            # The request has taken effect (stored, dispatched, journaled); only its answer is late, as when
            # Discord is slow to respond: the client must not assume nothing happened before it hears back.
            log.info("sandbox.delayed_response", method=method, path=path, seconds=delay.seconds)
            await self._ctx.clock.sleep(delay.seconds)
        return reply.to_response()

    async def _answer(
        self, request: web.Request, method: str, path: str, query: dict[str, str], emulated: bool
    ) -> tuple[Reply, str | None]:
        """Decide the reply and the bucket it was counted in."""
        now = self._ctx.clock.monotonic()
        if self._banned_until is not None and now < self._banned_until:
            wait = round_up_ms(self._banned_until - now)
            return Reply(
                429, text="error code: 1015", headers={"Retry-After": str(int(wait))}, via=False
            ), None
        matched = self._match(method, path) if emulated else None
        if matched is None:
            self._ctx.journal.record_unknown_route(method, path)
            log.info("sandbox.unknown_route", method=method, path=path)
            return not_found_route().to_reply(), None
        route, params = matched
        if route.auth and request.headers.get("Authorization") != f"Bot {self._ctx.config.token}":
            return unauthorized().to_reply(), None
        fault = self._faults.match(f"{method} {path}")
        if fault is not None:
            log.info("sandbox.fault", method=method, path=path, status=fault.status)
            if fault.status == 429:
                scope = "global" if fault.global_429 else "user"
                return rate_limited(fault.retry_after, is_global=fault.global_429, scope=scope), None
            return ApiError(fault.status, 0, f"{fault.status}: {_phrase(fault.status)}").to_reply(), None
        global_verdict = self._buckets.take(GLOBAL_SPEC)
        if not global_verdict.allowed:
            return rate_limited(global_verdict.retry_after, is_global=True, scope="global"), None
        verdict = self._buckets.take(route.spec, params.get(route.major, "") if route.major else "")
        if not verdict.allowed:
            reply = rate_limited(verdict.retry_after, is_global=False, scope="user")
        else:
            call = RestCall(request, method, path, params, query, self._ctx.state.attachment_size_limit)
            try:
                reply = await route.handler(self._ctx, call)
            except ApiError as error:
                reply = error.to_reply()
            except HiddenRateLimited as limited:
                reply = rate_limited(limited.retry_after, is_global=False, scope="user")
        reply.headers.update(self._ratelimit_headers(verdict))
        return reply, verdict.bucket

    def _match(self, method: str, path: str) -> tuple[RouteDef, dict[str, str]] | None:
        """Find the route for `method path`."""
        for candidate in self._routes:
            if candidate.method != method:
                continue
            found = candidate.regex.match(path)
            if found:
                return candidate, found.groupdict()
        return None

    def _ratelimit_headers(self, verdict: Verdict) -> dict[str, str]:
        """The X-RateLimit-* headers of a route bucket."""
        reset_at = self._ctx.clock.now().timestamp() + verdict.reset_after
        return {
            "X-RateLimit-Limit": str(verdict.limit),
            "X-RateLimit-Remaining": str(verdict.remaining),
            "X-RateLimit-Reset": f"{reset_at:.3f}",
            "X-RateLimit-Reset-After": f"{verdict.reset_after:.3f}",
            "X-RateLimit-Bucket": verdict.bucket,
        }

    def _count_invalid(self) -> None:
        """Count a 401/403/429 and ban like Cloudflare once 10,000 land within 10 minutes."""
        now = self._ctx.clock.monotonic()
        if self._invalid.acquire("invalid") > 0 and (self._banned_until is None or now >= self._banned_until):
            self._banned_until = now + CLOUDFLARE_BAN / self._ctx.config.time_scale
            log.warning("sandbox.cloudflare_ban", seconds=self._banned_until - now)

    @property
    def invalid_requests(self) -> int:
        """401/403/429 answers inside the current 10-minute window."""
        return self._invalid.count("invalid")


def _phrase(status: int) -> str:
    """The reason phrase of an HTTP status ("Internal Server Error")."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
