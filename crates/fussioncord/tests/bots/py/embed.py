"""An unmodified discord.py bot that sends a rich embed, pointed at FussionCord.

Environment: FC_HTTP (http://127.0.0.1:PORT), FC_TOKEN (bot token),
FC_CHANNEL (the channel to send to).
Once ready it sends one message with a discord.Embed (fields, footer,
author, timestamp, colour) whose image is a file of the same message named
by attachment://, and prints SENT <json>: the message id, the embed as
discord.py parsed it back (to_dict), and whether the image's bytes,
downloaded by discord.py from the embed's URL, are those sent.
"""

import asyncio
import datetime
import io
import json
import os
import sys

import aiohttp
import discord
import yarl

base = os.environ["FC_HTTP"]
discord.http.Route.BASE = f"{base}/api/v10"
discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(base.replace("http", "ws", 1) + "/")

client = discord.Client(intents=discord.Intents.default())

PNG = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x07\0\0\0\x06\x08\x06\0\0\0" + bytes(range(100))


def say(line):
    print(line, flush=True)


@client.event
async def on_ready():
    say("READY")
    try:
        channel = client.get_channel(int(os.environ["FC_CHANNEL"]))
        embed = discord.Embed(
            title="Build report",
            description="All green",
            url="https://example.com/build/1",
            colour=discord.Colour(0x2ECC71),
            timestamp=datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.timezone.utc),
        )
        embed.add_field(name="passed", value="412", inline=True)
        embed.add_field(name="failed", value="0", inline=False)
        embed.set_footer(text="ci bot", icon_url="https://example.com/ci.png")
        embed.set_author(name="FussionCord CI", url="https://example.com", icon_url="attachment://chart.png")
        embed.set_image(url="attachment://chart.png")
        file = discord.File(io.BytesIO(PNG), filename="chart.png")
        message = await channel.send(embed=embed, file=file)
        got = message.embeds[0]
        async with aiohttp.ClientSession() as s:
            async with s.get(got.image.url) as r:
                same = (await r.read()) == PNG
        say("SENT " + json.dumps({
            "id": str(message.id),
            "content": message.content,
            "embed": got.to_dict(),
            "image_size": [got.image.width, got.image.height],
            "attachment_url": message.attachments[0].url,
            "same": same,
        }))
    except Exception as e:  # noqa: BLE001 - the test reads this line
        say(f"FAILED {e!r}")


async def main():
    async with client:
        await client.start(os.environ["FC_TOKEN"])


try:
    asyncio.run(main())
except KeyboardInterrupt:
    sys.exit(0)
