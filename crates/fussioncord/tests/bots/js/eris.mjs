// An unmodified Eris bot, pointed at a FussionCord server.
//
//   FC_HTTP   http://HOST:PORT
//   FC_TOKEN  the bot token, without "Bot "
//   FC_GUILD  the scene's guild id
//
// Speaks the line protocol of tests/bots/tour.rs on stdout; Eris's debug log
// goes to stderr for the test's failure messages.
//
// Eris makes its REST requests with Node's `https` only, with no setting for
// plain HTTP; it takes an `agent` for them, as for a proxy. The agent below
// opens a plain TCP connection where Eris would open TLS, so the requests go
// to the test's server as they are (Host included, from `rest.domain`).

import https from 'node:https';
import net from 'node:net';

import { Client as ErisClient } from 'eris';

const LIBRARY = 'Eris';
const base = process.env.FC_HTTP;
const token = process.env.FC_TOKEN;
const guildID = process.env.FC_GUILD;
if (!base || !token || !guildID) {
  console.error('FC_HTTP, FC_TOKEN and FC_GUILD must be set');
  process.exit(2);
}
const server = new URL(base);

class PlainAgent extends https.Agent {
  createConnection() {
    return net.connect({ host: server.hostname, port: Number(server.port) });
  }
}

const client = new ErisClient(`Bot ${token}`, {
  intents: ['guilds', 'guildMembers', 'guildMessages', 'guildMessageReactions', 'messageContent'],
  // Eris finds the gateway through GET /gateway/bot.
  rest: { domain: server.host, agent: new PlainAgent({ keepAlive: true }) },
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

function roleNames(guild, roles) {
  return roles.map((id) => guild.roles.get(id)?.name ?? `unknown ${id}`).sort();
}

client.on('ready', () => {
  say(`READY ${client.user.id} ${client.guilds.size}`);
  const guild = client.guilds.get(guildID);
  if (guild) {
    sayJSON('GUILD', {
      id: guild.id,
      name: guild.name,
      channels: guild.channels.filter((c) => c.type === 0).map((c) => c.id).sort(),
      roles: guild.roles.map((r) => r.name).sort(),
      members: guild.members.map((m) => m.id).sort(),
      owner_id: guild.ownerID,
    });
  }
});

client.on('shardResume', () => say('RESUMED'));

client.on('messageCreate', async (message) => {
  if (message.author.id === client.user.id || !message.content.startsWith('ping ')) return;
  const tag = message.content.slice('ping '.length);
  try {
    const reply = await client.createMessage(message.channel.id, `pong ${tag} from ${LIBRARY}`);
    await client.addMessageReaction(message.channel.id, message.id, '\u{1F44D}');
    say(`REPLIED ${tag} ${reply.id}`);
  } catch (error) {
    console.error('[reply failed]', error);
  }
});

client.on('messageReactionAdd', (message, emoji, reactor) => {
  if (reactor.id === client.user.id) return;
  // A cached message carries its reaction counts, keyed by emoji name.
  const counted = message.reactions?.[emoji.name];
  sayJSON('REACTION', {
    message_id: message.id,
    user_id: reactor.id,
    emoji: emoji.name,
    count: counted?.count ?? null,
    me: counted?.me ?? null,
  });
});

client.on('guildMemberUpdate', (guild, member, old) => {
  sayJSON('MEMBER_UPDATE', {
    id: member.id,
    nick_before: old ? old.nick : 'uncached',
    nick: member.nick,
    roles_before: old ? roleNames(guild, old.roles) : null,
    roles: roleNames(guild, member.roles),
  });
});

let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  client.disconnect({ reconnect: false });
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

client.connect().catch((error) => {
  console.error('[connect failed]', error);
  process.exit(1);
});
