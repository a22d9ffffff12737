"""Files end to end: the real discord.py client posts charts and exports; the sandbox keeps what is shown."""

from __future__ import annotations

import struct
import zlib

import aiohttp

from src.core.command_answers import AnswerWithFiles
from src.types.models import Attachment, Embed
from tests.integration.conftest import wait_until

REGISTER = r"PUT /applications/\d+/guilds/\d+/commands$"


def png(width: int = 4, height: int = 3) -> bytes:
    """A valid, tiny, all-white RGB PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\xff" * 3 * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


PNG = png()
CSV = b"day,joins,leaves\n2026-11-29,12,3\n"


def chart_embed() -> Embed:
    """An embed that shows the attached chart."""
    return Embed(title="Joins this week", image="attachment://chart.png")


async def test_the_port_posts_an_embed_with_its_chart(sandbox, start_bot):
    """send_message with files stores the PNG on the message and the embed shows it, through discord.py."""
    run = await start_bot().started()
    channel_id = sandbox.channel_ids["stats"]
    files = [Attachment("chart.png", PNG, "Joins per day"), Attachment("joins.csv", CSV)]

    message_id = await run.app.port.send_message(channel_id, chart_embed(), files=files)

    (message,) = [m for m in sandbox.messages(channel_id) if int(m["id"]) == message_id]
    chart, export = message["attachments"]
    assert (chart["filename"], chart["size"], chart["content_type"]) == ("chart.png", len(PNG), "image/png")
    assert chart["description"] == "Joins per day"
    assert (export["filename"], export["content_type"]) == ("joins.csv", "text/csv; charset=utf-8")
    assert message["embeds"][0]["image"]["url"] == chart["url"]
    assert sandbox.attachment_bytes(channel_id, message_id, "chart.png") == PNG
    assert sandbox.attachment_bytes(channel_id, message_id, "joins.csv") == CSV
    async with aiohttp.ClientSession() as session, session.get(chart["url"]) as resp:
        assert (resp.status, resp.headers["Content-Type"], await resp.read()) == (200, "image/png", PNG)
    assert await run.stop() == 0


async def test_a_send_with_files_and_a_nonce_posts_once(sandbox, start_bot):
    """A nonce travels in the multipart body; the message and its file are created once."""
    run = await start_bot().started()
    channel_id = sandbox.channel_ids["stats"]
    files = [Attachment("chart.png", PNG)]

    message_id = await run.app.port.send_message(
        channel_id, chart_embed(), nonce="chart-2026-11-29", files=files
    )

    assert [int(m["id"]) for m in sandbox.messages(channel_id) if m["attachments"]] == [message_id]
    assert len(sandbox.state.attachments) == 1
    assert await run.stop() == 0


async def test_a_command_answer_carries_its_chart(sandbox, start_bot, monkeypatch):
    """An answer built as AnswerWithFiles is edited into the deferred reply with the PNG the embed shows."""
    run = await start_bot().started()
    await wait_until(lambda: sandbox.journal.requests_matching(REGISTER), what="the command registration")

    async def chart_answer() -> AnswerWithFiles:
        return AnswerWithFiles(chart_embed(), [Attachment("chart.png", PNG, "Joins per day")])

    monkeypatch.setattr(run.app.commands._answers, "stats_now", chart_answer)

    result = await sandbox.invoke_command("stats now")

    assert not result.failed
    assert not result.loading
    assert result.attachment("chart.png")["description"] == "Joins per day"
    assert result.attachment_bytes("chart.png") == PNG
    assert result.embed["image"]["url"] == result.attachment("chart.png")["url"]
    assert await run.stop() == 0


async def test_an_ephemeral_answer_attaches_its_files_privately(sandbox, start_bot, monkeypatch):
    """An answer with files to an ephemeral command shows the file only to the member."""
    run = await start_bot().started()
    await wait_until(lambda: sandbox.journal.requests_matching(REGISTER), what="the command registration")

    async def export_answer() -> AnswerWithFiles:
        return AnswerWithFiles(Embed(title="Export"), [Attachment("joins.csv", CSV)])

    monkeypatch.setattr(run.app.commands._answers, "health", export_answer)

    result = await sandbox.invoke_command("health")

    assert result.ephemeral
    assert result.attachment("joins.csv")["ephemeral"] is True
    assert result.attachment_bytes("joins.csv") == CSV
    assert result.embed["title"] == "Export"
    assert await run.stop() == 0


async def test_plain_answers_still_carry_no_files(sandbox, start_bot):
    """An embed answer without files is edited in as before, with no attachments."""
    run = await start_bot().started()
    await wait_until(lambda: sandbox.journal.requests_matching(REGISTER), what="the command registration")

    result = await sandbox.invoke_command("stats now")

    assert not result.failed
    assert result.attachments == []
    assert result.embed["title"]
    assert await run.stop() == 0
