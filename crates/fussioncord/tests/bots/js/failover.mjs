// An unmodified discord.js bot for bots/cluster.rs: it lives through the
// death of the node holding its gateway connection.
//
//   FC_API    the API root without the version: https://127.0.0.1:PORT/api (nginx)
//   FC_TOKEN  the bot token, without "Bot "
//   NODE_EXTRA_CA_CERTS names the test CA that signed nginx's certificate.
//
// Answers "ping N" with "pong N" and prints `REPLIED N` once that is sent.
// Prints `READY <id>` for every READY packet (an IDENTIFY that succeeded),
// `RESUMED` for every successful RESUME and `RECONNECTING` whenever the
// shard lost its connection. discord.js's debug log goes to stderr.

import { Client, Events, GatewayIntentBits } from 'discord.js';

const api = process.env.FC_API;
const token = process.env.FC_TOKEN;
if (!api || !token) {
  console.error('FC_API and FC_TOKEN must be set');
  process.exit(2);
}

const client = new Client({
  intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages, GatewayIntentBits.MessageContent],
  rest: { api },
});

function say(line) {
  process.stdout.write(`${line}\n`);
}

client.on(Events.Debug, (info) => console.error(`[debug] ${info}`));
client.on(Events.Warn, (info) => console.error(`[warn] ${info}`));
client.on(Events.Error, (error) => console.error('[error]', error));

client.on(Events.Raw, (packet) => {
  console.error(`[raw] ${packet.t} s=${packet.s}${packet.t === 'MESSAGE_CREATE' ? ` ${packet.d.content}` : ''}`);
  if (packet.t === 'READY') say(`READY ${packet.d.user.id}`);
});
client.on(Events.ShardResume, () => say('RESUMED'));
client.on(Events.ShardReconnecting, () => say('RECONNECTING'));

client.on(Events.MessageCreate, async (message) => {
  if (message.author.id === client.user.id || !message.content.startsWith('ping ')) return;
  const n = message.content.split(' ')[1];
  try {
    await message.channel.send(`pong ${n}`);
    say(`REPLIED ${n}`);
  } catch (error) {
    console.error('[reply failed]', error);
    say(`FAILED ${n} ${error}`);
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
  console.error('[login failed]', error);
  process.exit(1);
});
