"""Files on messages: multipart bodies, Discord's limits, attachment:// embeds, the CDN route, accessors."""

from __future__ import annotations

import io
import json
import struct
import zlib
from typing import Any

import aiohttp
import discord
import pytest
from discord.http import handle_message_parameters
from discord.webhook.async_ import interaction_message_response_params

from src.sandbox import Sandbox, SandboxConfig
from src.sandbox.attachments import (
    AttachmentStore,
    StoredFile,
    clean_filename,
    content_type,
    png_size,
    resolve_embeds,
)
from src.sandbox.interactions import EPHEMERAL, LOADING, InteractionRecord
from src.types.permissions import ATTACH_FILES
from tests.unit.sandbox.conftest import Answer, GatewayClient, RestClient

LIMIT = 4096  # the upload limit these tests run with, so "too large" needs no 10 MiB body
COMMANDS: list[dict[str, Any]] = [{"name": "chart", "description": "A chart"}]
GUILDS, GUILD_MESSAGES = 1 << 0, 1 << 9


def png(width: int = 3, height: int = 2) -> bytes:
    """A valid, tiny, all-black RGB PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\x00" * 3 * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


PNG = png()
CSV = b"day,joins\n2026-01-31,4\n"


@pytest.fixture
def config() -> SandboxConfig:
    """A small guild whose upload limit is 4 KiB."""
    return SandboxConfig(members=50, attachment_size_limit=LIMIT)


def form(payload: dict[str, Any] | None, files: list[tuple[str, bytes]]) -> aiohttp.FormData:
    """A multipart body as discord.py builds it: payload_json, then files[0], files[1], ..."""
    data = aiohttp.FormData(quote_fields=False, default_to_multipart=True)
    if payload is not None:
        data.add_field("payload_json", json.dumps(payload))
    for index, (filename, content) in enumerate(files):
        data.add_field(f"files[{index}]", content, filename=filename, content_type="application/octet-stream")
    return data


def discordpy_form(multipart: list[dict[str, Any]] | None) -> aiohttp.FormData:
    """The FormData discord.py's HTTP client makes of a `MultipartParameters.multipart` list."""
    assert multipart
    data = aiohttp.FormData(quote_fields=False)
    for params in multipart:
        data.add_field(**params)
    return data


def described(files: list[tuple[str, bytes]], **extra: Any) -> list[dict[str, Any]]:
    """The `attachments` metadata discord.py puts in payload_json for `files`."""
    return [{"id": index, "filename": name, **extra} for index, (name, _) in enumerate(files)]


async def send(
    api: RestClient, method: str, path: str, body: aiohttp.FormData, *, token: str | None = "default"
) -> Answer:
    """Send a multipart body to `rest_url + path`, with the bot token unless told otherwise."""
    headers = {"Authorization": f"Bot {api.sandbox.config.token}"} if token == "default" else {}
    async with api.session.request(method, api.sandbox.rest_url + path, data=body, headers=headers) as resp:
        raw = await resp.read()
        decoded = json.loads(raw) if resp.headers.get("Content-Type") == "application/json" else raw
        return Answer(resp.status, resp.headers, decoded, raw)


def messages_path(sandbox: Sandbox, key: str = "stats") -> str:
    """The REST path of a seeded channel's messages."""
    return f"/channels/{sandbox.channel_ids[key]}/messages"


def chart_payload(**extra: Any) -> dict[str, Any]:
    """An embed showing chart.png, with the file described as discord.py does."""
    return {
        "embeds": [{"title": "Joins", "image": {"url": "attachment://chart.png"}}],
        "attachments": [{"id": 0, "filename": "chart.png", "description": "Joins per day"}],
        **extra,
    }


async def post_chart(api: RestClient, sandbox: Sandbox, **extra: Any) -> Answer:
    """POST an embed with chart.png attached."""
    return await send(api, "POST", messages_path(sandbox), form(chart_payload(**extra), [("chart.png", PNG)]))


# --- POST /channels/{id}/messages -------------------------------------------------------------------------


