"""Benchmark 7: every counter kind at once, for guilds of 1,000 to 1,000,000 members.

Thirteen counters: the original three (members, online, bans) and ten from a COUNTERS_FILE ({humans},
{bots}, {boosts}, {boost_tier}, {channels}, {roles}, one {role:ID} per seeded role, {goal} with a preset goal).
The guild has 1 % bots and three roles of 5,000 members each. Three things are measured:

- the bot's RSS once every counter shows its correct value (plus a settle), against the same at 1,000 members;
- the first rename after spawn, and when the member-list counters ({humans}, {bots}) first showed their value:
  they wait for the member-list pass, the others must not;
- the member-list pass itself: its seconds, the requests it took (one gateway op 8, no REST paging), and the
  bot's RSS during it (peak, sampled every few milliseconds from a thread) and after it.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import psutil

from src.core.config import Settings
from src.sandbox import Sandbox, SandboxConfig
from src.services.stats.templates import CounterTemplate
from tests.performance.harness import MB, BenchResult, BotProcess, requests_by_route

TARGET_RSS_RATIO = 1.15  # RSS at the largest guild within 15 % of RSS at the smallest
TARGET_FIRST_RENAME_S = 1.5
BOT_SHARE = 0.01
SEEDED_ROLES = 3
ROLE_MEMBERS = 5_000
BOOSTS = 7  # boost tier 2
BANS = 25  # one ban page, as in the memory and startup benchmarks
VOICE, CATEGORY = 2, 4
OP_REQUEST_MEMBERS = 8
CHUNK_EVENT = "GUILD_MEMBERS_CHUNK"
MEMBERS_ROUTE = "GET /guilds/{id}/members"
PASS_DONE = "counter.member_pass_done"
MEMBER_LIST_LABELS = ("humans", "bots")  # the counters that wait for the member-list pass
SAMPLE_EVERY = 0.01  # seconds between RSS samples


@dataclass(frozen=True)
class Counter:
    """One counter of the run: a label for the report, its channel, its template and `{count}`'s key."""

    label: str
    channel_id: int
    template: str
    count_key: str | None = None


def declare_counters(sb: Sandbox) -> list[Counter]:
    """The original three counters plus one voice channel per other counter kind, made before the bot starts."""
    ids = sb.channel_ids
    defaults = Settings.model_fields
    counters = [
        Counter(key, ids[key], str(defaults[f"{setting}_count_template"].default), key)
        for key, setting in (("members", "member"), ("online", "online"), ("bans", "ban"))
    ]
    templates = {
        "humans": "🧑 Humans: {humans:,}",
        "bots": "🤖 Bots: {bots:,}",
        "boosts": "🚀 Boosts: {boosts}",
        "boost_tier": "💎 Boost tier {boost_tier}",
        "channels": "💬 Channels: {channels}",
        "roles": "🎭 Roles: {roles}",
        "goal": "🎯 {members:compact} / {goal:,}",
    }
    for number in range(1, SEEDED_ROLES + 1):
        templates[f"role {number}"] = f"⭐ Role {number}: {{role:{sb.role_ids[f'Role {number}']}:,}}"
    for label, template in templates.items():
        channel = sb.state.create_channel(label, VOICE)
        counters.append(Counter(label, channel.id, template))
    return counters


def counters_toml(counters: list[Counter]) -> str:
    """The COUNTERS_FILE declaring every counter that is not one of the original three."""
    tables = [
        f"[[counter]]\nchannel = {c.channel_id}\ntemplate = {json.dumps(c.template, ensure_ascii=False)}\n"
        for c in counters
        if c.count_key is None
    ]
    return "\n".join(tables)


