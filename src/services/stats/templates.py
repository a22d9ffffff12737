"""Counter templates such as `👥 {members:,} · 🤖 {bots}`: a small parser and renderer for untrusted text.

Templates are typed by Discord users, so they never reach `str.format`: that would allow attribute and
index access (`{members.__class__}`) and unbounded widths (`{members:>999999999}`). This module accepts
only the placeholders and formats listed below, checks at parse time that the name fits Discord's limit
even for large numbers, and does no I/O, so every rule is a row in a table-driven test.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from src.core.config import MAX_CHANNEL_NAME

PLACEHOLDERS: Mapping[str, str] = MappingProxyType(
    {
        "members": "all members, bots included",
        "humans": "members who are not bots",
        "bots": "bots",
        "online": "members not offline (approximate)",
        "bans": "banned users",
        "boosts": "server boosts",
        "boost_tier": "server boost level, 0-3",
        "channels": "channels",
        "roles": "roles",
        "role:ROLE_ID": "members holding that role",
        "goal": "the next goal target",
        "count": "the channel's main value (only where the channel has one)",
    }
)
FORMATS = ("", ",", "compact")

MAX_TEMPLATE = 200  # characters as typed; a longer template could never fit a 100-character name anyway
MAX_PLACEHOLDERS = 10
# Values used to check at parse time that a name fits: a generous largest count in every format.
WORST_CASE = 999_999_999
WORST_BOOST_TIER = 3
ROLE_ID_DIGITS = range(17, 21)  # a Discord snowflake: 17-20 digits
ROLE_EXAMPLE = "{role:123456789012345678}"
CLIP = 40  # quoted fragments are cut to this many characters, so a message stays one readable line

# Plain value names; `role:ROLE_ID` and `count` are resolved separately.
_NAMES = frozenset(PLACEHOLDERS) - {"role:ROLE_ID", "count"}
_COMPACT_UNITS = ((10**12, "T"), (10**9, "B"), (10**6, "M"), (10**3, "K"))


class TemplateError(ValueError):
    """A template that cannot be used; str(exc) tells the Discord user, in one sentence, what to fix."""


@dataclass(frozen=True, slots=True)
class Placeholder:
    """One value in a template: `key` is what it reads ("members", "role:<id>", ...), `format` how."""

    key: str
    format: str  # one of FORMATS


@dataclass(frozen=True, slots=True)
class CounterTemplate:
    """A parsed template: literal text and placeholders in order."""

    text: str  # the template as typed, stripped
    parts: tuple[str | Placeholder, ...]

    @classmethod
    def parse(cls, text: str, *, count_key: str | None = None) -> CounterTemplate:
        """Return the template `text`, with `{count}` read as `count_key`; raise TemplateError if unusable."""
        if count_key is not None and not _is_key(count_key):
            raise ValueError(f"count_key must be a placeholder key such as 'members', got {count_key!r}")
        text = text.strip()
        if not text:
            raise TemplateError("The template is empty: type some text with a placeholder such as {members}.")
        # Checked before anything else, so a huge template costs nothing to refuse.
        if len(text) > MAX_TEMPLATE:
            raise TemplateError(
                f"The template is {len(text)} characters long: keep it to {MAX_TEMPLATE} or fewer."
            )
        pieces = _scan(text)
        if sum(isinstance(piece, _Field) for piece in pieces) > MAX_PLACEHOLDERS:
            raise TemplateError(
                f"The template has more than {MAX_PLACEHOLDERS} placeholders: use at most {MAX_PLACEHOLDERS}."
            )
        parts = [piece if isinstance(piece, str) else _placeholder(piece.body, count_key) for piece in pieces]
        template = cls(text, tuple(parts))
        if not template.keys:
            raise TemplateError("The template has no placeholder: add one such as {members}.")
        worst = {key: WORST_BOOST_TIER if key == "boost_tier" else WORST_CASE for key in template.keys}
        length = len(template._join(worst))
        if length > MAX_CHANNEL_NAME:
            raise TemplateError(
                f"The name could reach {length} characters with large numbers, but Discord allows at most "
                f"{MAX_CHANNEL_NAME}: shorten the text or use a shorter format such as "
                f"{{{template.main_key}:compact}}."
            )
        return template

    @property
    def keys(self) -> frozenset[str]:
        """Return the value keys this template needs, e.g. {"members", "bots"}."""
        return frozenset(part.key for part in self.parts if isinstance(part, Placeholder))

    @property
    def main_key(self) -> str:
        """Return the first placeholder's key: the value the counter is about."""
        return next(part.key for part in self.parts if isinstance(part, Placeholder))

    def render_values(self, values: Mapping[str, int]) -> dict[str, int] | None:
        """Return the values the name would show, or None while any of them is missing."""
        if not self.keys <= values.keys():
            return None
        return {key: values[key] for key in self.keys}

    def render(self, values: Mapping[str, int]) -> str | None:
        """Return the channel name for `values`, or None while any needed value is missing."""
        if not self.keys <= values.keys():
            return None
        # Parse already checked the length; clipping is the last guard for numbers beyond the worst case.
        return self._join(values)[:MAX_CHANNEL_NAME].rstrip()

    def _join(self, values: Mapping[str, int]) -> str:
        """Return the name for `values` (all present), stripped but not clipped."""
        return "".join(
            part if isinstance(part, str) else format_count(values[part.key], part.format)
            for part in self.parts
        ).strip()


def format_count(value: int, fmt: str) -> str:
    """Return `value` in format `fmt`: "" gives 1234, "," gives 1,234 and "compact" gives 1.2K."""
    if fmt == "":
        return str(value)
    if fmt == ",":
        return format(value, ",")
    if fmt == "compact":
        return _compact(value)
    raise ValueError(f"unknown format {fmt!r}; expected one of {FORMATS}")


