"""Benchmark 7: every counter kind at once, for guilds of 1,000 to 1,000,000 members.

Thirteen counters: the original three (members, online, bans) and ten from a COUNTERS_FILE ({humans}, {bots},
{boosts}, {boost_tier}, {channels}, {roles}, one {role:ID} per seeded role, {goal} with a preset goal).
The guild has 1 % bots and three roles of 5,000 members each. Three things are measured:

- the bot's RSS once every counter shows its correct value (plus a settle), against the same at 1,000 members;
- the first rename after spawn, and when the member-list counters ({humans}, {bots}) first showed their value:
  they wait for the member-list pass, the others must not;
- the member-list pass itself: its seconds, the requests it took (one gateway op 8, no REST paging), and the
  bot's RSS during it (peak, sampled every 10 ms from a thread) and after it.
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
    """The original three counters, and a voice channel per other counter kind, made before the bot starts."""
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
    """Sandbox-clock times of a channel's first rename and first correct name, and the wrong names before."""
    renames = sb.journal.renames(counter.channel_id)
    first = renames[0].t if renames else None
    correct = next((r.t for r in renames if r.new == name), None)
    wrong = sum(1 for r in renames if correct is None or r.t < correct)
    return first, correct, wrong


def log_events(bot: BotProcess, event: str) -> list[dict[str, Any]]:
    """The JSON lines of the bot's log whose event is `event`, oldest first."""
    bot.log_tail(0)  # flushes our side of the file
    try:
        lines = bot.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        if event not in line or not line.startswith("{"):
            continue
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if isinstance(data, dict) and data.get("event") == event:
            found.append(data)
    return found


@dataclass
class RssSampler:
    """The bot's RSS every `every` s, from a thread: a busy event loop (the sandbox streaming) misses none."""

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
        """The highest RSS (MiB) sampled in [since, until] or first after it (a short span may hold none)."""
        inside = [mb for t, mb in self.samples if since <= t <= until]
        after = next((mb for t, mb in self.samples if t > until), None)
        values = inside + ([] if after is None else [after])
        return max(values) if values else None

    def last_before(self, t: float) -> float | None:
        """The last RSS (MiB) sampled at or before `t`, or None."""
        return next((mb for at, mb in reversed(self.samples) if at <= t), None)

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
    """`t` - `start`, or None without a `t`."""
    return None if t is None else t - start


def prepare(sb: Sandbox, workdir: Path) -> tuple[list[Counter], dict[str, str], Path]:
    """Make the counter channels, write the COUNTERS_FILE and a preset goal; return the names to expect."""
    counters = declare_counters(sb)
    target, step = goal_target(sb.member_count)
    names = expected_names(counters, true_values(sb, target))
    counters_file = workdir / "counters.toml"
    counters_file.write_text(counters_toml(counters), encoding="utf-8")
    goals = workdir / "data" / "state" / "goals.json"
    goals.parent.mkdir(parents=True)
    goals.write_text(goals_json(sb, target, step), encoding="utf-8")
    return counters, names, counters_file


