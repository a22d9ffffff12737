"""The REST API as discord.py sees it: headers, error shapes, auth, routes, validation and permissions."""

from __future__ import annotations

import aiohttp
import pytest

from src.sandbox import Sandbox, SandboxConfig, rest
from tests.clock import ManualClock
from tests.unit.sandbox.conftest import RestClient


def channel_path(sandbox: Sandbox, key: str) -> str:
    """The REST path of a seeded channel."""
    return f"/channels/{sandbox.channel_ids[key]}"


async def test_json_content_type_is_exact(api: RestClient) -> None:
    """JSON answers say `application/json` without a charset, or discord.py would not parse them."""
    answer = await api.call("GET", "/users/@me")
    assert answer.headers["Content-Type"] == "application/json"


async def test_me_is_the_bot_user(api: RestClient, sandbox: Sandbox) -> None:
    """GET /users/@me returns the bot user."""
    answer = await api.call("GET", "/users/@me")
    assert answer.body["id"] == str(sandbox.bot_user_id)
    assert answer.body["bot"] is True


async def test_missing_token_is_401(api: RestClient) -> None:
    """Without Authorization the answer is Discord's 401 body."""
    answer = await api.call("GET", "/users/@me", token=None)
    assert (answer.status, answer.body) == (401, {"message": "401: Unauthorized", "code": 0})


async def test_wrong_token_is_401(api: RestClient) -> None:
    """A wrong token is refused."""
    answer = await api.call("GET", "/users/@me", token="Bot nope")
    assert answer.status == 401


async def test_unknown_route_is_discord_404(api: RestClient) -> None:
    """An unknown route answers Discord's 404 body."""
    answer = await api.call("GET", "/nope/123")
    assert (answer.status, answer.body) == (404, {"message": "404: Not Found", "code": 0})


async def test_unknown_route_is_journaled(api: RestClient, sandbox: Sandbox) -> None:
    """Unknown routes are listed in the journal."""
    await api.call("POST", "/guilds/1/prune")
    assert sandbox.journal.unknown_routes == ["POST /guilds/1/prune"]


async def test_requests_are_journaled(api: RestClient, sandbox: Sandbox) -> None:
    """Every request is recorded with path (without /api/v10), status and bucket."""
    await api.call("GET", f"/guilds/{sandbox.guild_id}", params={"with_counts": "true"})
    record = sandbox.journal.requests_matching(r"^GET /guilds/\d+$")[0]
    assert (record.status, record.query) == (200, {"with_counts": "true"})
    assert record.bucket


async def test_application_has_privileged_flags(api: RestClient) -> None:
    """The application advertises the members and presence intents as enabled."""
    answer = await api.call("GET", "/oauth2/applications/@me")
    assert answer.body["flags"] & (1 << 15)
    assert answer.body["flags"] & (1 << 13)


async def test_gateway_bot_points_at_the_sandbox(api: RestClient, sandbox: Sandbox) -> None:
    """GET /gateway/bot returns the sandbox's websocket URL and one shard."""
    answer = await api.call("GET", "/gateway/bot")
    assert (answer.body["url"], answer.body["shards"]) == (sandbox.gateway_url, 1)


async def test_guild_with_counts(api: RestClient, sandbox: Sandbox) -> None:
    """with_counts=true adds the approximate member and presence counts."""
    sandbox.set_online(17)
    answer = await api.call("GET", f"/guilds/{sandbox.guild_id}", params={"with_counts": "true"})
    assert (answer.body["approximate_member_count"], answer.body["approximate_presence_count"]) == (51, 17)


async def test_unknown_guild_is_10004(api: RestClient) -> None:
    """A guild the bot is not in is unknown."""
    answer = await api.call("GET", "/guilds/123")
    assert (answer.status, answer.body["code"]) == (404, 10004)


async def test_ratelimit_headers_present(api: RestClient, sandbox: Sandbox) -> None:
    """Successful answers carry the bucket headers discord.py reads."""
    answer = await api.call("GET", channel_path(sandbox, "members"))
    for header in ("Limit", "Remaining", "Reset", "Reset-After", "Bucket"):
        assert f"X-RateLimit-{header}" in answer.headers