async def test_a_multipart_post_stores_the_attachment_as_discord_does(
    api: RestClient, sandbox: Sandbox
) -> None:
    """The created message lists the file with id, name, size, URLs, content type, alt text and PNG size."""
    answer = await post_chart(api, sandbox)

    assert answer.status == 200
    (attachment,) = answer.body["attachments"]
    assert attachment["filename"] == "chart.png"
    assert attachment["size"] == len(PNG)
    assert attachment["content_type"] == "image/png"
    assert attachment["description"] == "Joins per day"
    assert (attachment["width"], attachment["height"]) == (3, 2)
    channel_id = sandbox.channel_ids["stats"]
    assert attachment["url"] == f"{sandbox.cdn_url}/attachments/{channel_id}/{attachment['id']}/chart.png"
    assert attachment["proxy_url"] == attachment["url"]
    assert attachment["id"].isdigit()
    assert attachment["id"] != answer.body["id"]
    assert sandbox.messages(channel_id)[-1]["attachments"] == [attachment]


async def test_an_attachment_image_points_at_the_attachment(api: RestClient, sandbox: Sandbox) -> None:
    """`image.url = attachment://chart.png` is stored as the attachment's URL, as Discord resolves it."""
    answer = await post_chart(api, sandbox)

    (attachment,) = answer.body["attachments"]
    image = answer.body["embeds"][0]["image"]
    assert image["url"] == attachment["url"]
    assert image["proxy_url"] == attachment["proxy_url"]
    assert (image["width"], image["height"]) == (3, 2)


async def test_the_attachment_url_serves_the_bytes(
    api: RestClient, sandbox: Sandbox, session: aiohttp.ClientSession
) -> None:
    """GET on the attachment URL answers the uploaded bytes with their content type, without a token."""
    url = (await post_chart(api, sandbox)).body["attachments"][0]["url"]

    async with session.get(url) as resp:
        assert (resp.status, resp.headers["Content-Type"]) == (200, "image/png")
        assert await resp.read() == PNG


async def test_an_attachment_url_with_another_name_is_not_found(
    api: RestClient, sandbox: Sandbox, session: aiohttp.ClientSession
) -> None:
    """The CDN answers 404 unless channel, attachment id and file name all match."""
    url = (await post_chart(api, sandbox)).body["attachments"][0]["url"]

    for wrong in (url.replace("chart.png", "other.png"), url.rsplit("/", 3)[0] + "/1/2/chart.png"):
        async with session.get(wrong) as resp:
            assert resp.status == 404
            assert await resp.text() == "This content is no longer available."


async def test_a_csv_is_served_as_utf8_text(
    api: RestClient, sandbox: Sandbox, session: aiohttp.ClientSession
) -> None:
    """A CSV export gets Discord's text content type, with its charset."""
    files = [("joins.csv", CSV)]
    answer = await send(api, "POST", messages_path(sandbox), form({"content": "export"}, files))

    (attachment,) = answer.body["attachments"]
    assert attachment["content_type"] == "text/csv; charset=utf-8"
    assert "width" not in attachment
    assert "description" not in attachment
    async with session.get(attachment["url"]) as resp:
        assert resp.headers["Content-Type"] == "text/csv; charset=utf-8"
        assert await resp.read() == CSV


async def test_discordpy_multipart_parameters_are_understood(api: RestClient, sandbox: Sandbox) -> None:
    """The exact body discord.py's handle_message_parameters builds makes the message it describes."""
    embed = discord.Embed(title="Joins").set_image(url="attachment://chart.png")
    files = [
        discord.File(io.BytesIO(PNG), filename="chart.png", description="Joins per day"),
        discord.File(io.BytesIO(CSV), filename="joins.csv"),
    ]
    params = handle_message_parameters(embed=embed, files=files, nonce="n-1")

    answer = await send(api, "POST", messages_path(sandbox), discordpy_form(params.multipart))

    assert answer.status == 200
    assert [a["filename"] for a in answer.body["attachments"]] == ["chart.png", "joins.csv"]
    assert answer.body["attachments"][0]["description"] == "Joins per day"
    assert answer.body["embeds"][0]["image"]["url"] == answer.body["attachments"][0]["url"]
    assert answer.body["nonce"] == "n-1"


async def test_a_message_may_be_files_alone(api: RestClient, sandbox: Sandbox) -> None:
    """Neither content nor embeds are needed when the message carries a file."""
    answer = await send(api, "POST", messages_path(sandbox), form({}, [("joins.csv", CSV)]))

    assert answer.status == 200
    assert (answer.body["content"], answer.body["embeds"]) == ("", [])