def first_pass(
    sb: Sandbox, bot: BotProcess, counters: list[Counter], names: dict[str, str], shown_at: float
) -> dict[str, Any]:
    """When each counter was first renamed and first correct, and what the first member-list pass took."""
    spawned = bot.spawned_at
    renames = {c.label: renames_until_correct(sb, c, names[c.label]) for c in counters}
    # The pass runs from the bot's op 8 to the last chunk the sandbox sent for it (or the names it gave).
    asks = [g.t for g in sb.journal.gateway if g.direction == "recv" and g.op == OP_REQUEST_MEMBERS]
    asks = [t for t in asks if spawned <= t <= shown_at]
    chunks = [g.t for g in sb.journal.gateway if g.direction == "send" and g.event == CHUNK_EVENT]
    chunks = [t for t in chunks if spawned <= t <= shown_at]
    member_list = max(renames[label][1] or shown_at for label in MEMBER_LIST_LABELS)
    others = {label: r[0] for label, r in renames.items() if label not in MEMBER_LIST_LABELS}
    firsts = [t for t, _, _ in renames.values() if t is not None]
    start = asks[0] if asks else spawned
    return {
        "first_rename_s": min(firsts) - spawned if firsts else None,
        "others_first_rename_s": {label: _since(t, spawned) for label, t in others.items()},
        "others_last_first_rename_s": None
        if None in others.values()
        else max(t for t in others.values() if t is not None) - spawned,
        "correct_s": {label: _since(r[1], spawned) for label, r in renames.items()},
        "member_list_correct_s": member_list - spawned,
        "member_list_wrong_names": sum(renames[label][2] for label in MEMBER_LIST_LABELS),
        "wrong_names": sum(r[2] for r in renames.values()),
        "all_correct_s": max(r[1] or shown_at for r in renames.values()) - spawned,
        "pass": {
            "gateway_requests": len(asks),
            "chunks": len(chunks),
            "rest_member_requests": requests_by_route(sb, spawned, shown_at).get(MEMBERS_ROUTE, 0),
            "start_s": start - spawned,
            "last_chunk_s": (chunks[-1] if chunks else start) - spawned,
            "end_s": max(chunks[-1] if chunks else start, member_list) - spawned,
        },
        "requests": requests_by_route(sb, spawned, shown_at),
    }


async def repeat_pass(bot: BotProcess, sampler: RssSampler, settle: float, timeout: float) -> dict[str, Any]:
    """End the gateway session (not resumable) so the bot counts the member list again; RSS during and after.

    The new session asks at once: the sandbox applies its one-all-members-request-per-30-s limit per session.
    """
    before = bot.rss_mb()
    dropped = time.monotonic()
    await bot.sb.drop_gateway(resumable=False)
    done = await bot.wait_until(
        lambda: log_events(bot, PASS_DONE)[1:], timeout, "a second member-list pass after a new session"
    )
    done_at = time.monotonic()
    await asyncio.sleep(settle)
    return {
        "log": {k: done[0].get(k) for k in ("members", "bots", "seconds")},
        "drop_to_done_s": done_at - dropped,
        "rss_before_mb": before,
        "rss_peak_mb": sampler.peak(dropped, done_at),
        "rss_after_mb": bot.rss_mb(),
    }


async def measure_counters(
    members: int, settle: float = 2.0, timeout: float = 180.0, second_pass: bool = False
) -> dict[str, Any]:
    """Spawn the bot with every counter kind for a guild of `members`; time its renames, its pass and its RSS.

    With `second_pass`, a new gateway session then makes the bot count the member list once more, to show
    whether the memory of the first pass is reused (RSS flat) or kept growing.
    """
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
            counters, names, counters_file = prepare(sb, workdir)

            def all_correct() -> bool:
                return all(sb.channel_name(c.channel_id) == names[c.label] for c in counters)

            async with BotProcess(sb, workdir, counters_file=counters_file) as bot:
                with RssSampler(bot.pid) as sampler:
                    await bot.wait_until(all_correct, timeout, "every counter's correct name")
                    done = await bot.wait_until(lambda: log_events(bot, PASS_DONE), 10.0, PASS_DONE)
                    shown_at = time.monotonic()
                    await asyncio.sleep(settle)  # let the work that follows the renames finish
                    rss_after, cpu_s, still_correct = bot.rss_mb(), bot.cpu_seconds(), all_correct()
                    again = await repeat_pass(bot, sampler, settle, timeout) if second_pass else None
            run = first_pass(sb, bot, counters, names, shown_at)
            passed = run["pass"]
            passed["log"] = {k: done[0].get(k) for k in ("members", "bots", "seconds")}
            spawned = bot.spawned_at
            passed["rss_before_mb"] = sampler.last_before(spawned + passed["start_s"])
            passed["rss_peak_mb"] = sampler.peak(spawned + passed["start_s"], spawned + passed["end_s"])
            return {
                "members": members,
                "bots": sb.bot_member_count,
                "counters": {c.label: {"template": c.template, "name": names[c.label]} for c in counters},
                "rss_mb": rss_after,
                "cpu_s": cpu_s,
                "settle_s": settle,
                "names_still_correct_after_settle": still_correct,
                "rss_samples": len(sampler.samples),
                **run,
                "second_pass": again,
            }