async def test_voice_rename_keeps_name(api: RestClient, sandbox: Sandbox) -> None:
    """A voice channel keeps the name exactly."""
    answer = await api.call("PATCH", channel_path(sandbox, "bans"), json_body={"name": "Bans: 89"})
    assert answer.body["name"] == "Bans: 89"
    assert sandbox.channel_name(sandbox.channel_ids["bans"]) == "Bans: 89"


async def test_text_rename_is_normalised(api: RestClient, sandbox: Sandbox) -> None:
    """A text channel name is lower-cased and hyphenated like Discord does."""
    answer = await api.call("PATCH", channel_path(sandbox, "stats"), json_body={"name": "Bans: 89"})
    assert answer.body["name"] == "bans-89"


async def test_rename_is_journaled(api: RestClient, sandbox: Sandbox) -> None:
    """Renames are recorded as (t, old, new)."""
    await api.call("PATCH", channel_path(sandbox, "members"), json_body={"name": "Members: 5"})
    renames = sandbox.journal.renames(sandbox.channel_ids["members"])
    assert [(r.old, r.new) for r in renames] == [("Members", "Members: 5")]


async def test_name_over_100_is_400(api: RestClient, sandbox: Sandbox) -> None:
    """A 101-character name is an Invalid Form Body."""
    answer = await api.call("PATCH", channel_path(sandbox, "members"), json_body={"name": "x" * 101})
    assert (answer.status, answer.body["code"]) == (400, 50035)


async def test_third_rename_gets_hidden_429(api: RestClient, sandbox: Sandbox) -> None:
    """The third rename within 10 minutes is a 429 with retry_after up to 600 s and global false."""
    path = channel_path(sandbox, "members")
    for n in range(2):
        assert (await api.call("PATCH", path, json_body={"name": f"M {n}"})).status == 200
    answer = await api.call("PATCH", path, json_body={"name": "M 2"})
    assert answer.status == 429
    assert answer.body == {"message": "You are being rate limited.", "retry_after": 600.0, "global": False}


async def test_hidden_429_has_discord_headers(api: RestClient, sandbox: Sandbox) -> None:
    """The rename 429 has Via (so discord.py trusts it), Retry-After and user scope."""
    path = channel_path(sandbox, "members")
    for n in range(3):
        answer = await api.call("PATCH", path, json_body={"name": f"M {n}"})
    assert answer.headers["Via"] == "1.1 google"
    assert answer.headers["Retry-After"] == "600"
    assert answer.headers["X-RateLimit-Scope"] == "user"


async def test_hidden_limit_is_invisible_in_headers(api: RestClient, sandbox: Sandbox) -> None:
    """The rename before the 429 still shows room in X-RateLimit-Remaining."""
    path = channel_path(sandbox, "members")
    await api.call("PATCH", path, json_body={"name": "M 0"})
    second = await api.call("PATCH", path, json_body={"name": "M 1"})
    assert int(second.headers["X-RateLimit-Remaining"]) > 0


async def test_hidden_429_is_journaled(api: RestClient, sandbox: Sandbox) -> None:
    """Refused renames are recorded with their retry_after; the name is unchanged."""
    path = channel_path(sandbox, "members")
    for n in range(3):
        await api.call("PATCH", path, json_body={"name": f"M {n}"})
    channel_id = sandbox.channel_ids["members"]
    assert [r.retry_after for r in sandbox.journal.rename_429s(channel_id)] == [600.0]
    assert sandbox.channel_name(channel_id) == "M 1"


async def test_rename_allowed_after_window(api: RestClient, sandbox: Sandbox, clock: ManualClock) -> None:
    """Once the oldest rename is 600 s old, renaming works again."""
    path = channel_path(sandbox, "members")
    for n in range(2):
        await api.call("PATCH", path, json_body={"name": f"M {n}"})
    await clock.advance(600)
    assert (await api.call("PATCH", path, json_body={"name": "M 2"})).status == 200


