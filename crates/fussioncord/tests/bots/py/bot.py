"""An unmodified discord.py bot pointed at FussionCord.

Environment: FC_HTTP (http://127.0.0.1:PORT), FC_TOKEN (bot token).
Prints READY <id> when ready, REPLIED after each reply, CONNECTED on every
(re)connection. Answers "ping" with "pong from discord.py".
"""

import asyncio
import os
import sys

import discord
import yarl

base = os.environ["FC_HTTP"]
discord.http.Route.BASE = f"{base}/api/v10"
discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(base.replace("http", "ws", 1) + "/")

intents = discord.Intents.default()
intents.message_content = True
client = discord.Client(intents=intents)


def say(line):
    print(line, flush=True)


@client.event
async def on_connect():
    say("CONNECTED")


@client.event
async def on_ready():
    say(f"READY {client.user.id} {len(client.guilds)}")


@client.event
async def on_message(message):
    if message.author.id == client.user.id:
        return
    if message.content == "ping":
        await message.channel.send("pong from discord.py")
        say("REPLIED")


async def main():
    async with client:
        await client.start(os.environ["FC_TOKEN"])


try:
    asyncio.run(main())
except KeyboardInterrupt:
    sys.exit(0)
