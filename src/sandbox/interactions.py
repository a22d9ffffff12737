"""Slash-command interactions: the INTERACTION_CREATE a member's invocation produces, and what it answered.

Discord gives an application 3 seconds to acknowledge an interaction (a message, type 4, or a deferral,
type 5); after that the member sees "This interaction failed" and the callback gets 404 Unknown
Interaction. A deferred response is completed by editing `@original` or by a follow-up message.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from src.sandbox import ids, payloads
from src.sandbox.attachments import AttachmentStore
from src.sandbox.state import EVERYONE_PERMISSIONS, Channel, GuildState
from src.types.permissions import ADMINISTRATOR, ALL_PERMISSIONS
from src.types.ports import Clock

EPHEMERAL = 1 << 6
LOADING = 1 << 7
CALLBACK_MESSAGE, CALLBACK_DEFERRED = 4, 5
SUBCOMMAND, SUBCOMMAND_GROUP = 1, 2
MAX_KEPT = 1000  # interactions remembered for late callbacks and follow-ups; older ones are forgotten
# Option types the emulator fills in from plain values; user/channel/role options need `resolved` data.
_OPTION_TYPES: dict[int, tuple[type, ...]] = {3: (str,), 4: (int,), 5: (bool,), 10: (int, float)}
CHANNEL_OPTION = 7  # given as a channel id; the emulator adds the channel to `data.resolved` as Discord does


@dataclass
class InteractionRecord:
    """One interaction: what was dispatched and every response message the application produced."""

    id: int
    token: str
    channel_id: int
    created: float  # clock.monotonic() at dispatch
    payload: dict[str, Any]
    callback_type: int | None = None
    original: dict[str, Any] | None = None
    original_deleted: bool = False
    followups: list[dict[str, Any]] = field(default_factory=list)
    expired: bool = False
    acknowledged: asyncio.Event = field(default_factory=asyncio.Event)
    settled: asyncio.Event = field(default_factory=asyncio.Event)

    def result(self, store: AttachmentStore | None = None) -> InteractionResult:
        """What the member sees now (with the bytes of its attachments when `store` keeps them)."""
        shown = [] if self.original is None or self.original_deleted else [self.original]
        messages = [dict(m) for m in [*shown, *self.followups]]
        files: dict[str, bytes] = {}
        for attachment in [a for m in messages for a in m.get("attachments") or []]:
            stored = None if store is None else store.get(int(attachment["id"]))
            if stored is not None:
                files[str(attachment["id"])] = stored.data
        return InteractionResult(
            interaction_id=self.id,
            failed=self.expired and self.callback_type is None,
            callback_type=self.callback_type,
            messages=messages,
            files=files,
        )


@dataclass(frozen=True)
class InteractionResult:
    """The answer to one invocation: the visible response messages, oldest first, or a failed interaction."""

    interaction_id: int
    failed: bool  # no acknowledgement in time: Discord shows "This interaction failed"
    callback_type: int | None
    messages: list[dict[str, Any]]
    files: Mapping[str, bytes] = field(default_factory=dict, repr=False)  # attachment id -> its bytes

    @property
    def message(self) -> dict[str, Any]:
        """The newest visible response message (AssertionError when there is none)."""
        if not self.messages:
            raise AssertionError(f"interaction {self.interaction_id} has no visible response")
        return self.messages[-1]

    @property
    def content(self) -> str:
        """The newest message's text."""
        return str(self.message.get("content") or "")

    @property
    def embed(self) -> dict[str, Any]:
        """The newest message's first embed."""
        embeds = self.message.get("embeds") or []
        if not embeds:
            raise AssertionError(f"interaction {self.interaction_id}'s response has no embed")
        return dict(embeds[0])

    @property
    def ephemeral(self) -> bool:
        """Whether only the invoking member sees the newest message."""
        return bool(int(self.message.get("flags") or 0) & EPHEMERAL)

    @property
    def loading(self) -> bool:
        """Whether the response is still "thinking" (deferred and never completed)."""
        return bool(int(self.message.get("flags") or 0) & LOADING)

    def field(self, name: str) -> str | None:
        """The value of the first embed's field called `name`, or None."""
        return next((f["value"] for f in self.embed.get("fields", []) if f["name"] == name), None)

    @property
    def attachments(self) -> list[dict[str, Any]]:
        """The newest message's attachments: id, filename, size, url, proxy_url, content_type, ..."""
        return [dict(a) for a in self.message.get("attachments") or []]

    def attachment(self, filename: str) -> dict[str, Any]:
        """The newest message's attachment called `filename` (AssertionError when there is none)."""
        found = next((a for a in self.attachments if a["filename"] == filename), None)
        if found is None:
            names = [a["filename"] for a in self.attachments]
            raise AssertionError(f"interaction {self.interaction_id}'s response has no {filename!r}: {names}")
        return found

    def attachment_bytes(self, filename: str) -> bytes:
        """The bytes of the newest message's attachment called `filename`, as its URL serves them."""
        attachment_id = str(self.attachment(filename)["id"])
        if attachment_id not in self.files:
            raise AssertionError(f"the bytes of {filename!r} are not kept (attachment {attachment_id})")
        return self.files[attachment_id]