async def test_same_name_still_counts(api: RestClient, sandbox: Sandbox) -> None:
    """Discord counts edits, not changes: two same-name PATCHes use up the window."""
    path = channel_path(sandbox, "members")
    for _ in range(2):
        await api.call("PATCH", path, json_body={"name": "Members"})
    assert (await api.call("PATCH", path, json_body={"name": "Other"})).status == 429


async def test_message_bucket_exhaustion_is_429(api: RestClient, sandbox: Sandbox) -> None:
    """A sixth message within 5 s exceeds the visible bucket: 429 with Remaining 0 on the fifth."""
    path = channel_path(sandbox, "stats") + "/messages"
    answers = [await api.call("POST", path, json_body={"content": str(n)}) for n in range(6)]
    assert answers[4].headers["X-RateLimit-Remaining"] == "0"
    assert (answers[5].status, answers[5].body["global"]) == (429, False)


async def test_embed_limit_is_400(api: RestClient, sandbox: Sandbox) -> None:
    """An embed title over 256 characters is refused with 50035."""
    path = channel_path(sandbox, "stats") + "/messages"
    answer = await api.call("POST", path, json_body={"embeds": [{"title": "t" * 257}]})
    assert (answer.status, answer.body["code"]) == (400, 50035)


async def test_message_is_stored(api: RestClient, sandbox: Sandbox) -> None:
    """A posted message is visible in `messages()` with its embeds."""
    path = channel_path(sandbox, "stats") + "/messages"
    await api.call("POST", path, json_body={"content": "hi", "embeds": [{"title": "T"}]})
    (message,) = sandbox.messages(sandbox.channel_ids["stats"])
    assert (message["content"], message["embeds"][0]["title"]) == ("hi", "T")


async def test_message_edit_sets_edited_timestamp(api: RestClient, sandbox: Sandbox) -> None:
    """Editing a message changes its content and sets edited_timestamp."""
    path = channel_path(sandbox, "stats") + "/messages"
    posted = await api.call("POST", path, json_body={"content": "v1"})
    await api.call("PATCH", f"{path}/{posted.body['id']}", json_body={"content": "v2"})
    (message,) = sandbox.messages(sandbox.channel_ids["stats"])
    assert message["content"] == "v2"
    assert message["edited_timestamp"] is not None


async def test_deleted_message_is_10008(api: RestClient, sandbox: Sandbox) -> None:
    """After DELETE (204) the message is Unknown Message."""
    path = channel_path(sandbox, "stats") + "/messages"
    posted = await api.call("POST", path, json_body={"content": "bye"})
    assert (await api.call("DELETE", f"{path}/{posted.body['id']}")).status == 204
    answer = await api.call("GET", f"{path}/{posted.body['id']}")
    assert (answer.status, answer.body["code"]) == (404, 10008)


async def test_message_history_is_newest_first(api: RestClient, sandbox: Sandbox) -> None:
    """GET messages lists newest first and honours limit."""
    path = channel_path(sandbox, "general") + "/messages"
    for n in range(3):
        await api.call("POST", path, json_body={"content": str(n)})
    answer = await api.call("GET", path, params={"limit": "2"})
    assert [m["content"] for m in answer.body] == ["2", "1"]


async def test_manage_channels_denied_is_50013(api: RestClient, sandbox: Sandbox) -> None:
    """Without Manage Channels, PATCH is 403 Missing Permissions."""
    sandbox.set_channel_permissions(sandbox.channel_ids["members"], manage_channels=False)
    answer = await api.call("PATCH", channel_path(sandbox, "members"), json_body={"name": "x"})
    assert (answer.status, answer.body) == (403, {"message": "Missing Permissions", "code": 50013})


async def test_send_denied_is_50013(api: RestClient, sandbox: Sandbox) -> None:
    """Without Send Messages, posting is 403 Missing Permissions."""
    sandbox.set_channel_permissions(sandbox.channel_ids["stats"], send_messages=False)
    answer = await api.call("POST", channel_path(sandbox, "stats") + "/messages", json_body={"content": "x"})
    assert (answer.status, answer.body["code"]) == (403, 50013)