def _compact(value: int) -> str:
    """Return `value` as 999, 1.2K, 123K, 1.2M ...: rounded down, so a count is never overstated."""
    if value < 0:
        return "-" + _compact(-value)
    for unit, suffix in _COMPACT_UNITS:
        if value >= unit:
            tenths = value * 10 // unit  # integers only: floats would round 1,999,999,999 up
            if tenths >= 1000:  # 100 units or more: a decimal adds length, not information
                return f"{value // unit}{suffix}"
            whole, tenth = divmod(tenths, 10)
            return f"{whole}.{tenth}{suffix}" if tenth else f"{whole}{suffix}"
    return str(value)


@dataclass(frozen=True, slots=True)
class _Field:
    """A `{...}` found by the scanner: `body` is what is between the braces."""

    body: str


def _scan(text: str) -> list[str | _Field]:
    """Split `text` into literal text (escapes resolved) and fields; raise TemplateError on stray braces."""
    pieces: list[str | _Field] = []
    literal: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char in "{}" and text[i + 1 : i + 2] == char:  # `{{` or `}}`: a literal brace
            literal.append(char)
            i += 2
        elif char == "}":
            near = _clip_start(text[: i + 1])
            raise TemplateError(
                f"The }} at character {i + 1} has no opening {{ ('{near}'): remove it, "
                "or write }} for a literal brace."
            )
        elif char == "{":
            end = i + 1
            while end < len(text) and text[end] not in "{}":
                end += 1
            if end == len(text):
                raise TemplateError(
                    f"The {{ at character {i + 1} is never closed ('{_clip(text[i:])}'): close it with }}, "
                    "or write {{ for a literal brace."
                )
            if text[end] == "{":
                close = text.find("}", end)
                fragment = text[i:] if close == -1 else text[i : close + 1]
                raise TemplateError(
                    f"Braces cannot be nested in '{_clip(fragment)}': write one placeholder such as "
                    "{members}, or {{ and }} for literal braces."
                )
            if literal:
                pieces.append("".join(literal))
                literal = []
            pieces.append(_Field(text[i + 1 : end]))
            i = end + 1
        else:
            literal.append(char)
            i += 1
    if literal:
        pieces.append("".join(literal))
    return pieces


def _placeholder(body: str, count_key: str | None) -> Placeholder:
    """Return the placeholder for the field `{body}`; raise TemplateError naming the fix if it is invalid."""
    field = _clip("{" + body + "}")
    if not body:
        raise TemplateError(
            "Empty braces {} are not a placeholder: name a value such as {members}, "
            "or write {{}} for literal braces."
        )
    if any(char.isspace() for char in body):
        fixed = _clip("{" + "".join(body.split()) + "}")
        raise TemplateError(f"Spaces are not allowed inside braces: write {field} as {fixed}.")
    name, _, fmt = body.partition(":")
    if name == "role":
        role_id, _, fmt = fmt.partition(":")
        if not role_id:
            raise TemplateError(
                f"Placeholder {field} needs a role id: write it as {ROLE_EXAMPLE} "
                "(Developer Mode, right-click the role, Copy Role ID)."
            )
        if not _is_role_id(role_id):
            raise TemplateError(
                f"'{_clip(role_id)}' in {field} is not a role id: use the role's 17-20 digit id, "
                f"e.g. {ROLE_EXAMPLE} (Developer Mode, right-click the role, Copy Role ID)."
            )
        name = key = f"role:{role_id}"
    elif name == "count":
        if count_key is None:
            raise TemplateError(
                f"Placeholder {field} has no value here: "
                "name what to count instead, e.g. {members} or {online}."
            )
        key = count_key
    elif name in _NAMES:
        key = name
    else:
        raise TemplateError(_unknown(name, field, count_key))
    if fmt not in FORMATS:
        raise TemplateError(
            f"Format '{_clip(fmt)}' in {field} is not supported: "
            f"use {{{name}}}, {{{name}:,}} or {{{name}:compact}}."
        )
    return Placeholder(key, fmt)


def _unknown(name: str, field: str, count_key: str | None) -> str:
    """Return the message for a field whose name is not a placeholder."""
    # `{members.x}`, `{members[0]}` and `{members!r}` are str.format syntax: name the plain forms instead.
    stem = name
    for mark in ".[!":
        stem = stem.partition(mark)[0]
    if stem != name and (stem in _NAMES or (stem == "count" and count_key is not None)):
        return f"Placeholder {field} is not supported: use {{{stem}}}, {{{stem}:,}} or {{{stem}:compact}}."
    allowed = ", ".join(f"{{{shown}}}" for shown in PLACEHOLDERS if shown != "count" or count_key is not None)
    return f"Unknown placeholder {field}: use one of {allowed}."


def _is_key(key: str) -> bool:
    """Return whether `key` names a value a placeholder can read."""
    role_id = key.removeprefix("role:")
    return _is_role_id(role_id) if role_id != key else key in _NAMES


def _is_role_id(text: str) -> bool:
    """Return whether `text` is a Discord snowflake: 17-20 ASCII digits."""
    # isascii: str.isdigit also accepts digits of other scripts, which Discord ids never contain.
    return text.isascii() and text.isdigit() and len(text) in ROLE_ID_DIGITS


def _clip(fragment: str) -> str:
    """Return `fragment` cut to CLIP characters, so a message quoting user input stays short."""
    return fragment if len(fragment) <= CLIP else fragment[: CLIP - 1] + "…"


def _clip_start(fragment: str) -> str:
    """Return the last CLIP characters of `fragment`: the text just before a stray brace."""
    return fragment if len(fragment) <= CLIP else "…" + fragment[-(CLIP - 1) :]