async def test_files_without_payload_json_are_attached_in_order(api: RestClient, sandbox: Sandbox) -> None:
    """Without an `attachments` array every file part is attached, named by its part's file name."""
    files = [("a.csv", CSV), ("b.png", PNG)]
    answer = await send(api, "POST", messages_path(sandbox), form(None, files))

    assert [a["filename"] for a in answer.body["attachments"]] == ["a.csv", "b.png"]


async def test_a_multipart_post_without_files_is_a_plain_message(api: RestClient, sandbox: Sandbox) -> None:
    """payload_json alone posts the message it describes, with no attachments."""
    answer = await send(api, "POST", messages_path(sandbox), form({"content": "hi"}, []))

    assert (answer.status, answer.body["content"], answer.body["attachments"]) == (200, "hi", [])


async def test_an_empty_multipart_post_is_an_empty_message(api: RestClient, sandbox: Sandbox) -> None:
    """No text, no embed and no file is still Discord's 50006."""
    answer = await send(api, "POST", messages_path(sandbox), form({"content": ""}, []))

    assert (answer.status, answer.body["code"]) == (400, 50006)


async def test_metadata_names_the_file_and_spaces_become_underscores(
    api: RestClient, sandbox: Sandbox
) -> None:
    """The `attachments` entry's filename wins over the part's; "my chart.png" is stored as my_chart.png."""
    payload = {"content": "x", "attachments": [{"id": 0, "filename": "my chart.png"}]}
    answer = await send(api, "POST", messages_path(sandbox), form(payload, [("upload.bin", PNG)]))

    (attachment,) = answer.body["attachments"]
    assert (attachment["filename"], attachment["content_type"]) == ("my_chart.png", "image/png")
    assert attachment["url"].endswith("/my_chart.png")


async def test_eleven_files_are_refused(api: RestClient, sandbox: Sandbox) -> None:
    """At most 10 files per message: 400 Invalid Form Body on `attachments`, and nothing is posted."""
    files = [(f"{n}.csv", CSV) for n in range(11)]
    answer = await send(api, "POST", messages_path(sandbox), form({"attachments": described(files)}, files))

    assert (answer.status, answer.body["code"]) == (400, 50035)
    assert answer.body["errors"]["attachments"]["_errors"][0]["code"] == "BASE_TYPE_MAX_LENGTH"
    assert sandbox.messages(sandbox.channel_ids["stats"]) == []
    assert len(sandbox.state.attachments) == 0


async def test_ten_files_are_accepted(api: RestClient, sandbox: Sandbox) -> None:
    """Ten files is the limit, not over it."""
    files = [(f"{n}.csv", CSV) for n in range(10)]
    answer = await send(api, "POST", messages_path(sandbox), form({"attachments": described(files)}, files))

    assert (answer.status, len(answer.body["attachments"])) == (200, 10)


async def test_a_file_over_the_limit_is_413(api: RestClient, sandbox: Sandbox) -> None:
    """A file larger than the upload limit: 413 Request entity too large (40005), and nothing is posted."""
    big = b"x" * (LIMIT + 1)
    answer = await send(api, "POST", messages_path(sandbox), form({"content": "x"}, [("big.csv", big)]))

    assert answer.status == 413
    assert answer.body == {"message": "Request entity too large", "code": 40005}
    assert sandbox.messages(sandbox.channel_ids["stats"]) == []


async def test_a_file_at_the_limit_is_accepted(api: RestClient, sandbox: Sandbox) -> None:
    """Exactly the upload limit fits."""
    answer = await send(api, "POST", messages_path(sandbox), form({}, [("full.csv", b"x" * LIMIT)]))

    assert (answer.status, answer.body["attachments"][0]["size"]) == (200, LIMIT)


async def test_boost_tier_two_raises_the_upload_limit(api: RestClient, sandbox: Sandbox) -> None:
    """At boost tier 2 a file may have 50 MiB, as on Discord."""
    await sandbox.set_boosts(7)
    answer = await send(api, "POST", messages_path(sandbox), form({}, [("big.csv", b"x" * (LIMIT * 2))]))

    assert answer.status == 200
    assert sandbox.state.attachment_size_limit == 50 * 1024 * 1024


