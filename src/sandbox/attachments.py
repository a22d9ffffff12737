"""Files on messages as Discord keeps them: read from multipart bodies, checked, stored and served back.

discord.py sends files as `multipart/form-data`: a `payload_json` part (the JSON body, whose `attachments`
array describes each file as `{"id": n, "filename", "description"?}`, `n` naming the part `files[n]`) and one
part per file. Discord answers with the message's `attachments`, each with its own CDN `url`; an embed whose
image (or thumbnail, footer or author icon) is `attachment://chart.png` shows that file, and the stored embed
points at the attachment's URL instead.

Editing a message: an `attachments` array lists every attachment the message keeps (existing ones by their id)
plus the new files; without one, uploaded files are added to those the message has.
"""

from __future__ import annotations

import mimetypes
import posixpath
import re
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from src.sandbox.responses import ApiError, field_error, invalid_form

if TYPE_CHECKING:
    from src.sandbox.restcore import RestContext

FILES_MAX = 10  # attachments per message
DESCRIPTION_MAX = 1024  # characters of an attachment's alt text
BOOSTED_SIZE_LIMITS = {2: 50 * 1024 * 1024, 3: 100 * 1024 * 1024}  # upload limit per file by premium tier
KEPT_BYTES = 256 * 1024 * 1024  # file bytes kept behind the URLs; the oldest files are dropped beyond this
ATTACHMENT_SCHEME = "attachment://"
CDN_PREFIX = "/attachments"  # the REST port serves GET /attachments/{channel_id}/{attachment_id}/{filename}
_FILE_PART = re.compile(r"^files\[(\d+)\]$")
_CHUNK = 64 * 1024
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_SPACES = re.compile(r"\s+")


def too_large() -> ApiError:
    """Discord's answer to a file over the upload limit."""
    return ApiError(413, 40005, "Request entity too large")


@dataclass(frozen=True)
class Upload:
    """One file part of a multipart body."""

    index: int | None  # the n of a `files[n]` part; None for another part that carries a file name
    filename: str | None
    data: bytes


async def read_multipart(request: web.Request, size_limit: int) -> tuple[str, list[Upload]]:
    """The `payload_json` text and the file parts of a multipart body.

    413 Request entity too large when a file has more than `size_limit` bytes; such a file is still read to
    its end (and dropped), so the client gets the answer rather than a reset connection.
    """
    text = ""
    uploads: list[Upload] = []
    fits = True
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):  # a nested multipart body: Discord reads no such thing
                await part.release()
                continue
            if part.name == "payload_json":
                text = await part.text()
                continue
            found = _FILE_PART.match(part.name or "")
            if found is None and part.filename is None:
                await part.release()
                continue
            data, part_fits = await _read_part(part, size_limit)
            fits = fits and part_fits
            uploads.append(Upload(int(found[1]) if found else None, part.filename, data))
    except (ValueError, HttpProcessingError):
        # The error code and text are illustrative: Discord does not document its answer to a broken body.
        raise invalid_form(
            {"_errors": [{"code": "MULTIPART_INVALID", "message": "Invalid multipart form body."}]}
        ) from None
    if not fits:
        raise too_large()
    return text, uploads


async def _read_part(part: BodyPartReader, limit: int) -> tuple[bytes, bool]:
    """A file part's bytes and whether they fit in `limit` (if not, nothing beyond the limit is kept)."""
    kept = bytearray()
    size = 0
    while chunk := await part.read_chunk(_CHUNK):
        size += len(chunk)
        if size <= limit:
            kept.extend(chunk)
    return (bytes(kept), True) if size <= limit else (b"", False)


@dataclass(frozen=True)
class StoredFile:
    """The bytes behind one attachment URL."""

    channel_id: int
    filename: str
    content_type: str
    data: bytes


class AttachmentStore:
    """Every uploaded file by attachment id; beyond `budget` bytes the oldest files are forgotten."""

    def __init__(self, budget: int = KEPT_BYTES) -> None:
        self._budget = budget
        self._files: dict[int, StoredFile] = {}  # insertion order is upload order
        self.kept_bytes = 0

    def put(self, attachment_id: int, stored: StoredFile) -> None:
        """Keep a file (the newest is always kept, whatever its size)."""
        self._files[attachment_id] = stored
        self.kept_bytes += len(stored.data)
        while self.kept_bytes > self._budget and len(self._files) > 1:
            oldest = next(iter(self._files))
            self.kept_bytes -= len(self._files.pop(oldest).data)

    def get(self, attachment_id: int) -> StoredFile | None:
        """The file of an attachment, or None if unknown or forgotten."""
        return self._files.get(attachment_id)

    def find(self, channel_id: int, attachment_id: int, filename: str) -> StoredFile | None:
        """The file a CDN URL names, or None unless the channel and file name match too."""
        stored = self._files.get(attachment_id)
        if stored is None or stored.channel_id != channel_id or stored.filename != filename:
            return None
        return stored

    def __len__(self) -> int:
        """How many files are kept."""
        return len(self._files)


