// An unmodified discord.js bot answering interactions, for the web client's
// browser test (web/e2e/interactions.test.mjs).
// Environment:
//   FC_API    the API root without the version (http://127.0.0.1:PORT/api)
//   FC_TOKEN  the bot's token
//   FC_GUILD  the guild its commands are set in
// It sets its guild commands (`application.commands.set(..., guild)`):
//   /greet who:<autocomplete>  → an ephemeral reply with a button; the click updates it
//   /ask                       → a modal (ModalBuilder, TextInputBuilder); the submission is answered
//   /later                     → deferReply(), then editReply()
//   /scan file:<attachment>    → reads the file from its URL and answers with its size and text
// Prints SET <n> once they are in place, and one line per interaction.

import {
  ActionRowBuilder,
  ApplicationCommandOptionType,
  ButtonBuilder,
  ButtonStyle,
  Client,
  Events,
  GatewayIntentBits,
  MessageFlags,
  ModalBuilder,
  TextInputBuilder,
  TextInputStyle,
} from 'discord.js';

const { FC_API: api, FC_TOKEN: token, FC_GUILD: guildId } = process.env;
const say = (line) => console.log(line);
const NAMES = ['Ada', 'Alan', 'Grace', 'Linus'];

const client = new Client({ intents: [GatewayIntentBits.Guilds], rest: { api } });

client.once(Events.ClientReady, async () => {
  const set = await client.application.commands.set(
    [
      {
        name: 'greet',
        description: 'Greets someone',
        options: [{ type: ApplicationCommandOptionType.String, name: 'who', description: 'Whom', required: true, autocomplete: true }],
      },
      { name: 'ask', description: 'Asks a question' },
      { name: 'later', description: 'Answers later' },
      {
        name: 'scan',
        description: 'Reads a file',
        options: [{ type: ApplicationCommandOptionType.Attachment, name: 'file', description: 'The file', required: true }],
      },
    ],
    guildId,
  );
  say(`SET ${set.size}`);
});

client.on(Events.InteractionCreate, async (interaction) => {
  try {
    if (interaction.isAutocomplete()) {
      const typed = interaction.options.getFocused();
      say(`AUTOCOMPLETE ${JSON.stringify(typed)}`);
      await interaction.respond(NAMES.filter((n) => n.toLowerCase().startsWith(typed.toLowerCase())).map((n) => ({ name: n, value: n })));
    } else if (interaction.isChatInputCommand() && interaction.commandName === 'greet') {
      const who = interaction.options.getString('who');
      say(`GREET ${who}`);
      const row = new ActionRowBuilder().addComponents(new ButtonBuilder().setCustomId('wave').setLabel('Wave back').setStyle(ButtonStyle.Primary));
      await interaction.reply({ content: `Hello, ${who}!`, components: [row], flags: MessageFlags.Ephemeral });
    } else if (interaction.isButton() && interaction.customId === 'wave') {
      say('WAVED');
      await interaction.update({ content: 'You waved back', components: [] });
    } else if (interaction.isChatInputCommand() && interaction.commandName === 'ask') {
      const modal = new ModalBuilder().setCustomId('question').setTitle('A question');
      modal.addComponents(
        new ActionRowBuilder().addComponents(
          new TextInputBuilder().setCustomId('colour').setLabel('Favourite colour').setStyle(TextInputStyle.Short).setMaxLength(20),
        ),
      );
      await interaction.showModal(modal);
    } else if (interaction.isModalSubmit() && interaction.customId === 'question') {
      const colour = interaction.fields.getTextInputValue('colour');
      say(`ANSWERED ${colour}`);
      await interaction.reply({ content: `So it is ${colour}` });
    } else if (interaction.isChatInputCommand() && interaction.commandName === 'scan') {
      const file = interaction.options.getAttachment('file');
      const text = await (await fetch(file.url)).text();
      say(`SCANNED ${file.name}`);
      await interaction.reply({ content: `${file.name}: ${file.size} bytes, says ${text.trim()}` });
    } else if (interaction.isChatInputCommand() && interaction.commandName === 'later') {
      await interaction.deferReply();
      await new Promise((r) => setTimeout(r, 1500));
      await interaction.editReply('Here it is, later');
    }
  } catch (e) {
    say(`ERROR ${e.stack ?? e}`);
  }
});

client.login(token);