async def test_a_file_needs_a_name(api: RestClient, sandbox: Sandbox) -> None:
    """An attachment described with an empty filename is refused on `attachments.0.filename`."""
    payload = {"content": "x", "attachments": [{"id": 0, "filename": ""}]}
    answer = await send(api, "POST", messages_path(sandbox), form(payload, [("chart.png", PNG)]))

    assert (answer.status, answer.body["code"]) == (400, 50035)
    error = answer.body["errors"]["attachments"]["0"]["filename"]["_errors"][0]
    assert error["code"] == "BASE_TYPE_REQUIRED"


async def test_an_attachment_entry_without_its_file_is_refused(api: RestClient, sandbox: Sandbox) -> None:
    """An `attachments` entry naming no file part (and no attachment of the message) is a form error."""
    payload = {"content": "x", "attachments": [{"id": 3, "filename": "chart.png"}]}
    answer = await send(api, "POST", messages_path(sandbox), form(payload, [("chart.png", PNG)]))

    assert (answer.status, answer.body["code"]) == (400, 50035)
    assert "0" in answer.body["errors"]["attachments"]


async def test_a_long_description_is_refused(api: RestClient, sandbox: Sandbox) -> None:
    """Alt text is at most 1024 characters."""
    payload = {"attachments": [{"id": 0, "filename": "c.png", "description": "d" * 1025}]}
    answer = await send(api, "POST", messages_path(sandbox), form(payload, [("c.png", PNG)]))

    assert answer.status == 400
    assert "description" in answer.body["errors"]["attachments"]["0"]


async def test_files_need_attach_files(api: RestClient, sandbox: Sandbox) -> None:
    """Without Attach Files in the channel, a message with files is 403 Missing Permissions."""
    sandbox.state.set_bot_denies(sandbox.state.channel(sandbox.channel_ids["stats"]), ATTACH_FILES)

    with_file = await post_chart(api, sandbox)
    without = await send(api, "POST", messages_path(sandbox), form({"content": "x"}, []))

    assert (with_file.status, with_file.body["code"]) == (403, 50013)
    assert without.status == 200


async def test_an_unknown_attachment_name_is_left_alone(api: RestClient, sandbox: Sandbox) -> None:
    """An embed naming a file the message does not have keeps its attachment:// URL."""
    payload = {"embeds": [{"title": "t", "image": {"url": "attachment://missing.png"}}]}
    answer = await send(api, "POST", messages_path(sandbox), form(payload, [("chart.png", PNG)]))

    assert answer.body["embeds"][0]["image"] == {"url": "attachment://missing.png"}


async def test_message_create_carries_the_attachments(
    gateway: GatewayClient, api: RestClient, sandbox: Sandbox
) -> None:
    """MESSAGE_CREATE shows the bot the message with its attachments and resolved embed."""
    await gateway.identify(sandbox.config.token, GUILDS | GUILD_MESSAGES)
    await gateway.recv_until("GUILD_CREATE")
    answer = await post_chart(api, sandbox)

    created = (await gateway.recv_until("MESSAGE_CREATE"))["d"]
    assert created["attachments"] == answer.body["attachments"]
    assert created["embeds"] == answer.body["embeds"]


# --- nonces -----------------------------------------------------------------------------------------------


async def test_enforce_nonce_with_files_returns_the_first_message(api: RestClient, sandbox: Sandbox) -> None:
    """A retried multipart send with the same nonce gets the message it created; no file is stored twice."""
    first = await post_chart(api, sandbox, nonce="chart-1", enforce_nonce=True)
    again = await post_chart(api, sandbox, nonce="chart-1", enforce_nonce=True)

    assert (first.status, again.status) == (200, 200)
    assert again.body["id"] == first.body["id"]
    assert again.body["attachments"] == first.body["attachments"]
    assert again.body["nonce"] == "chart-1"
    assert len(sandbox.messages(sandbox.channel_ids["stats"])) == 1
    assert len(sandbox.state.attachments) == 1


async def test_a_multipart_nonce_without_enforce_posts_twice(api: RestClient, sandbox: Sandbox) -> None:
    """Without enforce_nonce the nonce is only echoed: two sends, two messages, two files."""
    first = await post_chart(api, sandbox, nonce="chart-2")
    again = await post_chart(api, sandbox, nonce="chart-2")

    assert first.body["id"] != again.body["id"]
    assert len(sandbox.state.attachments) == 2


# --- PATCH /channels/{id}/messages/{id} -------------------------------------------------------------------