@dataclass(frozen=True)
class NewFile:
    """An uploaded file about to become an attachment."""

    upload: Upload
    filename: str
    description: str | None


Planned = list[dict[str, Any] | NewFile]  # kept attachments (their payloads) and new files, in message order


def plan_attachments(
    body: Mapping[str, Any], uploads: Sequence[Upload], existing: Sequence[dict[str, Any]] | None = None
) -> Planned | None:
    """What a message's attachments become; None when an edit leaves them as they are.

    `existing` is the edited message's attachments (None for a new message). 400 Invalid Form Body, as Discord
    answers, for more than 10 files, a file without a name, an `attachments` entry naming neither an
    attachment of the message nor a file part, or a description over 1024 characters.
    """
    metadata = body.get("attachments")
    if metadata is None and not uploads:
        return None if existing is not None else []
    by_index: dict[int, Upload] = {}
    for upload in uploads:
        if upload.index is not None:
            by_index.setdefault(upload.index, upload)
    planned: Planned = []
    used: set[int] = set()  # id() of the uploads an `attachments` entry took
    errors: dict[str, Any] = {}
    if metadata is None:
        planned.extend(existing or [])
    elif not isinstance(metadata, list):
        raise invalid_form({"attachments": field_error("LIST_TYPE_CONVERT", "Must be a list.")})
    else:
        kept = {str(a["id"]): a for a in existing or []}
        for position, item in enumerate(metadata):
            entry = _entry(item, kept, by_index, used)
            if isinstance(entry, ApiError):
                errors[str(position)] = entry.errors
            else:
                planned.append(entry)
    planned.extend(NewFile(u, u.filename or "", None) for u in uploads if id(u) not in used)
    if len(uploads) > FILES_MAX or len(planned) > FILES_MAX:
        raise invalid_form(
            {"attachments": field_error("BASE_TYPE_MAX_LENGTH", f"Must be {FILES_MAX} or fewer in length.")}
        )
    for position, entry in enumerate(planned):
        if isinstance(entry, NewFile):
            entry_errors = _new_file_errors(entry)
            if entry_errors:
                errors.setdefault(str(position), entry_errors)
    if errors:
        raise invalid_form({"attachments": errors})
    return planned


def _entry(
    item: Any, kept: Mapping[str, dict[str, Any]], by_index: Mapping[int, Upload], used: set[int]
) -> dict[str, Any] | NewFile | ApiError:
    """One `attachments` entry: an attachment the message keeps, a new file, or the error to report."""
    if not isinstance(item, dict):
        return invalid_form(field_error("DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType"))
    key = str(item.get("id"))
    if key in kept:
        return kept[key]
    upload = by_index.get(int(key)) if key.isdigit() else None
    if upload is None or id(upload) in used:
        # The error code and text are illustrative: Discord's wording for an unknown id is not documented.
        return invalid_form({"id": field_error("ATTACHMENT_NOT_FOUND", "Unknown attachment.")})
    used.add(id(upload))
    filename = item.get("filename", upload.filename)
    description = item.get("description")
    return NewFile(
        upload,
        filename if isinstance(filename, str) else "",
        description if isinstance(description, str) or description is None else str(description),
    )


def _new_file_errors(entry: NewFile) -> dict[str, Any]:
    """Errors of a new file's name and description."""
    errors: dict[str, Any] = {}
    if not clean_filename(entry.filename):
        errors["filename"] = field_error("BASE_TYPE_REQUIRED", "This field is required")
    if entry.description is not None and len(entry.description) > DESCRIPTION_MAX:
        errors["description"] = field_error(
            "BASE_TYPE_MAX_LENGTH", f"Must be {DESCRIPTION_MAX} or fewer in length."
        )
    return errors


def clean_filename(raw: str) -> str:
    """The name Discord stores: no folders, white space as one underscore ("my chart.png" -> my_chart.png)."""
    return _SPACES.sub("_", posixpath.basename(raw.replace("\\", "/")).strip())