class InteractionRegistry:
    """Creates interactions for registered commands and finds them again by id or token."""

    def __init__(self, state: GuildState, clock: Clock, timeout: float) -> None:
        self._state = state
        self._clock = clock
        self.timeout = timeout
        self._by_token: dict[str, InteractionRecord] = {}

    def create(
        self,
        name: str,
        options: Mapping[str, Any],
        *,
        user_id: int | None,
        member_permissions: int | None,
        channel: Channel,
    ) -> InteractionRecord:
        """Build the INTERACTION_CREATE payload for `name` ("stats day" for a subcommand) like Discord."""
        path = name.split()
        command, scope = self._registered(path[0])
        user_id = self._state.owner_id if user_id is None else user_id
        if user_id not in self._state.members:
            raise ValueError(f"user {user_id} is not a member of the guild")
        if member_permissions is None:
            member_permissions = ALL_PERMISSIONS if user_id == self._state.owner_id else EVERYONE_PERMISSIONS
        _check_allowed(command, member_permissions)
        resolved: dict[str, Any] = {}
        data: dict[str, Any] = {
            "id": command["id"],
            "name": command["name"],
            "type": command.get("type", 1),
            "options": _options(
                command, path[1:], options, _Resolver(self._state, member_permissions, resolved)
            ),
        }
        if resolved:
            data["resolved"] = {"channels": resolved}
        if scope is not None:
            data["guild_id"] = str(scope)
        interaction_id = self._state.next_id()
        token = f"aW50ZXJhY3Rpb24.{interaction_id}.{secrets.token_urlsafe(24)}"
        payload = self._payload(interaction_id, token, data, user_id, member_permissions, channel)
        record = InteractionRecord(interaction_id, token, channel.id, self._clock.monotonic(), payload)
        self._by_token[token] = record
        while len(self._by_token) > MAX_KEPT:
            del self._by_token[next(iter(self._by_token))]
        return record

    def find(self, token: str) -> InteractionRecord | None:
        """The interaction with this token, or None."""
        return self._by_token.get(token)

    def by_id(self, interaction_id: int) -> InteractionRecord | None:
        """The interaction with this id, or None."""
        return next((r for r in self._by_token.values() if r.id == interaction_id), None)

    def is_expired(self, record: InteractionRecord) -> bool:
        """Whether the acknowledgement deadline passed without a callback."""
        if record.callback_type is None and self._clock.monotonic() - record.created > self.timeout:
            record.expired = True
        return record.expired and record.callback_type is None

    async def wait(self, record: InteractionRecord, timeout: float) -> InteractionResult:
        """Wait for the acknowledgement (up to Discord's deadline), then up to `timeout` for the answer."""
        acknowledged = asyncio.create_task(record.acknowledged.wait())
        deadline = asyncio.create_task(self._clock.sleep(self.timeout))
        try:
            await asyncio.wait({acknowledged, deadline}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            acknowledged.cancel()
            deadline.cancel()
        if not record.acknowledged.is_set():
            record.expired = True
            return record.result(self._state.attachments)
        # A deferral never completed leaves the result showing the response still "thinking".
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(record.settled.wait(), timeout)
        return record.result(self._state.attachments)

    def _registered(self, name: str) -> tuple[dict[str, Any], int | None]:
        """The registered chat command called `name` and its scope (guild id, or None for global)."""
        for scope in (self._state.guild_id, None):
            for command in self._state.commands.get(scope, []):
                if command["name"] == name and command.get("type", 1) == 1:
                    return command, scope
        raise ValueError(f"no command /{name} is registered: a member could not invoke it")

    def _payload(
        self,
        interaction_id: int,
        token: str,
        data: dict[str, Any],
        user_id: int,
        permissions: int,
        channel: Channel,
    ) -> dict[str, Any]:
        """The INTERACTION_CREATE `d` of an application command used in a guild channel."""
        state = self._state
        gid = str(state.guild_id)
        return {
            "id": str(interaction_id),
            "application_id": str(state.application_id),
            "type": 2,
            "data": data,
            "guild_id": gid,
            "guild": {"id": gid, "locale": "en-US", "features": []},
            "guild_locale": "en-US",
            "channel_id": str(channel.id),
            "channel": {**payloads.channel_payload(state, channel), "permissions": str(permissions)},
            "member": {**payloads.member_payload(state, user_id), "permissions": str(permissions)},
            "token": token,
            "version": 1,
            "app_permissions": str(state.bot_permissions(channel)),
            "locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": gid},
            "context": 0,
            "attachment_size_limit": state.attachment_size_limit,
        }

    def response_message(
        self,
        record: InteractionRecord,
        content: str,
        embeds: list[dict[str, Any]],
        flags: int,
        *,
        original: bool,
    ) -> dict[str, Any]:
        """A message sent by the application's webhook in answer to `record`."""
        state = self._state
        channel = state.channel(record.channel_id)
        message = payloads.message_payload(state, channel, state.next_id(), content, embeds)
        message.update(
            type=20 if original else 0,  # CHAT_INPUT_COMMAND for the original response
            flags=flags,
            webhook_id=str(state.application_id),
            application_id=str(state.application_id),
            interaction_metadata={
                "id": str(record.id),
                "type": 2,
                "user": record.payload["member"]["user"],
                "authorizing_integration_owners": record.payload["authorizing_integration_owners"],
            },
        )
        return message

    def now_iso(self) -> str:
        """The clock's wall time as Discord writes timestamps."""
        return ids.iso(self._clock.now())


