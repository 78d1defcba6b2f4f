"""An unmodified discord.py bot answering interactions, for the web client's
browser test (web/e2e/interactions.test.mjs).

Environment: FC_HTTP (http://127.0.0.1:PORT), FC_TOKEN (bot token),
FC_GUILD (the guild its commands are synced to).
With discord.app_commands it syncs to the guild (`tree.sync(guild=...)`):
  /roll sides:<choice 6|20> city:<autocomplete> [note]  → an ephemeral answer
  /menu   → a message with a discord.ui.View: a button, a string select and a user select
  /feedback → a discord.ui.Modal with a TextInput; the submission is answered
  /card   → a components-v2 message (discord.ui.LayoutView) with a button
  /slow   → defer(), then followup.send
  /config set key value (a subcommand of a group; value 1..10), /config show
  /ignore → no answer at all (the person must see that the application did not respond)
  "Wave at" (user context menu), "Echo" (message context menu)
Prints SYNCED once the commands are in place, and one line per interaction.
"""

import asyncio
import os

import discord
import yarl
from discord import app_commands

base = os.environ["FC_HTTP"]
discord.http.Route.BASE = f"{base}/api/v10"
discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(base.replace("http", "ws", 1) + "/")

guild = discord.Object(id=int(os.environ["FC_GUILD"]))
CITIES = ["Paris", "Parma", "Porto", "Prague", "Oslo"]


def say(line):
    print(line, flush=True)


class Menu(discord.ui.View):
    def __init__(self):
        super().__init__(timeout=None)

    @discord.ui.button(label="Press me", style=discord.ButtonStyle.success, custom_id="press")
    async def press(self, interaction: discord.Interaction, button: discord.ui.Button):
        say(f"PRESSED {interaction.user.id}")
        button.disabled = True
        button.label = "Pressed"
        await interaction.response.edit_message(content=f"Pressed by {interaction.user.display_name}", view=self)

    @discord.ui.select(
        custom_id="flavour",
        placeholder="Pick a flavour",
        options=[discord.SelectOption(label="Vanilla", value="vanilla"), discord.SelectOption(label="Mint", value="mint")],
    )
    async def flavour(self, interaction: discord.Interaction, select: discord.ui.Select):
        say(f"SELECTED {select.values}")
        await interaction.response.send_message(f"You chose {select.values[0]}")


    @discord.ui.select(cls=discord.ui.UserSelect, custom_id="who", placeholder="Pick someone")
    async def who(self, interaction: discord.Interaction, select: discord.ui.UserSelect):
        say(f"PICKED {select.values[0].id}")
        await interaction.response.send_message(f"You picked {select.values[0].display_name}")


class Feedback(discord.ui.Modal, title="Tell us"):
    what = discord.ui.TextInput(label="What happened", style=discord.TextStyle.paragraph, min_length=3, max_length=200)

    async def on_submit(self, interaction: discord.Interaction):
        say(f"SUBMITTED {self.what.value}")
        await interaction.response.send_message(f"Thanks for the feedback: {self.what.value}")


class Card(discord.ui.LayoutView):
    """A components-v2 message: a container with text, a separator, a
    section with a button accessory, and a row with a link button."""

    def __init__(self):
        super().__init__(timeout=None)
        details = discord.ui.Button(label="Details", custom_id="details", style=discord.ButtonStyle.primary)
        details.callback = self.details
        self.add_item(
            discord.ui.Container(
                discord.ui.TextDisplay("**Release notes**"),
                discord.ui.Separator(),
                discord.ui.Section(discord.ui.TextDisplay("Version *2* is out"), accessory=details),
                accent_colour=0x5865F2,
            )
        )
        self.add_item(discord.ui.ActionRow(discord.ui.Button(label="Docs", url="https://example.com/docs")))

    async def details(self, interaction: discord.Interaction):
        say("DETAILS")
        await interaction.response.send_message("Details for version 2", ephemeral=True)


class Bot(discord.Client):
    def __init__(self):
        super().__init__(intents=discord.Intents.default())
        self.tree = app_commands.CommandTree(self)

    async def setup_hook(self):
        self.add_view(Menu())
        self.add_view(Card())


client = Bot()
tree = client.tree


async def cities(interaction: discord.Interaction, current: str):
    say(f"AUTOCOMPLETE {current!r}")
    return [app_commands.Choice(name=c, value=c.lower()) for c in CITIES if c.lower().startswith(current.lower())][:25]


@tree.command(name="roll", description="Rolls a die for a city", guild=guild)
@app_commands.describe(sides="Sides of the die", city="Where", note="Anything to add")
@app_commands.choices(sides=[app_commands.Choice(name="six", value=6), app_commands.Choice(name="twenty", value=20)])
@app_commands.autocomplete(city=cities)
async def roll(interaction: discord.Interaction, sides: app_commands.Choice[int], city: str, note: str = ""):
    say(f"ROLL {sides.value} {city} {note!r}")
    await interaction.response.send_message(f"Rolled a {sides.value}-sided die in {city}", ephemeral=True)


@tree.command(name="menu", description="Shows a button and a select", guild=guild)
async def menu(interaction: discord.Interaction):
    say("MENU")
    await interaction.response.send_message("Choose something", view=Menu())


@tree.command(name="card", description="Shows a card", guild=guild)
async def card(interaction: discord.Interaction):
    say("CARD")
    await interaction.response.send_message(view=Card())


@tree.command(name="feedback", description="Opens a form", guild=guild)
async def feedback(interaction: discord.Interaction):
    say("FEEDBACK")
    await interaction.response.send_modal(Feedback())


@tree.command(name="slow", description="Thinks, then answers", guild=guild)
async def slow(interaction: discord.Interaction):
    say("SLOW")
    await interaction.response.defer()
    await asyncio.sleep(1.5)
    await interaction.followup.send("Done thinking slowly")


@tree.command(name="ignore", description="Never answers", guild=guild)
async def ignore(interaction: discord.Interaction):
    say("IGNORED")


config = app_commands.Group(name="config", description="Settings", guild_ids=[guild.id])


@config.command(name="set", description="Sets a value")
@app_commands.describe(key="Which setting", value="The new value")
async def config_set(interaction: discord.Interaction, key: str, value: app_commands.Range[int, 1, 10]):
    say(f"CONFIG {key}={value}")
    await interaction.response.send_message(f"Set {key} to {value}", ephemeral=True)


@config.command(name="show", description="Shows the settings")
async def config_show(interaction: discord.Interaction):
    await interaction.response.send_message("Nothing set", ephemeral=True)


tree.add_command(config)


@tree.context_menu(name="Wave at", guild=guild)
async def wave(interaction: discord.Interaction, member: discord.Member):
    say(f"WAVE {member.id}")
    await interaction.response.send_message(f"{interaction.user.display_name} waves at {member.display_name}")


@tree.context_menu(name="Echo", guild=guild)
async def echo(interaction: discord.Interaction, message: discord.Message):
    say(f"ECHO {message.id}")
    await interaction.response.send_message(f"Echo: {message.content}")


@tree.error
async def on_error(interaction: discord.Interaction, error: Exception):
    say(f"ERROR {type(error).__name__}: {error}")


synced = False


@client.event
async def on_ready():
    global synced
    if synced:
        return
    synced = True
    commands = await tree.sync(guild=guild)
    say(f"SYNCED {len(commands)}")


client.run(os.environ["FC_TOKEN"])
