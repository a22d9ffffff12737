"""A simulated community for the demo: a steady trickle of joins and leaves, a raid-like burst, bans."""

from __future__ import annotations

import asyncio
import random
import time

from src.sandbox import Sandbox

BURST_AT, BURST_SIZE = 0.25, 400  # a quarter of the way in, 400 accounts arrive at once


async def simulate(sb: Sandbox, seconds: float, *, rng: random.Random | None = None) -> None:
    """Drive `sb` for `seconds`: joins and leaves each tick, one burst, two bans and an unban."""
    rng = rng or random.Random(7)
    joined: list[int] = []
    start = time.monotonic()
    milestones = {BURST_AT: "burst", 0.15: "ban", 0.55: "ban", 0.7: "unban"}
    banned: list[int] = []
    while (elapsed := (time.monotonic() - start) / seconds) < 1.0:
        for at in [m for m in milestones if m <= elapsed]:
            action = milestones.pop(at)
            if action == "burst":
                for _ in range(BURST_SIZE):
                    joined.append(await sb.add_member())
            elif action == "ban" and joined:
                victim = joined.pop(rng.randrange(len(joined)))
                banned.append(victim)
                await sb.ban(victim)
            elif action == "unban" and banned:
                await sb.unban(banned.pop())
        for _ in range(rng.randint(1, 4)):
            joined.append(await sb.add_member())
        if joined and rng.random() < 0.6:
            await sb.remove_member(joined.pop(rng.randrange(len(joined))))
        sb.set_online(max(0, sb.online_count + rng.randint(-15, 15)))
        await asyncio.sleep(0.4)