def _check_allowed(command: dict[str, Any], permissions: int) -> None:
    """Discord hides a command from members lacking its `default_member_permissions`."""
    raw = command.get("default_member_permissions")
    if raw is None or permissions & ADMINISTRATOR:
        return
    needed = int(raw)
    if needed == 0 or permissions & needed != needed:
        raise PermissionError(
            f"/{command['name']} needs permissions {needed} (default_member_permissions); "
            f"this member has {permissions}, so Discord would not let them use it"
        )


class _Resolver:
    """Turns a channel option's id into its value and the `resolved` entry Discord sends with it."""

    def __init__(self, state: GuildState, permissions: int, resolved: dict[str, Any]) -> None:
        self._state = state
        self._permissions = permissions
        self.resolved = resolved

    def channel(self, name: str, definition: dict[str, Any], value: Any) -> str:
        """Check a channel option (an existing channel of an allowed type) and resolve it; return its id."""
        if isinstance(value, bool) or not (
            isinstance(value, int) or (isinstance(value, str) and value.isdigit())
        ):
            raise ValueError(f"option {name!r} takes a channel id, not {value!r}")
        channel = self._state.channels.get(int(value))
        if channel is None:
            raise ValueError(f"option {name!r}: no channel {value} in the guild")
        allowed = definition.get("channel_types")
        if allowed and channel.type not in allowed:
            raise ValueError(
                f"option {name!r}: channel {value} has type {channel.type}, not one of {allowed}"
            )
        entry = payloads.channel_payload(self._state, channel)
        self.resolved[str(channel.id)] = {**entry, "permissions": str(self._permissions)}
        return str(channel.id)


def _options(
    command: dict[str, Any], path: list[str], values: Mapping[str, Any], resolver: _Resolver
) -> list[dict[str, Any]]:
    """The `data.options` for the subcommand `path` of `command` with `values`, validated like Discord."""
    definitions: list[dict[str, Any]] = command.get("options") or []
    subcommands = [o for o in definitions if o.get("type") in (SUBCOMMAND, SUBCOMMAND_GROUP)]
    if subcommands:
        if not path:
            names = ", ".join(o["name"] for o in subcommands)
            raise ValueError(f"/{command['name']} needs a subcommand ({names})")
        chosen = next((o for o in subcommands if o["name"] == path[0]), None)
        if chosen is None:
            raise ValueError(f"/{command['name']} has no subcommand {path[0]!r}")
        options = _options(chosen, path[1:], values, resolver)
        return [{"name": chosen["name"], "type": chosen["type"], "options": options}]
    if path:
        raise ValueError(f"/{command['name']} has no subcommand {path[0]!r}")
    return _values(command, definitions, values, resolver)


def _values(
    command: dict[str, Any], definitions: list[dict[str, Any]], values: Mapping[str, Any], resolver: _Resolver
) -> list[dict[str, Any]]:
    """Option values in definition order; unknown, missing or mistyped options are refused."""
    known = {o["name"]: o for o in definitions}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"/{command['name']} has no option(s) {', '.join(unknown)}")
    result = []
    for name, definition in known.items():
        if name not in values:
            if definition.get("required"):
                raise ValueError(f"/{command['name']} requires the option {name!r}")
            continue
        if definition["type"] == CHANNEL_OPTION:
            channel_id = resolver.channel(name, definition, values[name])
            result.append({"name": name, "type": CHANNEL_OPTION, "value": channel_id})
            continue
        kinds = _OPTION_TYPES.get(definition["type"])
        if kinds is None:
            raise ValueError(f"option type {definition['type']} is not emulated")
        value = values[name]
        if not isinstance(value, kinds) or (bool not in kinds and isinstance(value, bool)):
            raise ValueError(f"option {name!r} must be of type {definition['type']}, not {value!r}")
        result.append({"name": name, "type": definition["type"], "value": value})
    return result
