"""What `/setup`, `/counter` and `/goal` answer, from the counter admin and the goal; no discord.py here."""

from __future__ import annotations

from datetime import datetime

from src.services.stats.counter_admin import CounterAdmin, SetupReport
from src.services.stats.counters import CounterService
from src.services.stats.goal_keeper import GoalKeeper
from src.types.models import ChannelStats, CounterKind, Embed, EmbedField
from src.types.ports import Clock
from src.utils.text import clip

GREEN, AMBER, BLUE = 0x57F287, 0xFEE75C, 0x5865F2
MAX_FIELDS = 25  # Discord's limit on an embed's fields
SOURCES = {
    "environment": "from the environment",
    "file": "from COUNTERS_FILE",
    "command": "made with /counter",
}
GOAL_EXAMPLE = "🎯 {members:,} / {goal:,}"


def _when(at: datetime | None, now: datetime) -> str:
    """Discord renders `<t:…:R>` as "in 3 minutes" in each reader's own time zone."""
    if at is None:
        return "up to date"
    if at <= now:
        return "renaming now"
    return f"next rename <t:{int(at.timestamp())}:R>"


def counter_lines(state: ChannelStats, now: datetime) -> str:
    """One counter for `/counter list`: where, from where, its value and name, and what it waits for."""
    value = "unknown yet" if state.value is None else f"{state.value:,}"
    lines = [
        f"<#{state.channel_id}> · {SOURCES.get(state.source.value, state.source.value)}",
        f"template `{clip(state.template, 120)}` · {state.key} {value}",
        f"shows `{clip(state.shown_name or '(not checked yet)', 100)}`",
    ]
    if state.paused_reason:
        lines.append(f"⏸️ paused ({state.paused_reason}): {clip(state.paused_fix or 'see the log', 300)}")
    elif state.pending_name:
        lines.append(f"→ `{clip(state.pending_name, 100)}`, {_when(state.next_rename_at, now)}")
    return "\n".join(lines)


def setup_embed(report: SetupReport) -> Embed:
    """The `/setup` answer: what was created, what was already there, and what could not be done."""
    fields = [
        EmbedField(name="Created", value=clip("\n".join(report.created) or "nothing", 1024)),
        EmbedField(name="Already there", value=clip("\n".join(report.reused) or "nothing", 1024)),
    ]
    if report.failed:
        fields.append(EmbedField(name="Could not", value=clip("\n".join(report.failed), 1024)))
    done = "Counters are set up" if not report.failed else "Counters are partly set up"
    return Embed(
        title=f"🛠️ {done}",
        description=(
            "Counter channels are voice channels nobody can join; their names change within Discord's limit "
            "of 2 renames per 10 minutes. Add more with /counter add, see them with /counter list."
        ),
        color=AMBER if report.failed else GREEN,
        fields=fields,
    )


class CounterAnswers:
    """Builds the answers of `/setup`, `/counter …` and `/goal …` from the few parts they use."""

    def __init__(
        self, clock: Clock, admin: CounterAdmin, counters: CounterService, goals: GoalKeeper
    ) -> None:
        self._clock = clock
        self._admin = admin
        self._counters = counters
        self._goals = goals

    async def setup(self) -> Embed:
        """Answer `/setup`."""
        return setup_embed(await self._admin.setup())

    async def add(self, template: str, channel_id: int | None) -> str:
        """Answer `/counter add`."""
        state = await self._admin.add(template, channel_id)
        return f"✅ <#{state.channel_id}> now shows `{clip(template, 120)}`; {self._progress(state)}."

    async def edit(self, channel_id: int, template: str) -> str:
        """Answer `/counter edit`."""
        state = await self._admin.edit(channel_id, template)
        return f"✏️ <#{channel_id}> now shows `{clip(template, 120)}`; {self._progress(state)}."

    async def remove(self, channel_id: int, delete_channel: bool) -> str:
        """Answer `/counter remove`."""
        await self._admin.remove(channel_id, delete_channel=delete_channel)
        if delete_channel:
            return "🗑️ The counter is removed and its channel deleted."
        return f"🗑️ <#{channel_id}> no longer shows a counter; it keeps its last name."

    def list(self) -> Embed:
        """Answer `/counter list`."""
        states, now = self._admin.counters(), self._clock.now()
        shown = states if len(states) <= MAX_FIELDS else states[: MAX_FIELDS - 1]
        fields = [
            EmbedField(name=clip(s.shown_name or s.label, 256), value=clip(counter_lines(s, now), 1024))
            for s in shown
        ]
        if len(shown) < len(states):
            fields.append(EmbedField(name="…", value=f"and {len(states) - len(shown)} more"))
        return Embed(
            title=f"📊 Counters ({len(states)})",
            description="" if states else "No counters yet: run /setup, or /counter add with a template.",
            color=BLUE,
            fields=fields,
            timestamp=now,
        )

    async def goal_set(self, target: int, step: int, channel_id: int) -> str:
        """Answer `/goal set`."""
        current = self._counters.current_counts().get(CounterKind.MEMBERS)
        goal = await self._goals.set_goal(target=target, step=step, channel_id=channel_id, current=current)
        self._counters.goal_changed()
        return (
            f"🎯 Goal set: {goal.target:,} members, then every {goal.step:,}; each one is announced once in "
            f"<#{goal.channel_id}>. Show it in a counter with {{goal}}, e.g. /counter add `{GOAL_EXAMPLE}`."
        )

    async def goal_clear(self) -> str:
        """Answer `/goal clear`."""
        cleared = await self._goals.clear()
        self._counters.goal_changed()
        return "🎯 Goal cleared." if cleared else "There was no goal to clear."

    def _progress(self, state: ChannelStats) -> str:
        if state.paused_reason:
            return f"but it is paused ({state.paused_reason}): {state.paused_fix}"
        if state.value is None:
            return "it shows once its value is known"
        return "its name changes as soon as the rename budget allows"