async def test_view_denied_is_missing_access(api: RestClient, sandbox: Sandbox) -> None:
    """Without View Channel the channel is 403 Missing Access."""
    sandbox.set_channel_permissions(sandbox.channel_ids["general"], view=False)
    answer = await api.call("GET", channel_path(sandbox, "general"))
    assert (answer.status, answer.body["code"]) == (403, 50001)


async def test_permission_deny_is_an_overwrite(api: RestClient, sandbox: Sandbox) -> None:
    """The deny shows up as the bot role's overwrite, so discord.py computes it too."""
    sandbox.set_channel_permissions(sandbox.channel_ids["stats"], send_messages=False)
    answer = await api.call("GET", f"/guilds/{sandbox.guild_id}/channels")
    stats = next(c for c in answer.body if c["id"] == str(sandbox.channel_ids["stats"]))
    assert {"id": str(sandbox.state.bot_role_id), "type": 0, "allow": "0", "deny": str(1 << 11)} in stats[
        "permission_overwrites"
    ]


async def test_deleted_channel_is_10003(api: RestClient, sandbox: Sandbox) -> None:
    """A deleted channel is Unknown Channel for GET and PATCH."""
    sandbox.delete_channel(sandbox.channel_ids["online"])
    get = await api.call("GET", channel_path(sandbox, "online"))
    patch = await api.call("PATCH", channel_path(sandbox, "online"), json_body={"name": "x"})
    assert [(a.status, a.body["code"]) for a in (get, patch)] == [(404, 10003), (404, 10003)]


async def test_fault_answers_for_count_then_normal(api: RestClient, sandbox: Sandbox) -> None:
    """A fault with count=2 answers 503 twice, then the route works again."""
    sandbox.inject_fault(r"^GET /users/@me$", status=503, count=2)
    statuses = [(await api.call("GET", "/users/@me")).status for _ in range(3)]
    assert statuses == [503, 503, 200]


async def test_fault_for_duration(api: RestClient, sandbox: Sandbox, clock: ManualClock) -> None:
    """A fault with a duration stops applying once it has passed."""
    sandbox.inject_fault(r"^GET /users/@me$", status=500, duration=5)
    first = (await api.call("GET", "/users/@me")).status
    await clock.advance(5)
    assert (first, (await api.call("GET", "/users/@me")).status) == (500, 200)


async def test_global_429_fault_shape(api: RestClient, sandbox: Sandbox) -> None:
    """A global 429 fault has global true, X-RateLimit-Global and global scope."""
    sandbox.inject_fault("users", status=429, global_429=True, count=1)
    answer = await api.call("GET", "/users/@me")
    assert answer.body["global"] is True
    assert answer.headers["X-RateLimit-Global"] == "true"
    assert answer.headers["X-RateLimit-Scope"] == "global"


async def test_clear_faults(api: RestClient, sandbox: Sandbox) -> None:
    """clear_faults removes every fault."""
    sandbox.inject_fault(".*", status=500)
    sandbox.clear_faults()
    assert (await api.call("GET", "/users/@me")).status == 200


async def test_bans_paginate_all_2500(api: RestClient, sandbox: Sandbox) -> None:
    """Paging /bans with after= returns the 2,500 seeded bans once each, ascending."""
    seen: list[int] = []
    after = "0"
    while True:
        page = (await api.call("GET", f"/guilds/{sandbox.guild_id}/bans", params={"after": after})).body
        seen.extend(int(b["user"]["id"]) for b in page)
        if len(page) < 1000:
            break
        after = page[-1]["user"]["id"]
    assert len(seen) == 2500
    assert seen == sorted(set(seen))


async def test_ban_entry_shape(api: RestClient, sandbox: Sandbox) -> None:
    """A ban is {reason, user}."""
    page = (await api.call("GET", f"/guilds/{sandbox.guild_id}/bans", params={"limit": "1"})).body
    assert set(page[0]) == {"reason", "user"}


async def test_bans_limit_over_1000_is_400(api: RestClient, sandbox: Sandbox) -> None:
    """Limit above 1000 is refused."""
    answer = await api.call("GET", f"/guilds/{sandbox.guild_id}/bans", params={"limit": "1001"})
    assert answer.status == 400


