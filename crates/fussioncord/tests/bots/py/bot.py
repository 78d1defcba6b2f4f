"""An unmodified discord.py bot pointed at FussionCord.

Environment: FC_HTTP (http://127.0.0.1:PORT), FC_TOKEN (bot token).
Prints READY <id> when ready, REPLIED after each reply, CONNECTED on every
(re)connection. Answers "ping" with "pong from discord.py". On "burst N" it
sends N messages at once and prints BURST_DONE (or BURST_FAILED <error>);
SAW_429 whenever discord.py reports a 429 it is waiting out. Prints
AUTOMOD_RULE <event> <name> for each AutoMod rule event and
AUTOMOD_ACTION <json> for each on_automod_action it receives. On
"emoji NAME" it uploads a custom emoji (guild.create_custom_emoji), prints
EMOJI_CREATED <id> <name> <animated>, reacts to that message with it and
prints REACTED; on "unemoji" it deletes the emoji it made and prints
EMOJI_DELETED; EMOJIS_UPDATE <before> <after> <names> for each
on_guild_emojis_update.
"""

import asyncio
import base64
import json
import logging
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


class Saw429(logging.Handler):
    """discord.py logs each 429 it retries after as a warning."""

    def emit(self, record):
        text = record.getMessage()
        if "429" in text or "rate limit" in text.lower():
            say("SAW_429")


logging.getLogger("discord.http").addHandler(Saw429(level=logging.WARNING))
logging.getLogger("discord.http").setLevel(logging.WARNING)


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
    await emoji_commands(message)
    if message.content == "ping":
        await message.channel.send("pong from discord.py")
        say("REPLIED")
    elif message.content.startswith("burst "):
        n = int(message.content.split()[1])
        try:
            await asyncio.gather(*(message.channel.send(f"burst {i + 1}/{n}") for i in range(n)))
            say("BURST_DONE")
        except Exception as e:  # the test fails on any error the library raised
            say(f"BURST_FAILED {e!r}")


# A 1×1 PNG.
PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
made = []


async def emoji_commands(message):
    if message.content.startswith("emoji "):
        try:
            emoji = await message.guild.create_custom_emoji(
                name=message.content.split()[1], image=PIXEL, reason="bot test"
            )
            made.append(emoji)
            say(f"EMOJI_CREATED {emoji.id} {emoji.name} {emoji.animated}")
            await message.add_reaction(emoji)
            say("REACTED")
        except Exception as e:
            say(f"EMOJI_FAILED {e!r}")
    elif message.content == "unemoji":
        try:
            await made.pop().delete(reason="bot test")
            say("EMOJI_DELETED")
        except Exception as e:
            say(f"EMOJI_FAILED {e!r}")


@client.event
async def on_guild_emojis_update(guild, before, after):
    say(f"EMOJIS_UPDATE {len(before)} {len(after)} {','.join(e.name for e in after)}")


@client.event
async def on_automod_rule_create(rule):
    say(f"AUTOMOD_RULE create {rule.name}")


@client.event
async def on_automod_action(execution):
    say("AUTOMOD_ACTION " + json.dumps({
        "guild_id": execution.guild_id,
        "action_type": execution.action.type.value,
        "custom_message": execution.action.custom_message,
        "rule_id": execution.rule_id,
        "rule_trigger_type": execution.rule_trigger_type.value,
        "user_id": execution.user_id,
        "channel_id": execution.channel_id,
        "message_id": execution.message_id,
        "content": execution.content,
        "matched_keyword": execution.matched_keyword,
        "matched_content": execution.matched_content,
    }))


async def main():
    async with client:
        await client.start(os.environ["FC_TOKEN"])


try:
    asyncio.run(main())
except KeyboardInterrupt:
    sys.exit(0)
