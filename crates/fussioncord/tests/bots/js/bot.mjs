// An unmodified discord.js bot, pointed at a FussionCord server.
//
//   FC_API    the API root without the version, e.g. http://127.0.0.1:PORT/api
//   FC_TOKEN  the bot token, without "Bot "
//
// Prints `READY <bot user id>` once logged in and `REPLIED` after each reply
// to "ping". On "burst N" it sends N messages at once and prints `BURST_DONE`
// (or `BURST_FAILED <error>`); `SAW_429` for every 429 discord.js received.
// discord.js's debug log goes to stderr for the test's failure messages.

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

// The test reads stdout line by line, so each line goes out in one write.
function say(line) {
  process.stdout.write(`${line}\n`);
}

client.on(Events.Debug, (info) => console.error(`[debug] ${info}`));
client.on(Events.Warn, (info) => console.error(`[warn] ${info}`));
client.on(Events.Error, (error) => console.error('[error]', error));

client.rest.on('response', (_request, response) => {
  if (response.status === 429) say('SAW_429');
});

client.once(Events.ClientReady, (ready) => say(`READY ${ready.user.id}`));

client.on(Events.MessageCreate, async (message) => {
  if (message.author.id === client.user.id) return;
  if (message.content.startsWith('burst ')) {
    const n = Number(message.content.split(' ')[1]);
    try {
      await Promise.all(Array.from({ length: n }, (_, i) => message.channel.send(`burst ${i + 1}/${n}`)));
      say('BURST_DONE');
    } catch (error) {
      say(`BURST_FAILED ${error}`);
    }
    return;
  }
  if (message.content !== 'ping') return;
  try {
    await message.channel.send('pong from discord.js');
    say('REPLIED');
  } catch (error) {
    console.error('[reply failed]', error);
  }
});

// Close the gateway connection properly before exiting, so a SIGTERM from the
// test ends the process with status 0.
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
