"""An unmodified hikari bot pointed at FussionCord.

hikari is strict: it deserialises every payload into its own models, and it
sends its gateway payloads as binary WebSocket frames. Environment: FC_HTTP
(http://HOST:PORT), FC_TOKEN (bot token), FC_GUILD (the scene's guild id).
Speaks the line protocol of tests/bots/tour.rs.
"""

import json
import logging
import os
import sys

import hikari

LIBRARY = "hikari"
base = os.environ["FC_HTTP"]
guild_id = hikari.Snowflake(os.environ["FC_GUILD"])

bot = hikari.GatewayBot(
    os.environ["FC_TOKEN"],
    # hikari finds the gateway through GET /gateway/bot.
    rest_url=f"{base}/api/v10",
    intents=hikari.Intents.ALL_UNPRIVILEGED | hikari.Intents.GUILD_MEMBERS | hikari.Intents.MESSAGE_CONTENT,
    banner=None,
    # Its log goes to stderr, which the test shows when it fails; stdout is
    # for the tour's lines.
    logs=None,
)
logging.basicConfig(level=logging.INFO, stream=sys.stderr)


def say(line):
    print(line, flush=True)


def say_json(kind, value):
    say(f"{kind} {json.dumps(value)}")


def role_names(member):
    return sorted(r.name for r in member.get_roles() if r.id != member.guild_id)


@bot.listen()
async def on_ready(event: hikari.ShardReadyEvent) -> None:
    # Sent for each fresh IDENTIFY, not on a resume.
    say(f"READY {event.my_user.id} {len(event.unavailable_guilds)}")


@bot.listen()
async def on_guild(event: hikari.GuildAvailableEvent) -> None:
    if event.guild_id != guild_id:
        return
    guild = event.guild
    say_json("GUILD", {
        "id": str(guild.id),
        "name": guild.name,
        "channels": sorted(str(c.id) for c in guild.get_channels().values() if c.type == hikari.ChannelType.GUILD_TEXT),
        "roles": sorted(r.name for r in guild.get_roles().values()),
        "members": sorted(str(m) for m in guild.get_members()),
        "owner_id": str(guild.owner_id),
    })


@bot.listen()
async def on_resumed(event: hikari.ShardResumedEvent) -> None:
    say("RESUMED")


@bot.listen()
async def on_message(event: hikari.GuildMessageCreateEvent) -> None:
    me = bot.get_me()
    content = event.message.content or ""
    if me is None or event.author_id == me.id or not content.startswith("ping "):
        return
    tag = content.split(" ", 1)[1]
    reply = await bot.rest.create_message(event.channel_id, f"pong {tag} from {LIBRARY}")
    await bot.rest.add_reaction(event.channel_id, event.message_id, "\N{THUMBS UP SIGN}")
    say(f"REPLIED {tag} {reply.id}")


@bot.listen()
async def on_reaction(event: hikari.GuildReactionAddEvent) -> None:
    me = bot.get_me()
    if me is None or event.user_id == me.id:
        return
    # hikari keeps no reaction counts in its cache: the message, fetched.
    message = await bot.rest.fetch_message(event.channel_id, event.message_id)
    counted = next((r for r in message.reactions if str(r.emoji) == event.emoji_name), None)
    say_json("REACTION", {
        "message_id": str(event.message_id),
        "user_id": str(event.user_id),
        "emoji": event.emoji_name,
        "count": counted.count if counted else None,
        "me": counted.is_me if counted else None,
    })


@bot.listen()
async def on_member_update(event: hikari.MemberUpdateEvent) -> None:
    old = event.old_member
    say_json("MEMBER_UPDATE", {
        "id": str(event.user_id),
        "nick_before": old.nickname if old else "uncached",
        "nick": event.member.nickname,
        "roles_before": role_names(old) if old else None,
        "roles": role_names(event.member),
    })


# No update check: the test talks to no one but the server.
bot.run(check_for_updates=False, propagate_interrupts=False)