async def test_an_edit_keeps_attachments_it_lists_and_drops_the_others(
    api: RestClient, sandbox: Sandbox
) -> None:
    """`attachments` in an edit lists what stays (by id); new files join them."""
    files = [("a.csv", CSV), ("b.csv", CSV)]
    created = await send(api, "POST", messages_path(sandbox), form({"attachments": described(files)}, files))
    kept = created.body["attachments"][1]
    path = f"{messages_path(sandbox)}/{created.body['id']}"

    payload = {"attachments": [{"id": kept["id"]}, {"id": 0, "filename": "c.png"}]}
    edited = await send(api, "PATCH", path, form(payload, [("c.png", PNG)]))

    assert edited.status == 200
    assert [a["filename"] for a in edited.body["attachments"]] == ["b.csv", "c.png"]
    assert edited.body["attachments"][0] == kept


async def test_an_edit_without_attachments_keeps_them(api: RestClient, sandbox: Sandbox) -> None:
    """A JSON edit of the text leaves the files; an empty `attachments` array removes them."""
    created = await post_chart(api, sandbox)
    path = f"{messages_path(sandbox)}/{created.body['id']}"

    kept = await api.call("PATCH", path, json_body={"content": "now with text"})
    removed = await api.call("PATCH", path, json_body={"attachments": []})

    assert kept.body["attachments"] == created.body["attachments"]
    assert removed.body["attachments"] == []


# --- interactions -----------------------------------------------------------------------------------------


@pytest.fixture
async def registered(api: RestClient, sandbox: Sandbox) -> Sandbox:
    """The sandbox with /chart registered on its guild."""
    path = f"/applications/{sandbox.application_id}/guilds/{sandbox.guild_id}/commands"
    assert (await api.call("PUT", path, json_body=COMMANDS)).status == 200
    return sandbox


def callback_path(record: InteractionRecord) -> str:
    return f"/interactions/{record.id}/{record.token}/callback"


def webhook_path(sandbox: Sandbox, record: InteractionRecord) -> str:
    return f"/webhooks/{sandbox.application_id}/{record.token}"


async def test_a_message_callback_carries_files(registered: Sandbox, api: RestClient) -> None:
    """A type 4 callback built by discord.py with a file shows the member the attachment and its bytes."""
    record = registered.create_interaction("chart")
    embed = discord.Embed(title="Joins").set_image(url="attachment://chart.png")
    params = interaction_message_response_params(
        type=4, embed=embed, files=[discord.File(io.BytesIO(PNG), filename="chart.png")]
    )

    answer = await send(api, "POST", callback_path(record), discordpy_form(params.multipart), token=None)

    result = registered.interaction(record.id)
    assert answer.status == 204
    assert [a["filename"] for a in result.attachments] == ["chart.png"]
    assert result.attachment_bytes("chart.png") == PNG
    assert result.embed["image"]["url"] == result.attachment("chart.png")["url"]
    assert registered.messages(registered.channel_ids["general"])[-1]["attachments"] == result.attachments


async def test_editing_the_deferred_answer_adds_files(registered: Sandbox, api: RestClient) -> None:
    """PATCH @original with discord.py's `attachments=[File]` body completes the deferral with the file."""
    record = registered.create_interaction("chart")
    await api.call("POST", callback_path(record), json_body={"type": 5}, token=None)
    embed = discord.Embed(title="Joins").set_image(url="attachment://chart.png")
    file = discord.File(io.BytesIO(PNG), filename="chart.png", description="Joins per day")
    params = handle_message_parameters(embed=embed, attachments=[file])

    path = webhook_path(registered, record) + "/messages/@original"
    answer = await send(api, "PATCH", path, discordpy_form(params.multipart), token=None)

    result = registered.interaction(record.id)
    assert answer.status == 200
    assert not result.loading
    assert result.attachment("chart.png")["description"] == "Joins per day"
    assert result.attachment_bytes("chart.png") == PNG
    assert result.embed["image"]["url"] == result.attachment("chart.png")["url"]
    (_, edit) = registered.journal.interaction_responses
    assert edit.attachments == ({"filename": "chart.png", "size": len(PNG), "content_type": "image/png"},)


