"""discord.py's Webhook, unmodified, against FussionCord's webhooks.

Environment: FC_HTTP (http://127.0.0.1:PORT), FC_WEBHOOK_ID and
FC_WEBHOOK_TOKEN (an incoming webhook the test made).
It fetches the webhook with its token, sends a message with wait=True (an
override name, an embed and a file), fetches, edits and deletes it, sends
one without waiting, renames the webhook, deletes it, and checks that its
token no longer works. Prints DONE <json> with what discord.py saw, or
FAILED <error>.
"""

import asyncio
import io
import json
import os
import traceback

import aiohttp
import discord

discord.http.Route.BASE = f"{os.environ['FC_HTTP']}/api/v10"


async def main():
    out = {}
    async with aiohttp.ClientSession() as session:
        hook = discord.Webhook.partial(int(os.environ["FC_WEBHOOK_ID"]), os.environ["FC_WEBHOOK_TOKEN"], session=session)
        fetched = await hook.fetch()
        out["name"] = fetched.name
        out["channel_id"] = str(fetched.channel_id)
        sent = await hook.send(
            "hello from discord.py",
            username="Py Hook",
            embed=discord.Embed(title="Nightly", description="all green"),
            file=discord.File(io.BytesIO(b"log line\n"), filename="build.log"),
            wait=True,
        )
        out["sent"] = {
            "id": str(sent.id),
            "author": sent.author.name,
            "bot": sent.author.bot,
            "webhook_id": str(sent.webhook_id),
            "embed": sent.embeds[0].title,
            "file": sent.attachments[0].filename,
        }
        # A partial webhook's state has no HTTP client: fetch the URL as is.
        async with session.get(sent.attachments[0].url) as res:
            out["sent"]["bytes"] = (await res.read()).decode()
        again = await hook.fetch_message(sent.id)
        out["fetched"] = again.content
        edited = await hook.edit_message(sent.id, content="edited by discord.py", embeds=[])
        out["edited"] = {"content": edited.content, "embeds": len(edited.embeds)}
        await hook.delete_message(sent.id)
        out["unwaited"] = await hook.send("fire and forget")
        renamed = await hook.edit(name="Renamed Hook")
        out["renamed"] = renamed.name
        await hook.delete()
        try:
            await hook.send("after delete", wait=True)
            out["after_delete"] = "sent"
        except discord.NotFound as e:
            out["after_delete"] = f"NotFound {e.code}"
    print("DONE " + json.dumps(out, default=str), flush=True)


try:
    asyncio.run(main())
except Exception:
    print("FAILED " + traceback.format_exc().replace("\n", " | "), flush=True)
