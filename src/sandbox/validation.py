"""Discord's input rules: channel-name normalisation and message/embed limits (400 50035 when broken)."""

from __future__ import annotations

import re
import string
from typing import Any

from src.sandbox.responses import ApiError, field_error, invalid_form
from src.sandbox.state import Overwrite

TEXT_LIKE_TYPES = frozenset({0, 5, 15, 16})  # text, announcement, forum, media: lower-cased, hyphenated names
NAME_MIN, NAME_MAX = 1, 100
CONTENT_MAX = 2000
EMBEDS_MAX = 10
EMBED_TOTAL_MAX = 6000
EMBED_FIELDS_MAX = 25
EMBED_LIMITS = {"title": 256, "description": 4096}
FIELD_NAME_MAX, FIELD_VALUE_MAX = 256, 1024
FOOTER_MAX, AUTHOR_NAME_MAX = 2048, 256
NONCE_MAX = 25  # characters of a string nonce; an integer nonce is any 64-bit integer
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

# Punctuation Discord strips from text-channel names ("Bans: 89" -> "bans-89"); '-' and '_' survive.
_STRIPPED = re.compile("[" + re.escape("".join(c for c in string.punctuation if c not in "-_")) + "]")
_SPACES = re.compile(r"\s+")
_DASHES = re.compile(r"-{2,}")


def normalise_channel_name(name: str, channel_type: int) -> str:
    """Return the name Discord stores: text-like channels are lower-cased and hyphenated, others kept."""
    name = name.strip()
    if channel_type not in TEXT_LIKE_TYPES:
        return name
    name = _STRIPPED.sub("", name.lower())
    name = _DASHES.sub("-", _SPACES.sub("-", name.strip()))
    return name.strip("-")


def check_channel_name(raw: Any, channel_type: int) -> str:
    """Validate a requested channel name and return the normalised one (400 if it is not 1-100 chars)."""
    if not isinstance(raw, str):
        raise invalid_form({"name": field_error("BASE_TYPE_REQUIRED", "This field is required")})
    if not NAME_MIN <= len(raw) <= NAME_MAX:
        raise invalid_form({"name": _length_error(NAME_MIN, NAME_MAX)})
    name = normalise_channel_name(raw, channel_type)
    if not name:
        raise invalid_form({"name": _length_error(NAME_MIN, NAME_MAX)})
    return name


def _length_error(low: int, high: int) -> dict[str, Any]:
    """Discord's "between" length error."""
    return field_error("BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length.")


def _max_error(high: int) -> dict[str, Any]:
    """Discord's "or fewer" length error."""
    return field_error("BASE_TYPE_MAX_LENGTH", f"Must be {high} or fewer in length.")


def _text_len(value: Any) -> int:
    """Length of an optional string field (non-strings count as empty)."""
    return len(value) if isinstance(value, str) else 0


def _check_embed(embed: Any) -> tuple[dict[str, Any], int]:
    """Return (errors, counted characters) for one embed."""
    if not isinstance(embed, dict):
        return field_error("DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType"), 0
    errors: dict[str, Any] = {}
    total = 0
    for key, limit in EMBED_LIMITS.items():
        size = _text_len(embed.get(key))
        total += size
        if size > limit:
            errors[key] = _max_error(limit)
    footer = embed.get("footer")
    if isinstance(footer, dict):
        size = _text_len(footer.get("text"))
        total += size
        if size > FOOTER_MAX:
            errors["footer"] = {"text": _max_error(FOOTER_MAX)}
    author = embed.get("author")
    if isinstance(author, dict):
        size = _text_len(author.get("name"))
        total += size
        if size > AUTHOR_NAME_MAX:
            errors["author"] = {"name": _max_error(AUTHOR_NAME_MAX)}
    fields = embed.get("fields") or []
    if not isinstance(fields, list):
        errors["fields"] = field_error("LIST_TYPE_CONVERT", "Must be a list.")
        return errors, total
    if len(fields) > EMBED_FIELDS_MAX:
        errors["fields"] = field_error(
            "BASE_TYPE_MAX_LENGTH", f"Must be {EMBED_FIELDS_MAX} or fewer in length."
        )
    field_errors: dict[str, Any] = {}
    for index, item in enumerate(fields):
        item_errors = _check_field(item)
        if isinstance(item, dict):
            total += _text_len(item.get("name")) + _text_len(item.get("value"))
        if item_errors:
            field_errors[str(index)] = item_errors
    if field_errors and "fields" not in errors:
        errors["fields"] = field_errors
    return errors, total


