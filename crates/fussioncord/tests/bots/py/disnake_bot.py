"""An unmodified disnake bot (a discord.py fork) pointed at FussionCord.

Environment: FC_HTTP (http://HOST:PORT), FC_TOKEN (bot token), FC_GUILD
(the scene's guild id). Speaks the line protocol of tests/bots/tour.rs: every
line describes what the library's own cache and events made of the server's
payloads.
"""

import json
import logging
import os
import sys

import disnake

base = os.environ["FC_HTTP"]
# disnake finds the gateway through GET /gateway, so the REST base is all it needs.
disnake.http.Route.BASE = f"{base}/api/v10"

# disnake's log goes to stderr, which the test shows when it fails.
logging.basicConfig(level=logging.INFO, stream=sys.stderr)

LIBRARY = "disnake"
intents = disnake.Intents.default()
intents.message_content = True
intents.members = True
client = disnake.Client(intents=intents)
guild_id = int(os.environ["FC_GUILD"])


def say(line):
    print(line, flush=True)


def say_json(kind, value):
    say(f"{kind} {json.dumps(value)}")


def describe_guild(guild):
    return {
        "id": str(guild.id),
        "name": guild.name,
        "channels": sorted(str(c.id) for c in guild.text_channels),
        "roles": sorted(r.name for r in guild.roles),
        "members": sorted(str(m.id) for m in guild.members),
        "owner_id": str(guild.owner_id),
    }



@client.event
async def on_ready():
    # disnake also fires on_ready after a fresh IDENTIFY that follows a
    # failed resume; the tour counts READY lines to tell.
    say(f"READY {client.user.id} {len(client.guilds)}")
    guild = client.get_guild(guild_id)
    if guild is not None:
        say_json("GUILD", describe_guild(guild))


@client.event
async def on_resumed():
    say("RESUMED")


@client.event
async def on_message(message):
    if message.author.id == client.user.id or not message.content.startswith("ping "):
        return
    tag = message.content.split(" ", 1)[1]
    reply = await message.channel.send(f"pong {tag} from {LIBRARY}")
    await message.add_reaction("\N{THUMBS UP SIGN}")
    say(f"REPLIED {tag} {reply.id}")


@client.event
async def on_reaction_add(reaction, user):
    # Only for messages in the cache: the bot's own reply is, from its echo.
    if user.id == client.user.id:
        return
    say_json("REACTION", {
        "message_id": str(reaction.message.id),
        "user_id": str(user.id),
        "emoji": str(reaction.emoji),
        "count": reaction.count,
        "me": reaction.me,
    })


@client.event
async def on_member_update(before, after):
    say_json("MEMBER_UPDATE", {
        "id": str(after.id),
        "nick_before": before.nick,
        "nick": after.nick,
        "roles_before": sorted(r.name for r in before.roles if not r.is_default()),
        "roles": sorted(r.name for r in after.roles if not r.is_default()),
    })


try:
    client.run(os.environ["FC_TOKEN"])
except KeyboardInterrupt:
    sys.exit(0)
