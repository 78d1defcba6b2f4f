"""An unmodified discord.py bot that registers application commands, pointed at FussionCord.

Environment: FC_HTTP (http://127.0.0.1:PORT), FC_TOKEN (bot token),
FC_GUILD (the guild to register them in).
Once ready it declares, with discord.py's app_commands, a slash command
with options (choices, a range, an optional member), a group with two
subcommands and a user and a message context-menu command, syncs them to
the guild with `tree.sync(guild=...)`, reads them back with
`tree.fetch_commands(guild=...)`, syncs again (the same commands must keep
their ids), and prints SYNCED <json>, FETCHED <json> and RESYNCED <json>:
each command as discord.py parsed it (`AppCommand.to_dict()`).
"""

import asyncio
import json
import os
import sys
from typing import Literal, Optional

import discord
import yarl
from discord import app_commands

base = os.environ["FC_HTTP"]
discord.http.Route.BASE = f"{base}/api/v10"
discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(base.replace("http", "ws", 1) + "/")

client = discord.Client(intents=discord.Intents.default())
tree = app_commands.CommandTree(client)
guild = discord.Object(id=int(os.environ["FC_GUILD"]))


def say(line):
    print(line, flush=True)


@tree.command(name="roll", description="Rolls some dice", guild=guild)
@app_commands.describe(sides="Sides of each die", count="How many dice", target="Who rolls")
@app_commands.choices(sides=[app_commands.Choice(name="six", value=6), app_commands.Choice(name="twenty", value=20)])
@app_commands.default_permissions(manage_messages=True)
async def roll(
    interaction: discord.Interaction,
    sides: app_commands.Choice[int],
    count: app_commands.Range[int, 1, 10],
    mode: Literal["sum", "each"] = "sum",
    target: Optional[discord.Member] = None,
):
    pass


config = app_commands.Group(name="config", description="Settings", guild_ids=[guild.id])


@config.command(name="set", description="Sets a value")
@app_commands.describe(key="Which setting", value="The new value")
async def config_set(interaction: discord.Interaction, key: str, value: app_commands.Range[str, 1, 50]):
    pass


@config.command(name="show", description="Shows the settings")
async def config_show(interaction: discord.Interaction):
    pass


tree.add_command(config)


@tree.context_menu(name="Get Info", guild=guild)
async def get_info(interaction: discord.Interaction, member: discord.Member):
    pass


@tree.context_menu(name="Quote Message", guild=guild)
async def quote(interaction: discord.Interaction, message: discord.Message):
    pass


def dump(commands):
    out = []
    for c in commands:
        d = c.to_dict()
        d["id"] = str(c.id)
        d["guild_id"] = str(c.guild_id) if c.guild_id else None
        perms = c.default_member_permissions
        d["default_member_permissions"] = str(perms.value) if perms is not None else None
        out.append(d)
    return json.dumps(sorted(out, key=lambda c: c["name"]), default=str)


@client.event
async def on_ready():
    say("READY")
    try:
        say("SYNCED " + dump(await tree.sync(guild=guild)))
        say("FETCHED " + dump(await tree.fetch_commands(guild=guild)))
        say("RESYNCED " + dump(await tree.sync(guild=guild)))
    except Exception as e:  # noqa: BLE001 - the test reads this line
        say(f"FAILED {e!r}")


async def main():
    async with client:
        await client.start(os.environ["FC_TOKEN"])


try:
    asyncio.run(main())
except KeyboardInterrupt:
    sys.exit(0)