async def test_an_ephemeral_answer_marks_its_attachments(registered: Sandbox, api: RestClient) -> None:
    """Files on an ephemeral answer are flagged ephemeral and stay out of the channel."""
    record = registered.create_interaction("chart")
    await api.call(
        "POST", callback_path(record), json_body={"type": 5, "data": {"flags": EPHEMERAL}}, token=None
    )
    path = webhook_path(registered, record) + "/messages/@original"

    await send(api, "PATCH", path, form({"content": "export"}, [("joins.csv", CSV)]), token=None)

    result = registered.interaction(record.id)
    assert result.ephemeral
    assert result.attachment("joins.csv")["ephemeral"] is True
    assert result.attachment_bytes("joins.csv") == CSV
    assert registered.messages(registered.channel_ids["general"]) == []


async def test_a_followup_carries_files(registered: Sandbox, api: RestClient) -> None:
    """A follow-up message may carry files; `?wait=true` answers it with its attachments."""
    record = registered.create_interaction("chart")
    await api.call("POST", callback_path(record), json_body={"type": 5}, token=None)

    path = webhook_path(registered, record) + "?wait=true"
    answer = await send(api, "POST", path, form({"content": "csv"}, [("joins.csv", CSV)]), token=None)

    result = registered.interaction(record.id)
    assert answer.body["attachments"][0]["filename"] == "joins.csv"
    assert result.attachment_bytes("joins.csv") == CSV


async def test_an_interaction_file_over_the_limit_is_413(registered: Sandbox, api: RestClient) -> None:
    """The upload limit applies to interaction answers too, and the deferral keeps "thinking"."""
    record = registered.create_interaction("chart")
    await api.call("POST", callback_path(record), json_body={"type": 5}, token=None)
    path = webhook_path(registered, record) + "/messages/@original"

    answer = await send(api, "PATCH", path, form({}, [("big.csv", b"x" * (LIMIT + 1))]), token=None)

    assert (answer.status, answer.body["code"]) == (413, 40005)
    assert int(registered.interaction(record.id).message["flags"]) & LOADING


async def test_a_result_without_files_has_no_attachments(registered: Sandbox, api: RestClient) -> None:
    """`attachments` is empty and `attachment()` explains what is missing."""
    record = registered.create_interaction("chart")
    await api.call(
        "POST", callback_path(record), json_body={"type": 4, "data": {"content": "hi"}}, token=None
    )

    result = registered.interaction(record.id)
    assert result.attachments == []
    with pytest.raises(AssertionError, match=r"no 'chart\.png'"):
        result.attachment_bytes("chart.png")


# --- accessors and control --------------------------------------------------------------------------------


async def test_attachment_bytes_reads_a_message_file(api: RestClient, sandbox: Sandbox) -> None:
    """`Sandbox.attachment_bytes` returns a message's file by name; KeyError for a name it lacks."""
    created = await post_chart(api, sandbox)
    channel_id, message_id = sandbox.channel_ids["stats"], int(created.body["id"])

    assert sandbox.attachment_bytes(channel_id, message_id, "chart.png") == PNG
    with pytest.raises(KeyError):
        sandbox.attachment_bytes(channel_id, message_id, "other.png")


async def test_control_state_shows_the_attachments(
    api: RestClient, sandbox: Sandbox, session: aiohttp.ClientSession
) -> None:
    """GET /state lists each message's attachments with file name, size and content type."""
    await post_chart(api, sandbox)

    async with session.get(sandbox.control_url + "/state") as resp:
        state = await resp.json()

    (message,) = state["messages"][str(sandbox.channel_ids["stats"])]
    (attachment,) = message["attachments"]
    assert (attachment["filename"], attachment["size"], attachment["content_type"]) == (
        "chart.png",
        len(PNG),
        "image/png",
    )


async def test_control_journal_shows_interaction_attachments(
    registered: Sandbox, api: RestClient, session: aiohttp.ClientSession
) -> None:
    """GET /journal lists the files of each interaction answer."""
    record = registered.create_interaction("chart")
    await send(
        api, "POST", callback_path(record), form({"type": 4, "data": {}}, [("joins.csv", CSV)]), token=None
    )

    async with session.get(registered.control_url + "/journal") as resp:
        journal = await resp.json()

    (response,) = journal["interaction_responses"]
    assert response["attachments"] == [
        {"filename": "joins.csv", "size": len(CSV), "content_type": "text/csv; charset=utf-8"}
    ]


