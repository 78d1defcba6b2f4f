"""An unmodified discord.py bot that sends files, pointed at FussionCord.

Environment: FC_HTTP (http://127.0.0.1:PORT), FC_TOKEN (bot token),
FC_CHANNEL (the channel to send to).
Once ready it sends one message with two files (each with a description),
prints SENT <json> with the attachments as discord.py read them and
whether each one's bytes, downloaded by discord.py from its URL, are
those sent; then it edits the message to keep only the first file and
prints EDITED <json>.
"""

import asyncio
import io
import json
import os
import sys

import discord
import yarl

base = os.environ["FC_HTTP"]
discord.http.Route.BASE = f"{base}/api/v10"
discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(base.replace("http", "ws", 1) + "/")

client = discord.Client(intents=discord.Intents.default())

PNG = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x05\0\0\0\x04\x08\x06\0\0\0" + bytes(range(200))
TEXT = b"hello from discord.py\n" * 50
SENT = {"picture.png": PNG, "notes.txt": TEXT}


def say(line):
    print(line, flush=True)


def described(message):
    return [
        {"id": str(a.id), "filename": a.filename, "description": a.description, "size": a.size,
         "content_type": a.content_type, "width": a.width, "height": a.height, "url": a.url}
        for a in message.attachments
    ]


@client.event
async def on_ready():
    say("READY")
    channel = client.get_channel(int(os.environ["FC_CHANNEL"]))
    files = [
        discord.File(io.BytesIO(PNG), filename="picture.png", description="a picture"),
        discord.File(io.BytesIO(TEXT), filename="notes.txt", description="some notes"),
    ]
    message = await channel.send("two files from discord.py", files=files)
    same = [await a.read() == SENT[a.filename] for a in message.attachments]
    say("SENT " + json.dumps({"id": str(message.id), "attachments": described(message), "same": same}))
    edited = await message.edit(attachments=[message.attachments[0]])
    say("EDITED " + json.dumps({"id": str(edited.id), "attachments": described(edited)}))


async def main():
    async with client:
        await client.start(os.environ["FC_TOKEN"])


try:
    asyncio.run(main())
except KeyboardInterrupt:
    sys.exit(0)
