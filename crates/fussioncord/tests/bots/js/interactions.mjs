// An unmodified discord.js bot built on interactions, pointed at FussionCord.
//
//   FC_API    the API root without the version, e.g. http://127.0.0.1:PORT/api
//   FC_TOKEN  the bot token, without "Bot "
//   FC_GUILD  the guild to register its commands in
//
// Once ready it deploys its commands with `SlashCommandBuilder` through
// `REST.put(Routes.applicationGuildCommands(...))` and prints `READY`:
//   /order size:<choice> drink:<autocomplete>  replies with a button and a
//       select; the button updates the message, the select opens a modal,
//       whose submission is answered ephemerally;
//   /later  deferReply (ephemeral), editReply, then a public followUp;
//   "High five" (user context menu)  replies naming its target.
// It prints what it handled (`HANDLED <what>`), or `FAILED <error>`.

import {
  ActionRowBuilder,
  ApplicationCommandType,
  ButtonBuilder,
  ButtonStyle,
  Client,
  ContextMenuCommandBuilder,
  Events,
  GatewayIntentBits,
  MessageFlags,
  ModalBuilder,
  REST,
  Routes,
  SlashCommandBuilder,
  StringSelectMenuBuilder,
  TextInputBuilder,
  TextInputStyle,
} from 'discord.js';

const { FC_API: api, FC_TOKEN: token, FC_GUILD: guildId } = process.env;
const client = new Client({ intents: [GatewayIntentBits.Guilds], rest: { api } });

function say(line) {
  process.stdout.write(`${line}\n`);
}

const commands = [
  new SlashCommandBuilder()
    .setName('order')
    .setDescription('Orders a drink')
    .addStringOption((o) =>
      o.setName('size').setDescription('Size').setRequired(true).addChoices({ name: 'Small', value: 'small' }, { name: 'Large', value: 'large' }),
    )
    .addStringOption((o) => o.setName('drink').setDescription('Drink').setAutocomplete(true)),
  new SlashCommandBuilder().setName('later').setDescription('Answers later'),
  new ContextMenuCommandBuilder().setName('High five').setType(ApplicationCommandType.User),
].map((c) => c.toJSON());

const drinks = ['Latte', 'Lemonade', 'Espresso', 'Tea'];

client.on(Events.InteractionCreate, async (interaction) => {
  try {
    if (interaction.isAutocomplete()) {
      const typed = interaction.options.getFocused().toLowerCase();
      await interaction.respond(drinks.filter((d) => d.toLowerCase().startsWith(typed)).map((d) => ({ name: d, value: d.toLowerCase() })));
      say(`HANDLED autocomplete ${typed}`);
    } else if (interaction.isChatInputCommand() && interaction.commandName === 'order') {
      const size = interaction.options.getString('size', true);
      const drink = interaction.options.getString('drink') ?? 'water';
      const buttons = new ActionRowBuilder().addComponents(
        new ButtonBuilder().setCustomId('confirm').setLabel('Confirm').setStyle(ButtonStyle.Success),
        new ButtonBuilder().setLabel('Menu').setStyle(ButtonStyle.Link).setURL('https://example.com/menu'),
      );
      const select = new ActionRowBuilder().addComponents(
        new StringSelectMenuBuilder()
          .setCustomId('topping')
          .setPlaceholder('Topping')
          .addOptions({ label: 'Foam', value: 'foam' }, { label: 'Cinnamon', value: 'cinnamon' }),
      );
      await interaction.reply({ content: `A ${size} ${drink} for ${interaction.user.username}`, components: [buttons, select] });
      say(`HANDLED order ${size} ${drink}`);
    } else if (interaction.isChatInputCommand() && interaction.commandName === 'later') {
      await interaction.deferReply({ flags: MessageFlags.Ephemeral });
      await new Promise((r) => setTimeout(r, 300));
      await interaction.editReply('Done, later');
      const follow = await interaction.followUp({ content: 'A follow-up for all' });
      say(`HANDLED later ${follow.id}`);
    } else if (interaction.isUserContextMenuCommand()) {
      await interaction.reply(`High five, ${interaction.targetUser.username}!`);
      say(`HANDLED highfive ${interaction.targetUser.id}`);
    } else if (interaction.isButton() && interaction.customId === 'confirm') {
      await interaction.update({ content: 'Confirmed', components: [] });
      say('HANDLED confirm');
    } else if (interaction.isStringSelectMenu() && interaction.customId === 'topping') {
      const modal = new ModalBuilder()
        .setCustomId('note')
        .setTitle(`Note on ${interaction.values[0]}`)
        .addComponents(
          new ActionRowBuilder().addComponents(
            new TextInputBuilder().setCustomId('text').setLabel('Your note').setStyle(TextInputStyle.Paragraph).setMinLength(2),
          ),
        );
      await interaction.showModal(modal);
      say(`HANDLED topping ${interaction.values.join(',')}`);
    } else if (interaction.isModalSubmit() && interaction.customId === 'note') {
      const text = interaction.fields.getTextInputValue('text');
      await interaction.reply({ content: `Noted: ${text}`, flags: MessageFlags.Ephemeral });
      say(`HANDLED note ${text}`);
    }
  } catch (error) {
    say(`FAILED ${String(error).replace(/\n/g, ' | ')}`);
  }
});

client.once(Events.ClientReady, async (ready) => {
  try {
    const rest = new REST({ api }).setToken(token);
    await rest.put(Routes.applicationGuildCommands(ready.user.id, guildId), { body: commands });
    say('READY');
  } catch (error) {
    say(`FAILED ${String(error).replace(/\n/g, ' | ')}`);
  }
});

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  try {
    await client.destroy();
  } finally {
    process.exit(0);
  }
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

client.login(token).catch((error) => {
  say(`FAILED login ${error}`);
  process.exit(1);
});
