"""A simulated community for the demo: a steady trickle of joins and leaves, a raid-like burst, bans."""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from src.sandbox import Sandbox

TICK_S = 0.4
# 400 joins in about 2 s, some 30 times the trickle's rate: long enough for the screen to show it under way.
BURST_SIZE, BURST_BATCH, BURST_PAUSE_S = 400, 20, 0.1
# When each one-off event happens, as a share of the scenario's length, in the order they happen.
MILESTONES: tuple[tuple[float, str], ...] = ((0.15, "ban"), (0.25, "burst"), (0.55, "ban"), (0.7, "unban"))
# How the screen names each one-off event, before it happens and while it does.
WORDS = {"ban": "a ban", "burst": f"a burst of {BURST_SIZE:,} joins", "unban": "an unban"}
FIRST_NAMES = (
    "ada", "bea", "cai", "dev", "eli", "fay", "gus", "hana", "ivo", "jun", "kira", "leo", "mina", "nico",
    "omar", "pia", "quin", "rosa", "sami", "tomas", "uma", "vera", "wes", "xena", "yuki", "zoe",
)  # fmt: skip
LAST_NAMES = (
    "moss", "lin", "okafor", "berg", "costa", "dune", "ember", "frost", "gale", "haze", "iver", "jett",
    "kane", "lark", "marsh", "north", "oak", "pike", "reed", "stone", "thorn", "vale", "wren", "york",
)  # fmt: skip

StepState = Literal["done", "now", "next"]


@dataclass(frozen=True)
class Step:
    """One thing the simulation did, is doing or does next, in words a person reads on the demo's screen."""

    text: str
    state: StepState = "done"


class Community:
    """Drives the sandbox like a live community would and keeps, in words, what it has done so far."""

    def __init__(
        self,
        sb: Sandbox,
        *,
        rng: random.Random | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._sb = sb
        self._rng = rng or random.Random(7)
        self._monotonic = monotonic  # injected with `sleep`, so a test runs the whole scenario instantly
        self._sleep = sleep
        self._joined: list[int] = []  # members who joined during the demo and are still there
        self._banned: list[int] = []
        self._names: dict[int, str] = {}  # username by member id, for the ban and unban lines
        self._usernames: set[str] = set()
        self._done: list[str] = []
        self._burst_joined: int | None = None  # how far the burst has got while it runs
        self._trickle_joins = 0
        self._trickle_leaves = 0
        self._started: float | None = None
        self._seconds = 0.0
        self._pending = list(MILESTONES)
        self._finished = False

    def steps(self) -> tuple[Step, ...]:
        """What the simulation has done (oldest first), what it is doing, and what comes next."""
        if self._started is None:
            return ()
        config = self._sb.config
        online = round(config.members * config.online_share)
        steps = [Step(f"a server of {config.members:,} members, {online:,} online, {config.bans:,} banned")]
        joins, left = f"{self._trickle_joins:,} joins", f"{self._trickle_leaves:,} members left"
        if self._finished:
            steps.append(Step(f"a steady trickle: {joins}, {left}"))
        else:
            trickle = f"a steady trickle every {TICK_S:g} s: {joins}, {left} so far, online count drifting"
            steps.append(Step(trickle, "now"))
        steps.extend(Step(text) for text in self._done)
        if self._burst_joined is not None:
            steps.append(Step(f"{WORDS['burst']}: {self._burst_joined:,} joined so far", "now"))
        if self._pending and not self._finished:
            at, action = self._pending[0]
            wait = max(1, math.ceil(self._started + at * self._seconds - self._monotonic()))
            steps.append(Step(f"next, in {wait}s: {WORDS[action]}", "next"))
        return tuple(steps)

    async def run(self, seconds: float) -> None:
        """Drive the sandbox for `seconds`: joins and leaves each tick, one burst, two bans and an unban."""
        self._started, self._seconds = self._monotonic(), seconds
        try:
            while (elapsed := (self._monotonic() - self._started) / seconds) < 1.0:
                while self._pending and self._pending[0][0] <= elapsed:
                    await self._milestone(self._pending.pop(0)[1])
                await self._tick()
                await self._sleep(TICK_S)
        finally:
            self._finished = True  # also when the demo cancels the run early

    async def _tick(self) -> None:
        """One tick of ordinary life: a few joins, perhaps a leave, the online count drifting."""
        for _ in range(self._rng.randint(1, 4)):
            await self._join()
            self._trickle_joins += 1
        if self._joined and self._rng.random() < 0.6:
            await self._sb.remove_member(self._joined.pop(self._rng.randrange(len(self._joined))))
            self._trickle_leaves += 1
        self._sb.set_online(max(0, self._sb.online_count + self._rng.randint(-15, 15)))

    async def _milestone(self, action: str) -> None:
        """The one-off events: a raid-like burst of joins, a ban of a new member, lifting the last ban."""
        if action == "burst":
            self._burst_joined, began = 0, self._monotonic()
            for _ in range(BURST_SIZE):
                await self._join()
                self._burst_joined += 1
                if self._burst_joined % BURST_BATCH == 0:
                    await self._sleep(BURST_PAUSE_S)
            self._burst_joined = None
            self._done.append(f"{WORDS['burst']} in {self._monotonic() - began:.1f} s (like a raid)")
        elif action == "ban" and self._joined:
            victim = self._joined.pop(self._rng.randrange(len(self._joined)))
            self._banned.append(victim)
            await self._sb.ban(victim)
            which = "a ban" if len(self._banned) == 1 else "another ban"
            self._done.append(f"{which}: @{self._names[victim]}, a new member (banned and removed)")
        elif action == "unban" and self._banned:
            freed = self._banned.pop()
            await self._sb.unban(freed)
            self._done.append(f"an unban: @{self._names[freed]} (the latest ban lifted)")

    async def _join(self) -> None:
        """A new account with a person's name joins."""
        username = self._new_username()
        uid = await self._sb.add_member(username=username)
        self._names[uid] = username
        self._joined.append(uid)

    def _new_username(self) -> str:
        """A unique lowercase username like Discord's, e.g. "mina.frost" or "mina.frost2"."""
        base = f"{self._rng.choice(FIRST_NAMES)}.{self._rng.choice(LAST_NAMES)}"
        name, n = base, 1
        while name in self._usernames:
            n += 1
            name = f"{base}{n}"
        self._usernames.add(name)
        return name
