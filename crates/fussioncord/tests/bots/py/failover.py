"""An unmodified discord.py bot for bots/cluster.rs: it lives through the
death of the node holding its gateway connection.

Environment: FC_HTTP (https://127.0.0.1:PORT, nginx), FC_TOKEN (bot token);
SSL_CERT_FILE names the test CA that signed nginx's certificate.
Answers "ping N" with "pong N" and prints REPLIED N once that is sent.
Prints READY <id> on every READY (an IDENTIFY that succeeded), RESUMED on
every successful RESUME and DISCONNECTED whenever it lost the gateway.
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
async def on_ready():
    say(f"READY {client.user.id}")


@client.event
async def on_resumed():
    say("RESUMED")


@client.event
async def on_disconnect():
    say("DISCONNECTED")


@client.event
async def on_message(message):
    if message.author.id == client.user.id or not message.content.startswith("ping "):
        return
    n = message.content.split()[1]
    try:
        await message.channel.send(f"pong {n}")
        say(f"REPLIED {n}")
    except Exception as e:  # the test fails on any error the library raised
        say(f"FAILED {n} {e!r}")


async def main():
    async with client:
        await client.start(os.environ["FC_TOKEN"])


try:
    asyncio.run(main())
except KeyboardInterrupt:
    sys.exit(0)