async def test_unknown_ban_is_10026(api: RestClient, sandbox: Sandbox) -> None:
    """A user who is not banned has no ban."""
    answer = await api.call("GET", f"/guilds/{sandbox.guild_id}/bans/{sandbox.bot_user_id}")
    assert (answer.status, answer.body["code"]) == (404, 10026)


async def test_members_list_ascending_after(api: RestClient, sandbox: Sandbox) -> None:
    """GET members pages ascending by id after `after`."""
    answer = await api.call("GET", f"/guilds/{sandbox.guild_id}/members", params={"limit": "1000"})
    ids = [int(m["user"]["id"]) for m in answer.body]
    assert (len(ids), ids == sorted(ids)) == (51, True)


async def test_member_has_required_fields(api: RestClient, sandbox: Sandbox) -> None:
    """A member carries user, roles, joined_at and flags."""
    answer = await api.call("GET", f"/guilds/{sandbox.guild_id}/members/{sandbox.bot_user_id}")
    assert {"user", "roles", "joined_at", "flags"} <= set(answer.body)


async def test_removed_member_is_10007(api: RestClient, sandbox: Sandbox) -> None:
    """A member who left is Unknown Member."""
    uid = await sandbox.add_member(username="gone")
    await sandbox.remove_member(uid)
    answer = await api.call("GET", f"/guilds/{sandbox.guild_id}/members/{uid}")
    assert (answer.status, answer.body["code"]) == (404, 10007)


async def test_guild_commands_are_stored(api: RestClient, sandbox: Sandbox) -> None:
    """PUT guild commands returns them with ids, and GET returns the same."""
    path = f"/applications/{sandbox.application_id}/guilds/{sandbox.guild_id}/commands"
    put = await api.call("PUT", path, json_body=[{"name": "stats", "description": "Show stats"}])
    got = await api.call("GET", path)
    assert put.body == got.body
    assert put.body[0]["id"].isdigit()


async def test_global_commands_keep_ids_on_overwrite(api: RestClient, sandbox: Sandbox) -> None:
    """Overwriting global commands keeps the id of a command that stays."""
    path = f"/applications/{sandbox.application_id}/commands"
    first = await api.call("PUT", path, json_body=[{"name": "stats", "description": "a"}])
    second = await api.call("PUT", path, json_body=[{"name": "stats", "description": "b"}])
    assert first.body[0]["id"] == second.body[0]["id"]


async def test_time_scale_shortens_rename_retry_after(
    session: aiohttp.ClientSession, clock: ManualClock
) -> None:
    """With time_scale 60 the hidden rename window is 10 real seconds."""
    async with Sandbox(SandboxConfig(time_scale=60.0), clock=clock) as sb:
        api = RestClient(session, sb)
        path = channel_path(sb, "members")
        for n in range(3):
            answer = await api.call("PATCH", path, json_body={"name": f"M {n}"})
    assert answer.body["retry_after"] == 10.0


async def test_member_list_needs_enabled_intent(session: aiohttp.ClientSession, clock: ManualClock) -> None:
    """Listing members is Missing Access when the members intent is not enabled in the portal."""
    async with Sandbox(SandboxConfig(privileged_intents_enabled=False), clock=clock) as sb:
        answer = await RestClient(session, sb).call("GET", f"/guilds/{sb.guild_id}/members")
    assert (answer.status, answer.body["code"]) == (403, 50001)


async def test_cloudflare_ban_after_too_many_invalid_requests(
    session: aiohttp.ClientSession, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the invalid-request threshold every answer is a non-JSON 429 without Via, like Cloudflare's."""
    monkeypatch.setattr(rest, "INVALID_LIMIT", 3)
    async with Sandbox(SandboxConfig(), clock=clock) as sb:
        api = RestClient(session, sb)
        for _ in range(4):
            await api.call("GET", "/users/@me", token=None)
        answer = await api.call("GET", "/users/@me")
    assert (answer.status, answer.headers["Content-Type"], "Via" in answer.headers) == (
        429,
        "text/plain",
        False,
    )