def content_type(filename: str, data: bytes) -> str:
    """The type Discord reports: from the name (else a PNG signature), text types with `; charset=utf-8`."""
    guessed, _ = mimetypes.guess_type(filename, strict=False)
    if guessed is None and data.startswith(_PNG_SIGNATURE):
        guessed = "image/png"
    guessed = guessed or "application/octet-stream"
    return f"{guessed}; charset=utf-8" if guessed.startswith("text/") else guessed


def png_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a PNG from its IHDR chunk, or None if `data` is no PNG."""
    if len(data) < 24 or not data.startswith(_PNG_SIGNATURE) or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def materialize(
    planned: Planned,
    *,
    store: AttachmentStore,
    channel_id: int,
    next_id: Callable[[], int],
    cdn_url: str,
    ephemeral: bool,
) -> list[dict[str, Any]]:
    """The attachment payloads of `planned`: new files get an id and a URL, and their bytes are stored."""
    result: list[dict[str, Any]] = []
    for entry in planned:
        if isinstance(entry, dict):
            result.append(entry)
            continue
        attachment_id = next_id()
        name = clean_filename(entry.filename)
        data = entry.upload.data
        kind = content_type(name, data)
        url = f"{cdn_url}{CDN_PREFIX}/{channel_id}/{attachment_id}/{quote(name)}"
        payload: dict[str, Any] = {
            "id": str(attachment_id),
            "filename": name,
            "size": len(data),
            "url": url,
            "proxy_url": url,  # Discord's is on media.discordapp.net; the sandbox serves one URL for both
            "content_type": kind,
        }
        if entry.description is not None:
            payload["description"] = entry.description
        size = png_size(data)
        if size is not None:
            payload["width"], payload["height"] = size
        if ephemeral:
            payload["ephemeral"] = True
        store.put(attachment_id, StoredFile(channel_id, name, kind, data))
        result.append(payload)
    return result


def resolve_embeds(
    embeds: Sequence[dict[str, Any]], attachments: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The embeds with every `attachment://name` URL replaced by that attachment's, as Discord stores them.

    A name no attachment has is left as it was.
    """
    by_name = {str(a["filename"]): a for a in attachments}
    return [_resolve(embed, by_name) for embed in embeds]


def _named(url: Any, by_name: Mapping[str, dict[str, Any]]) -> dict[str, Any] | None:
    """The attachment an `attachment://name` URL names, if any."""
    if not isinstance(url, str) or not url.startswith(ATTACHMENT_SCHEME):
        return None
    name = url[len(ATTACHMENT_SCHEME) :]
    return by_name.get(name) or by_name.get(clean_filename(name))


def _resolve(embed: dict[str, Any], by_name: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    """One embed with its image, thumbnail, footer and author icons resolved."""
    resolved = dict(embed)
    for key in ("image", "thumbnail"):
        media = embed.get(key)
        found = _named(media.get("url"), by_name) if isinstance(media, dict) else None
        if isinstance(media, dict) and found is not None:
            extra = {k: found[k] for k in ("width", "height", "content_type") if k in found}
            resolved[key] = {**media, "url": found["url"], "proxy_url": found["proxy_url"], **extra}
    for key in ("footer", "author"):
        part = embed.get(key)
        found = _named(part.get("icon_url"), by_name) if isinstance(part, dict) else None
        if isinstance(part, dict) and found is not None:
            resolved[key] = {**part, "icon_url": found["url"], "proxy_icon_url": found["proxy_url"]}
    return resolved


def apply_attachments(ctx: RestContext, message: dict[str, Any], planned: Planned | None) -> None:
    """Give `message` its planned attachments (storing new files) and resolve its embeds against them."""
    if planned is not None:
        message["attachments"] = materialize(
            planned,
            store=ctx.state.attachments,
            channel_id=int(message["channel_id"]),
            next_id=ctx.state.next_id,
            cdn_url=ctx.endpoints.cdn_url,
            ephemeral=bool(int(message.get("flags") or 0) & (1 << 6)),  # EPHEMERAL
        )
    message["embeds"] = resolve_embeds(message.get("embeds") or [], message.get("attachments") or [])


def attachment_summary(attachments: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the journal keeps of a message's attachments: file name, size and content type."""
    return [
        {"filename": a.get("filename"), "size": a.get("size"), "content_type": a.get("content_type")}
        for a in attachments
    ]