def goal_target(members: int) -> tuple[int, int]:
    """A goal above the member count, and its step: the next multiple of a tenth of the guild."""
    step = max(10, members // 10)
    return (members // step + 1) * step, step


def goals_json(sb: Sandbox, target: int, step: int) -> str:
    """`DATA_DIR/state/goals.json` with a members goal for the sandbox's guild."""
    goal = {"metric": "members", "target": target, "step": step, "channel_id": str(sb.channel_ids["stats"])}
    document = {"schema_version": 1, "guilds": {str(sb.guild_id): {"goal": {**goal, "reached": None}}}}
    return json.dumps(document)


def true_values(sb: Sandbox, goal: int) -> dict[str, int]:
    """Every value a counter can show, as the sandbox knows it."""
    values = {
        "members": sb.member_count,
        "humans": sb.member_count - sb.bot_member_count,
        "bots": sb.bot_member_count,
        "online": sb.online_count,
        "bans": sb.ban_count,
        "boosts": sb.state.boosts,
        "boost_tier": sb.state.premium_tier,
        "channels": sum(1 for c in sb.state.channels.values() if c.type != CATEGORY),
        "roles": len(sb.state.roles) - 1,  # @everyone is not counted
        "goal": goal,
    }
    values.update({f"role:{role_id}": sb.role_member_count(role_id) for role_id in sb.role_ids.values()})
    return values


def expected_names(counters: list[Counter], values: dict[str, int]) -> dict[str, str]:
    """The name each counter's channel must show, by label."""
    names = {}
    for counter in counters:
        name = CounterTemplate.parse(counter.template, count_key=counter.count_key).render(values)
        if name is None:
            raise ValueError(f"{counter.label}: a value of {counter.template!r} is missing")
        names[counter.label] = name
    return names


def renames_until_correct(sb: Sandbox, counter: Counter, name: str) -> tuple[float | None, float | None, int]:
    """Sandbox-clock times of a channel's first rename and first correct name, and the wrong names before it."""
    renames = sb.journal.renames(counter.channel_id)
    first = renames[0].t if renames else None
    correct = next((r.t for r in renames if r.new == name), None)
    wrong = sum(1 for r in renames if correct is None or r.t < correct)
    return first, correct, wrong


def log_event(bot: BotProcess, event: str) -> dict[str, Any] | None:
    """The first JSON line of the bot's log whose event is `event`, or None."""
    bot.log_tail(0)  # flushes our side of the file
    try:
        lines = bot.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    for line in lines:
        if event not in line or not line.startswith("{"):
            continue
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if isinstance(data, dict) and data.get("event") == event:
            return data
    return None


@dataclass
class RssSampler:
    """The bot's RSS every `every` s from a thread, so a busy event loop (the sandbox streaming) skips none."""

    pid: int
    every: float = SAMPLE_EVERY
    samples: list[tuple[float, float]] = field(default_factory=list)  # (time.monotonic, MiB)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> RssSampler:
        """Start sampling."""
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Stop sampling."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def peak(self, since: float, until: float) -> float | None:
        """The highest RSS sampled in [since, until] (MiB), or None without a sample there."""
        values = [mb for t, mb in self.samples if since <= t <= until]
        return max(values) if values else None

    def _run(self) -> None:
        process = psutil.Process(self.pid)
        while not self._stop.is_set():
            try:
                rss = process.memory_info().rss / MB
            except psutil.Error:
                return  # the bot has exited
            self.samples.append((time.monotonic(), rss))
            self._stop.wait(self.every)


def _since(t: float | None, start: float) -> float | None:
    return None if t is None else t - start


async def measure_counters(members: int, settle: float = 2.0, timeout: float = 180.0) -> dict[str, Any]:
    """Spawn the bot with every counter kind for a guild of `members`; time its renames, its pass and its RSS."""
    config = SandboxConfig(
        members=members,
        bans=BANS,
        bot_share=BOT_SHARE,
        seeded_roles=SEEDED_ROLES,
        role_members=ROLE_MEMBERS,
        boosts=BOOSTS,
    )
    with tempfile.TemporaryDirectory(prefix="statsbot-bench-counters-") as folder:
        workdir = Path(folder)
        async with Sandbox(config) as sb:
            counters = declare_counters(sb)
            target, step = goal_target(sb.member_count)
            names = expected_names(counters, true_values(sb, target))
            counters_file = workdir / "counters.toml"
            counters_file.write_text(counters_toml(counters), encoding="utf-8")
            goals = workdir / "data" / "state" / "goals.json"
            goals.parent.mkdir(parents=True)
            goals.write_text(goals_json(sb, target, step), encoding="utf-8")

            def all_correct() -> bool:
                return all(sb.channel_name(c.channel_id) == names[c.label] for c in counters)

            async with BotProcess(sb, workdir, counters_file=counters_file) as bot:
                with RssSampler(bot.pid) as sampler:
                    await bot.wait_until(all_correct, timeout, "every counter's correct name")
                    done = await bot.wait_until(lambda: log_event(bot, PASS_DONE), 10.0, PASS_DONE)
                    shown_at = time.monotonic()
                    await asyncio.sleep(settle)  # let the work that follows the renames finish
                    rss_after = bot.rss_mb()
                    cpu_s = bot.cpu_seconds()
                    still_correct = all_correct()
            spawned = bot.spawned_at
            renames = {c.label: renames_until_correct(sb, c, names[c.label]) for c in counters}
            # The pass: from the bot's op 8 to the last chunk the sandbox sent for it.
            asks = [g.t for g in sb.journal.gateway if g.direction == "recv" and g.op == OP_REQUEST_MEMBERS]
            chunks = [g.t for g in sb.journal.gateway if g.direction == "send" and g.event == CHUNK_EVENT]
            pass_start = asks[0] if asks else spawned
            member_list_correct = max(
                (renames[label][1] or shown_at for label in MEMBER_LIST_LABELS), default=shown_at
            )
            pass_end = max(chunks[-1] if chunks else pass_start, member_list_correct)
            peak = sampler.peak(pass_start, pass_end)
            others = [r[0] for label, r in renames.items() if label not in MEMBER_LIST_LABELS]
            return {
                "members": members,
                "bots": sb.bot_member_count,
                "counters": {c.label: {"template": c.template, "name": names[c.label]} for c in counters},
                "rss_mb": rss_after,
                "cpu_s": cpu_s,
                "settle_s": settle,
                "names_still_correct_after_settle": still_correct,
                "first_rename_s": min(t for r in renames.values() if (t := r[0]) is not None) - spawned,
                "others_first_rename_s": {
                    label: _since(r[0], spawned) for label, r in renames.items() if label not in MEMBER_LIST_LABELS
                },
                "others_last_first_rename_s": max(t for t in others if t is not None) - spawned
                if all(t is not None for t in others)
                else None,
                "correct_s": {label: _since(r[1], spawned) for label, r in renames.items()},
                "member_list_correct_s": member_list_correct - spawned,
                "member_list_wrong_names": sum(renames[label][2] for label in MEMBER_LIST_LABELS),
                "all_correct_s": max(r[1] or shown_at for r in renames.values()) - spawned,
                "pass": {
                    "log": {k: done.get(k) for k in ("members", "bots", "seconds")},
                    "gateway_requests": sum(1 for t in asks if spawned <= t <= shown_at),
                    "chunks": len(chunks),
                    "rest_member_requests": requests_by_route(sb, spawned, shown_at).get(MEMBERS_ROUTE, 0),
                    "start_s": pass_start - spawned,
                    "end_s": pass_end - spawned,
                    "rss_peak_mb": peak,
                    "rss_before_mb": sampler.peak(spawned, pass_start),
                    "samples": len(sampler.samples),
                },
                "requests": requests_by_route(sb, spawned, shown_at),
            }


async def bench_counters(
    sizes: tuple[int, ...] = (1_000, 1_000_000), settle: float = 2.0, timeout: float = 180.0
) -> BenchResult:
    """Every counter kind at each guild size: RSS ratio, first renames, and the member-list pass at the largest."""
    result = BenchResult("counters", "7. Every counter kind")
    runs = [await measure_counters(size, settle, timeout) for size in sizes]
    result.details = {"settle_s": settle, "runs": runs}
    for run in runs:
        size = f"{run['members']:,} members"
        result.add(f"{size}: RSS with every counter kind shown", run["rss_mb"], "MiB")
        result.add(
            f"{size}: spawn to first counter rename",
            run["first_rename_s"],
            "s",
            target=f"<= {TARGET_FIRST_RENAME_S:g} s",
            passed=run["first_rename_s"] <= TARGET_FIRST_RENAME_S,
        )
        others = run["others_last_first_rename_s"]
        result.add(
            f"{size}: spawn to the last first rename of the 11 counters not waiting for the member list",
            others,
            "s",
            target=f"<= {TARGET_FIRST_RENAME_S:g} s",
            passed=others is not None and others <= TARGET_FIRST_RENAME_S,
        )
        result.add(
            f"{size}: spawn to {{humans}} and {{bots}} correct (after the member-list pass)",
            run["member_list_correct_s"],
            "s",
        )
        result.add(
            f"{size}: {{humans}}/{{bots}} names shown before their value was counted",
            run["member_list_wrong_names"],
            target="0",
            passed=run["member_list_wrong_names"] == 0,
        )
    smallest, largest = runs[0], runs[-1]
    ratio = largest["rss_mb"] / smallest["rss_mb"]
    result.add(
        f"RSS ratio {largest['members']:,} / {smallest['members']:,} members, every counter kind",
        ratio,
        "x",
        target=f"<= {TARGET_RSS_RATIO:g}",
        passed=ratio <= TARGET_RSS_RATIO,
    )
    passed = largest["pass"]
    size = f"{largest['members']:,} members"
    result.add(f"{size}: member-list pass (bot's log)", passed["log"]["seconds"], "s")
    result.add(
        f"{size}: member-list pass, op 8 sent to the last chunk sent",
        passed["end_s"] - passed["start_s"],
        "s",
    )
    result.add(
        f"{size}: member-list pass, gateway requests (op 8) for {passed['chunks']:,} chunks",
        passed["gateway_requests"],
        target="1",
        passed=passed["gateway_requests"] == 1,
    )
    result.add(
        f"{size}: member-list pass, REST {MEMBERS_ROUTE} requests",
        passed["rest_member_requests"],
        target="0",
        passed=passed["rest_member_requests"] == 0,
    )
    peak, after = passed["rss_peak_mb"], largest["rss_mb"]
    result.add(f"{size}: RSS peak during the member-list pass", peak, "MiB")
    result.add(f"{size}: RSS after the pass", after, "MiB")
    result.add(f"{size}: RSS freed after the pass (peak - after)", None if peak is None else peak - after, "MiB")
    return result
