// An unmodified Oceanic.js bot, pointed at a FussionCord server.
//
//   FC_HTTP   http://HOST:PORT
//   FC_TOKEN  the bot token, without "Bot "
//   FC_GUILD  the scene's guild id
//
// Speaks the line protocol of tests/bots/tour.rs on stdout; Oceanic's debug
// log goes to stderr for the test's failure messages.

import { Client } from 'oceanic.js';

const LIBRARY = 'Oceanic.js';
const base = process.env.FC_HTTP;
const token = process.env.FC_TOKEN;
const guildID = process.env.FC_GUILD;
if (!base || !token || !guildID) {
  console.error('FC_HTTP, FC_TOKEN and FC_GUILD must be set');
  process.exit(2);
}

const client = new Client({
  auth: `Bot ${token}`,
  // Oceanic finds the gateway through GET /gateway/bot.
  rest: { baseURL: `${base}/api/v10` },
  gateway: { intents: ['GUILDS', 'GUILD_MEMBERS', 'GUILD_MESSAGES', 'GUILD_MESSAGE_REACTIONS', 'MESSAGE_CONTENT'] },
});

// The test reads stdout line by line, so each line goes out in one write.
function say(line) {
  process.stdout.write(`${line}\n`);
}
function sayJSON(kind, value) {
  say(`${kind} ${JSON.stringify(value)}`);
}

client.on('debug', (info) => console.error(`[debug] ${info}`));
client.on('warn', (info) => console.error(`[warn] ${info}`));
client.on('error', (error) => console.error('[error]', error));
client.on('packet', (packet) => console.error(`[packet] op ${packet.op} ${packet.t ?? ''} ${packet.op === 0 ? '' : JSON.stringify(packet.d)}`));

function roleNames(member) {
  return member.roles.map((id) => member.guild.roles.get(id)?.name ?? `unknown ${id}`).sort();
}

// Oceanic emits `ready` once per fresh IDENTIFY of all shards.
client.on('ready', () => {
  say(`READY ${client.user.id} ${client.guilds.size}`);
  const guild = client.guilds.get(guildID);
  if (guild) {
    sayJSON('GUILD', {
      id: guild.id,
      name: guild.name,
      channels: [...guild.channels.values()].filter((c) => c.type === 0).map((c) => c.id).sort(),
      roles: [...guild.roles.values()].map((r) => r.name).sort(),
      members: [...guild.members.values()].map((m) => m.id).sort(),
      owner_id: guild.ownerID,
    });
  }
});

client.on('shardResume', () => say('RESUMED'));

client.on('messageCreate', async (message) => {
  if (message.author.id === client.user.id || !message.content.startsWith('ping ')) return;
  const tag = message.content.slice('ping '.length);
  try {
    const reply = await client.rest.channels.createMessage(message.channelID, { content: `pong ${tag} from ${LIBRARY}` });
    await client.rest.channels.createReaction(message.channelID, message.id, '\u{1F44D}');
    say(`REPLIED ${tag} ${reply.id}`);
  } catch (error) {
    console.error('[reply failed]', error);
  }
});

client.on('messageReactionAdd', (message, reactor, reaction) => {
  if (reactor.id === client.user.id) return;
  // Counted from the library's cache of the message, when it has one.
  const cached = client.getChannel(message.channelID)?.messages?.get(message.id);
  const name = reaction.emoji.name;
  const counted = cached?.reactions?.find((r) => r.emoji.name === name);
  sayJSON('REACTION', {
    message_id: message.id,
    user_id: reactor.id,
    emoji: name,
    count: counted?.count ?? null,
    me: counted?.me ?? null,
  });
});

client.on('guildMemberUpdate', (member, old) => {
  const before = old ? old.roles.map((id) => member.guild.roles.get(id)?.name ?? `unknown ${id}`).sort() : null;
  sayJSON('MEMBER_UPDATE', {
    id: member.id,
    nick_before: old ? old.nick : 'uncached',
    nick: member.nick,
    roles_before: before,
    roles: roleNames(member),
  });
});

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  try {
    client.disconnect(false);
  } finally {
    process.exit(0);
  }
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

client.connect().catch((error) => {
  console.error('[connect failed]', error);
  process.exit(1);
});