# --- helpers ----------------------------------------------------------------------------------------------


def test_png_size_reads_the_header() -> None:
    """The width and height come from a PNG's IHDR; anything else has none."""
    assert png_size(png(640, 480)) == (640, 480)
    assert png_size(CSV) is None


def test_content_types_follow_the_name_then_the_bytes() -> None:
    """Known extensions decide; an unknown name with PNG bytes is still a PNG."""
    assert content_type("a.png", b"") == "image/png"
    assert content_type("a.txt", b"") == "text/plain; charset=utf-8"
    assert content_type("noext", PNG) == "image/png"
    assert content_type("noext", b"?") == "application/octet-stream"


def test_clean_filename_drops_folders_and_spaces() -> None:
    """Path parts go; runs of white space become one underscore."""
    assert clean_filename("../dir/my  chart.png") == "my_chart.png"
    assert clean_filename("C:\\x\\a b.csv") == "a_b.csv"


def test_resolve_embeds_covers_thumbnail_footer_and_author() -> None:
    """Every attachment:// URL of an embed points at its attachment."""
    attachment = {"filename": "i.png", "url": "http://x/i.png", "proxy_url": "http://p/i.png"}
    embed = {
        "thumbnail": {"url": "attachment://i.png"},
        "footer": {"text": "f", "icon_url": "attachment://i.png"},
        "author": {"name": "a", "icon_url": "attachment://i.png"},
    }

    (resolved,) = resolve_embeds([embed], [attachment])

    assert resolved["thumbnail"] == {"url": "http://x/i.png", "proxy_url": "http://p/i.png"}
    assert resolved["footer"] == {
        "text": "f",
        "icon_url": "http://x/i.png",
        "proxy_icon_url": "http://p/i.png",
    }
    assert resolved["author"]["icon_url"] == "http://x/i.png"


def test_the_store_forgets_the_oldest_files_beyond_its_budget() -> None:
    """Past the byte budget the oldest files go; the newest always stays."""
    store = AttachmentStore(budget=10)
    for attachment_id in (1, 2, 3):
        store.put(attachment_id, StoredFile(5, f"{attachment_id}.bin", "application/octet-stream", b"x" * 6))

    assert (store.get(1), store.get(2)) == (None, None)
    assert store.get(3) is not None
    assert (len(store), store.kept_bytes) == (1, 6)
    assert store.find(5, 3, "3.bin") is not None
    assert store.find(6, 3, "3.bin") is None


def test_a_non_positive_upload_limit_is_refused() -> None:
    """SandboxConfig.validate rejects an upload limit of 0."""
    with pytest.raises(ValueError, match="attachment_size_limit"):
        SandboxConfig(attachment_size_limit=0).validate()


async def test_a_much_larger_file_is_answered_not_reset(api: RestClient, sandbox: Sandbox) -> None:
    """A file far over the limit is read to its end, so the client gets the 413 rather than a reset."""
    huge = b"x" * (LIMIT * 100)
    answer = await send(api, "POST", messages_path(sandbox), form({"content": "x"}, [("huge.csv", huge)]))

    assert (answer.status, answer.body["code"]) == (413, 40005)


async def test_a_broken_multipart_body_is_a_form_error(api: RestClient, sandbox: Sandbox) -> None:
    """A multipart body that is not one is 400 Invalid Form Body, not a server error."""
    headers = {
        "Authorization": f"Bot {sandbox.config.token}",
        "Content-Type": "multipart/form-data; boundary=xyz",
    }
    url = sandbox.rest_url + messages_path(sandbox)
    async with api.session.post(url, data=b"--xyz\r\nno headers here", headers=headers) as resp:
        assert resp.status == 400
        assert (await resp.json())["code"] == 50035


async def test_a_truncated_multipart_body_is_a_form_error(api: RestClient, sandbox: Sandbox) -> None:
    """A multipart body cut off before its closing boundary is 400, not a server error."""
    headers = {
        "Authorization": f"Bot {sandbox.config.token}",
        "Content-Type": "multipart/form-data; boundary=xyz",
    }
    body = b'--xyz\r\nContent-Disposition: form-data; name="files[0]"; filename="a.csv"\r\n\r\nday,joins\r\n'
    url = sandbox.rest_url + messages_path(sandbox)
    async with api.session.post(url, data=body, headers=headers) as resp:
        assert resp.status == 400
