"""An unmodified discord.py bot built on app_commands and views, pointed at FussionCord.

Environment: FC_HTTP (http://127.0.0.1:PORT), FC_TOKEN (bot token),
FC_GUILD (the guild to sync its command tree to).
Once ready it syncs its tree to the guild and prints READY. Its commands:
  /greet name:<autocomplete> style:<choice>  answers with a View (a button
      and a select); the button edits the message (response.edit_message),
      the select opens a Modal, whose submission is answered ephemerally;
  /slow  defers (thinking), then sends a follow-up;
  "Poke" (user context menu)  answers naming its target.
It prints HANDLED <what> for each, or FAILED <error>.
"""

import os
import traceback

import discord
import yarl
from discord import app_commands

base = os.environ["FC_HTTP"]
discord.http.Route.BASE = f"{base}/api/v10"
discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(base.replace("http", "ws", 1) + "/")
GUILD = discord.Object(id=int(os.environ["FC_GUILD"]))


def say(line):
    print(line, flush=True)


class Note(discord.ui.Modal, title="Leave a note"):
    text = discord.ui.TextInput(label="Your note", style=discord.TextStyle.paragraph, min_length=2)

    async def on_submit(self, interaction: discord.Interaction):
        await interaction.response.send_message(f"Noted: {self.text.value}", ephemeral=True)
        say(f"HANDLED note {self.text.value}")


class Greeting(discord.ui.View):
    def __init__(self):
        super().__init__(timeout=120)

    @discord.ui.button(label="Wave", style=discord.ButtonStyle.primary, custom_id="wave")
    async def wave(self, interaction: discord.Interaction, button: discord.ui.Button):
        await interaction.response.edit_message(content=f"{interaction.user.name} waved back", view=None)
        say("HANDLED wave")

    @discord.ui.select(custom_id="mood", placeholder="Mood", options=[
        discord.SelectOption(label="Happy", value="happy"),
        discord.SelectOption(label="Sleepy", value="sleepy"),
    ])
    async def mood(self, interaction: discord.Interaction, select: discord.ui.Select):
        await interaction.response.send_modal(Note())
        say(f"HANDLED mood {select.values[0]}")


class Bot(discord.Client):
    def __init__(self):
        super().__init__(intents=discord.Intents.default())
        self.tree = app_commands.CommandTree(self)

    async def setup_hook(self):
        self.tree.copy_global_to(guild=GUILD)
        await self.tree.sync(guild=GUILD)


client = Bot()
NAMES = ["Ada", "Alan", "Grace", "Linus"]


@client.tree.command(description="Greets someone")
@app_commands.describe(name="Who", style="How")
@app_commands.choices(style=[app_commands.Choice(name="Warm", value="warm"), app_commands.Choice(name="Cool", value="cool")])
async def greet(interaction: discord.Interaction, name: str, style: app_commands.Choice[str]):
    await interaction.response.send_message(f"A {style.value} hello to {name}", view=Greeting())
    say(f"HANDLED greet {name} {style.value}")


@greet.autocomplete("name")
async def greet_names(interaction: discord.Interaction, current: str):
    say(f"HANDLED autocomplete {current}")
    return [app_commands.Choice(name=n, value=n) for n in NAMES if n.lower().startswith(current.lower())]


@client.tree.command(description="Takes its time")
async def slow(interaction: discord.Interaction):
    await interaction.response.defer(thinking=True)
    await interaction.followup.send("Finally done")
    say("HANDLED slow")


@client.tree.context_menu(name="Poke")
async def poke(interaction: discord.Interaction, member: discord.Member):
    await interaction.response.send_message(f"Poked {member.name}")
    say(f"HANDLED poke {member.id}")


@client.tree.error
async def on_error(interaction, error):
    say("FAILED " + "".join(traceback.format_exception(error)).replace("\n", " | "))


@client.event
async def on_ready():
    say("READY")


client.run(os.environ["FC_TOKEN"], log_handler=None)
