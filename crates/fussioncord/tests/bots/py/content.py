"""An unmodified discord.py bot without the MESSAGE_CONTENT intent (and an
application without its flag), pointed at FussionCord.

Environment: FC_HTTP (http://127.0.0.1:PORT), FC_TOKEN (bot token).
Prints READY when ready; for each reply it receives, one line
REPLY <json> with what discord.py shows of it: its content, the content of
`message.reference.resolved` (the replied-to message the event carried),
and the same two read back over REST with `fetch_message`.
"""

import asyncio
import json
import os
import sys

import discord
import yarl

base = os.environ["FC_HTTP"]
discord.http.Route.BASE = f"{base}/api/v10"
discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(base.replace("http", "ws", 1) + "/")

intents = discord.Intents.default()
intents.message_content = False
client = discord.Client(intents=intents)


def say(line):
    print(line, flush=True)


def resolved_content(message):
    ref = message.reference
    if ref is None or not isinstance(ref.resolved, discord.Message):
        return None
    return ref.resolved.content


@client.event
async def on_ready():
    say("READY")


@client.event
async def on_message(message):
    if message.reference is None:
        return
    fetched = await message.channel.fetch_message(message.id)
    say("REPLY " + json.dumps({
        "id": str(message.id),
        "content": message.content,
        "resolved": resolved_content(message),
        "fetched": fetched.content,
        "fetched_resolved": resolved_content(fetched),
    }))


async def main():
    async with client:
        await client.start(os.environ["FC_TOKEN"])


try:
    asyncio.run(main())
except KeyboardInterrupt:
    sys.exit(0)
