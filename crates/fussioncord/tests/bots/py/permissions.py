"""An unmodified discord.py client that reports what it computes about
permissions from the data FussionCord's gateway sent it, and nothing else.

Environment: FC_HTTP (http://127.0.0.1:PORT), FC_TOKEN (bot token).

Once ready, and again whenever someone DMs it "dump <tag>", it prints:

    MASKS {"all": ..., "all_channel": ..., "voice": ...}    discord.py's own masks
    GUILD {"guild", "owner", "member_count", "chunked", "channels": [...], "members": [...]}
    PERM {"guild", "channel", "member", "permissions", "guild_permissions"}
    DONE <tag>

one GUILD line per guild, one PERM line per (text channel, member) pair,
where "permissions" is channel.permissions_for(member).value and
"guild_permissions" is member.guild_permissions.value. After "dump last" it
prints its lines and exits.
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
intents.members = True
intents.message_content = True
client = discord.Client(intents=intents)
dumped_at_ready = False


def say(prefix, value):
    print(f"{prefix} {json.dumps(value) if not isinstance(value, str) else value}", flush=True)


async def dump(tag):
    say(
        "MASKS",
        {
            "all": discord.Permissions.all().value,
            "all_channel": discord.Permissions.all_channel().value,
            "voice": discord.Permissions.voice().value,
        },
    )
    for guild in sorted(client.guilds, key=lambda g: g.id):
        # GUILD_CREATE carries the members of small guilds; if some are
        # missing, ask for them (REQUEST_GUILD_MEMBERS) before computing.
        chunked = False
        if guild.member_count is None or len(guild.members) < guild.member_count:
            await guild.chunk()
            chunked = True
        members = sorted(guild.members, key=lambda m: m.id)
        channels = sorted(guild.text_channels, key=lambda c: c.id)
        say(
            "GUILD",
            {
                "guild": str(guild.id),
                "owner": str(guild.owner_id),
                "member_count": guild.member_count,
                "chunked": chunked,
                "channels": [str(c.id) for c in channels],
                "members": [str(m.id) for m in members],
            },
        )
        for channel in channels:
            for member in members:
                say(
                    "PERM",
                    {
                        "guild": str(guild.id),
                        "channel": str(channel.id),
                        "member": str(member.id),
                        "permissions": channel.permissions_for(member).value,
                        "guild_permissions": member.guild_permissions.value,
                    },
                )
    say("DONE", tag)


@client.event
async def on_ready():
    global dumped_at_ready
    if not dumped_at_ready:
        dumped_at_ready = True
        await dump("ready")


@client.event
async def on_message(message):
    if message.guild is not None or not message.content.startswith("dump "):
        return
    tag = message.content.split(" ", 1)[1]
    await dump(tag)
    if tag == "last":
        await client.close()


async def main():
    async with client:
        await client.start(os.environ["FC_TOKEN"])


try:
    asyncio.run(main())
except KeyboardInterrupt:
    sys.exit(0)