def _check_field(item: Any) -> dict[str, Any]:
    """Errors for one embed field: name and value are required and bounded."""
    if not isinstance(item, dict):
        return field_error("DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
    errors: dict[str, Any] = {}
    for key, limit in (("name", FIELD_NAME_MAX), ("value", FIELD_VALUE_MAX)):
        value = item.get(key)
        if not isinstance(value, str) or not value:
            errors[key] = field_error("BASE_TYPE_REQUIRED", "This field is required")
        elif len(value) > limit:
            errors[key] = _max_error(limit)
    return errors


def check_message(payload: Any, *, require_content: bool = True) -> tuple[str, list[dict[str, Any]]]:
    """Validate a message create/edit body and return (content, embeds); raise 400 like Discord."""
    content, embeds, errors = _message_errors(payload)
    if errors:
        raise invalid_form(errors)
    return _finished(content, embeds, require_content=require_content)


def check_new_message(
    payload: Any, *, require_content: bool = True
) -> tuple[str, list[dict[str, Any]], str | int | None]:
    """Validate a message create body and return (content, embeds, nonce); raise 400 like Discord.

    `require_content=False` lets a message with files have neither text nor embeds.
    """
    content, embeds, errors = _message_errors(payload)
    nonce = payload.get("nonce")
    nonce_error = None if nonce is None else _nonce_error(nonce)
    if nonce_error is not None:
        errors["nonce"] = nonce_error
    if errors:
        raise invalid_form(errors)
    return (*_finished(content, embeds, require_content=require_content), nonce)


def _nonce_error(nonce: Any) -> dict[str, Any] | None:
    """Discord's error for a nonce that is not a string of up to 25 characters or a 64-bit integer."""
    if isinstance(nonce, str):
        if len(nonce) > NONCE_MAX:
            return field_error("NONCE_TYPE_TOO_LONG", f"Must be {NONCE_MAX} or fewer characters long.")
        return None
    if isinstance(nonce, bool) or not isinstance(nonce, int):  # JSON true/false arrive as bool, an int
        return field_error("NONCE_TYPE_INVALID_TYPE", "This field must be a string or integer.")
    if not INT64_MIN <= nonce <= INT64_MAX:
        return field_error("NONCE_TYPE_OUT_OF_BOUNDS", f"Must be between {INT64_MIN} and {INT64_MAX}.")
    return None


def _message_errors(payload: Any) -> tuple[str, list[Any], dict[str, Any]]:
    """Return (content, embeds, form errors) of a message body, so every broken field is reported at once."""
    if not isinstance(payload, dict):
        raise invalid_form({"_errors": [{"code": "DICT_TYPE_CONVERT", "message": "Expected an object"}]})
    content = payload.get("content")
    content = "" if content is None else content
    embeds = payload.get("embeds")
    if embeds is None:
        embeds = [payload["embed"]] if isinstance(payload.get("embed"), dict) else []
    errors: dict[str, Any] = {}
    if not isinstance(content, str):
        errors["content"] = field_error("STRING_TYPE_CONVERT", "Could not interpret the value as a string.")
        content = ""
    elif len(content) > CONTENT_MAX:
        errors["content"] = _max_error(CONTENT_MAX)
    if not isinstance(embeds, list):
        errors["embeds"] = field_error("LIST_TYPE_CONVERT", "Must be a list.")
        embeds = []
    elif len(embeds) > EMBEDS_MAX:
        errors["embeds"] = field_error("BASE_TYPE_MAX_LENGTH", f"Must be {EMBEDS_MAX} or fewer in length.")
    else:
        embed_errors: dict[str, Any] = {}
        total = 0
        for index, embed in enumerate(embeds):
            one, size = _check_embed(embed)
            total += size
            if one:
                embed_errors[str(index)] = one
        if total > EMBED_TOTAL_MAX:
            embed_errors.setdefault("_errors", []).append(
                {"code": "MAX_EMBED_SIZE_EXCEEDED", "message": "Embed size exceeds maximum size of 6000"}
            )
        if embed_errors:
            errors["embeds"] = embed_errors
    return content, embeds, errors


def _finished(content: str, embeds: list[Any], *, require_content: bool) -> tuple[str, list[dict[str, Any]]]:
    """Refuse an empty message where one is not allowed, and return the embeds as Discord stores them."""
    if require_content and not content and not embeds:
        raise ApiError(400, 50006, "Cannot send an empty message")
    return content, [_rich(e) for e in embeds]


def _rich(embed: dict[str, Any]) -> dict[str, Any]:
    """Return the embed as Discord stores it (type defaults to "rich", empty keys dropped)."""
    stored = {k: v for k, v in embed.items() if v is not None}
    stored.setdefault("type", "rich")
    return stored


PERMISSIONS_MAX = 1 << 53  # every bit Discord defines lies below this


def parse_overwrites(raw: Any, *, field: str = "permission_overwrites") -> list[Overwrite]:
    """Parse a list of overwrites `{id, type, allow?, deny?}` (allow/deny: string, integer or null -> 0).

    400 like Discord, naming each broken field by its index, e.g. `permission_overwrites.0.type`.
    """
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise invalid_form({field: field_error("LIST_TYPE_CONVERT", "Must be a list.")})
    parsed: list[Overwrite] = []
    errors: dict[str, Any] = {}
    for index, item in enumerate(raw):
        overwrite, item_errors = _overwrite(item)
        if item_errors:
            errors[str(index)] = item_errors
        elif overwrite is not None:
            parsed.append(overwrite)
    if errors:
        raise invalid_form({field: errors})
    return parsed


def parse_overwrite(body: Any, overwrite_id: int) -> Overwrite:
    """Parse the body of `PUT /channels/{id}/permissions/{overwrite_id}` (`{type, allow?, deny?}`)."""
    if not isinstance(body, dict):
        raise invalid_form({"_errors": [{"code": "DICT_TYPE_CONVERT", "message": "Expected an object"}]})
    overwrite, errors = _overwrite({**body, "id": overwrite_id})
    if errors or overwrite is None:
        raise invalid_form(errors)
    return overwrite


def _overwrite(item: Any) -> tuple[Overwrite | None, dict[str, Any]]:
    """One overwrite and the errors of its fields."""
    if not isinstance(item, dict):
        return None, field_error("DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
    errors: dict[str, Any] = {}
    target = _snowflake_value(item.get("id"))
    if target is None:
        errors["id"] = field_error("NUMBER_TYPE_COERCE", f'Value "{item.get("id")}" is not snowflake.')
    kind = item.get("type")
    if isinstance(kind, str) and kind.isdigit():
        kind = int(kind)
    if kind not in (0, 1) or isinstance(kind, bool):
        errors["type"] = field_error("BASE_TYPE_CHOICES", "Value must be one of (0, 1).")
    bits = {}
    for key in ("allow", "deny"):
        value = _permissions_value(item.get(key))
        if value is None:
            errors[key] = field_error("NUMBER_TYPE_COERCE", f'Value "{item.get(key)}" is not int.')
        bits[key] = value or 0
    if errors or target is None or not isinstance(kind, int):
        return None, errors
    return Overwrite(target, kind, bits["allow"], bits["deny"]), {}


def _snowflake_value(raw: Any) -> int | None:
    """A snowflake given as a string or an integer, else None."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int) and raw >= 0:
        return raw
    if isinstance(raw, str) and raw.isdigit():
        return int(raw)
    return None


def _permissions_value(raw: Any) -> int | None:
    """A permission bit set from a string, an integer or null (0); None when it is none of those."""
    if raw is None:
        return 0
    value = _snowflake_value(raw)
    return value if value is not None and value < PERMISSIONS_MAX else None
