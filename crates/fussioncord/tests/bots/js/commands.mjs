// An unmodified discord.js REST client that registers application commands, pointed at FussionCord.
//
//   FC_API    the API root without the version, e.g. http://127.0.0.1:PORT/api
//   FC_TOKEN  the bot token, without "Bot "
//   FC_APP    the application's id (its bot's)
//   FC_GUILD  the guild to register them in
//
// It builds two slash commands (options with choices, ranges, channel
// types, localizations; subcommands and a group) and a message context
// menu with discord.js's builders, puts them with
// `rest.put(Routes.applicationGuildCommands(...))` and prints `PUT <json>`,
// reads them back (`GOT <json>`), creates and edits a global command
// (`GLOBAL <json>`), and prints `REFUSED <json>` with the DiscordAPIError of
// a command with an invalid name. `FAILED <error>` if anything else throws.

import {
  ApplicationCommandType,
  ChannelType,
  ContextMenuCommandBuilder,
  DiscordAPIError,
  PermissionFlagsBits,
  REST,
  Routes,
  SlashCommandBuilder,
} from 'discord.js';

const { FC_API: api, FC_TOKEN: token, FC_APP: appId, FC_GUILD: guildId } = process.env;
const rest = new REST({ api }).setToken(token);

function say(line) {
  process.stdout.write(`${line}\n`);
}

const commands = [
  new SlashCommandBuilder()
    .setName('echo')
    .setDescription('Echoes text')
    .setNameLocalizations({ fr: 'écho' })
    .setDescriptionLocalizations({ fr: 'Répète le texte' })
    .setDefaultMemberPermissions(PermissionFlagsBits.ManageMessages)
    .addStringOption((o) => o.setName('text').setDescription('What to say').setRequired(true).setMaxLength(100))
    .addStringOption((o) =>
      o.setName('style').setDescription('How').addChoices({ name: 'Loud', value: 'loud' }, { name: 'Quiet', value: 'quiet' }),
    )
    .addIntegerOption((o) => o.setName('times').setDescription('How often').setMinValue(1).setMaxValue(5))
    .addChannelOption((o) => o.setName('where').setDescription('Where').addChannelTypes(ChannelType.GuildText)),
  new SlashCommandBuilder()
    .setName('tag')
    .setDescription('Tags')
    .addSubcommand((s) =>
      s
        .setName('add')
        .setDescription('Adds a tag')
        .addStringOption((o) => o.setName('name').setDescription('Tag name').setRequired(true)),
    )
    .addSubcommandGroup((g) =>
      g
        .setName('admin')
        .setDescription('Administration')
        .addSubcommand((s) =>
          s
            .setName('purge')
            .setDescription('Purges tags')
            .addBooleanOption((o) => o.setName('all').setDescription('Everything')),
        ),
    ),
  new ContextMenuCommandBuilder().setName('Report Message').setType(ApplicationCommandType.Message),
].map((c) => c.toJSON());

try {
  const put = await rest.put(Routes.applicationGuildCommands(appId, guildId), { body: commands });
  say(`PUT ${JSON.stringify(put)}`);
  const got = await rest.get(Routes.applicationGuildCommands(appId, guildId));
  say(`GOT ${JSON.stringify(got)}`);
  const hello = new SlashCommandBuilder().setName('hello').setDescription('Says hello').toJSON();
  const created = await rest.post(Routes.applicationCommands(appId), { body: hello });
  const patched = await rest.patch(Routes.applicationCommand(appId, created.id), { body: { description: 'Says hi' } });
  say(`GLOBAL ${JSON.stringify({ created, patched })}`);
  try {
    await rest.post(Routes.applicationCommands(appId), { body: { name: 'Bad Name', description: 'x' } });
    say('FAILED an invalid name was accepted');
  } catch (error) {
    if (!(error instanceof DiscordAPIError)) throw error;
    say(`REFUSED ${JSON.stringify({ status: error.status, code: error.code, errors: error.rawError.errors, message: error.message })}`);
  }
} catch (error) {
  console.error('[commands failed]', error);
  say(`FAILED ${error}`);
}
process.exit(0);