async def bench_counters(
    sizes: tuple[int, ...] = (1_000, 1_000_000),
    settle: float = 2.0,
    timeout: float = 180.0,
    second_pass: bool = True,
) -> BenchResult:
    """Every counter kind per guild size: RSS ratio, first renames; the member-list pass at the largest."""
    result = BenchResult("counters", "7. Every counter kind")
    runs = [
        await measure_counters(size, settle, timeout, second_pass=second_pass and size == sizes[-1])
        for size in sizes
    ]
    result.details = {"settle_s": settle, "runs": runs}
    for run in runs:
        size = f"{run['members']:,} members"
        result.add(f"{size}: RSS with every counter kind shown", run["rss_mb"], "MiB")
        first = run["first_rename_s"]
        result.add(
            f"{size}: spawn to first counter rename",
            first,
            "s",
            target=f"<= {TARGET_FIRST_RENAME_S:g} s",
            passed=first is not None and first <= TARGET_FIRST_RENAME_S,
        )
        others, last = run["others_first_rename_s"], run["others_last_first_rename_s"]
        result.add(
            f"{size}: spawn to the last of the {len(others)} counters not needing the member list renamed",
            last,
            "s",
            target=f"<= {TARGET_FIRST_RENAME_S:g} s",
            passed=last is not None and last <= TARGET_FIRST_RENAME_S,
        )
        result.add(
            f"{size}: spawn to {{humans}} and {{bots}} correct (they wait for the pass)",
            run["member_list_correct_s"],
            "s",
        )
        result.add(
            f"{size}: wrong names shown before the right one ({len(run['correct_s'])} counters)",
            run["wrong_names"],
            target="0",
            passed=run["wrong_names"] == 0,
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
    add_pass_rows(result, largest)
    return result


def add_pass_rows(result: BenchResult, run: dict[str, Any]) -> None:
    """The rows of the member-list pass of one run (and of its second pass, if it made one)."""
    size = f"{run['members']:,} members"
    figures = run["pass"]
    result.add(f"{size}: member-list pass, seconds in the bot's log", figures["log"]["seconds"], "s")
    result.add(
        f"{size}: member-list pass, op 8 to the last chunk sent",
        figures["last_chunk_s"] - figures["start_s"],
        "s",
    )
    result.add(
        f"{size}: member-list pass, gateway requests (op 8) for {figures['chunks']:,} chunks",
        figures["gateway_requests"],
        target="1",
        passed=figures["gateway_requests"] == 1,
    )
    result.add(
        f"{size}: member-list pass, REST {MEMBERS_ROUTE} requests",
        figures["rest_member_requests"],
        target="0",
        passed=figures["rest_member_requests"] == 0,
    )
    peak, after = figures["rss_peak_mb"], run["rss_mb"]
    result.add(f"{size}: RSS when the pass began (op 8 sent)", figures["rss_before_mb"], "MiB")
    result.add(f"{size}: RSS peak during the pass", peak, "MiB")
    result.add(f"{size}: RSS after the pass (+ {run['settle_s']:g} s)", after, "MiB")
    result.add(f"{size}: RSS peak - after", None if peak is None else peak - after, "MiB")
    again = run["second_pass"]
    if again is not None:
        result.add(
            f"{size}: second pass (new session), seconds in the bot's log", again["log"]["seconds"], "s"
        )
        result.add(f"{size}: second pass, RSS peak during it", again["rss_peak_mb"], "MiB")
        result.add(
            f"{size}: second pass, RSS after it - after the first", again["rss_after_mb"] - after, "MiB"
        )
