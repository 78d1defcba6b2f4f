// An unmodified discord.js bot that sends files, pointed at FussionCord.
//
//   FC_API      the API root without the version, e.g. http://127.0.0.1:PORT/api
//   FC_TOKEN    the bot token, without "Bot "
//   FC_CHANNEL  the channel to send to
//
// Once ready it sends one message with two files (each with a
// description) and an embed showing the first by `attachment://`, prints
// `SENT <json>` with the attachments and the embed's image URL as
// discord.js read them and whether each one's bytes, fetched from its URL,
// are those sent; then edits the message to keep only the first file and prints
// `EDITED <json>`.

import { AttachmentBuilder, Client, EmbedBuilder, Events, GatewayIntentBits } from 'discord.js';

const { FC_API: api, FC_TOKEN: token, FC_CHANNEL: channelId } = process.env;
const client = new Client({ intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages], rest: { api } });

const png = Buffer.concat([
  Buffer.from('89504e470d0a1a0a0000000d494844520000000700000006080600000000', 'hex'),
  Buffer.from(Array.from({ length: 300 }, (_, i) => i % 256)),
]);
const text = Buffer.from('hello from discord.js\n'.repeat(40));
const sent = { 'picture.png': png, 'notes.txt': text };

function say(line) {
  process.stdout.write(`${line}\n`);
}

function described(message) {
  return [...message.attachments.values()].map((a) => ({
    id: a.id, filename: a.name, description: a.description, size: a.size,
    content_type: a.contentType, width: a.width, height: a.height, url: a.url,
  }));
}

client.on(Events.Error, (error) => console.error('[error]', error));

client.once(Events.ClientReady, async () => {
  say('READY');
  try {
    const channel = await client.channels.fetch(channelId);
    const message = await channel.send({
      content: 'two files from discord.js',
      embeds: [new EmbedBuilder().setTitle('the picture').setImage('attachment://picture.png')],
      files: [
        new AttachmentBuilder(png, { name: 'picture.png', description: 'a picture' }),
        new AttachmentBuilder(text, { name: 'notes.txt', description: 'some notes' }),
      ],
    });
    const same = [];
    for (const a of message.attachments.values()) {
      const body = Buffer.from(await (await fetch(a.url)).arrayBuffer());
      same.push(body.equals(sent[a.name]));
    }
    const image = message.embeds[0]?.image?.url ?? null;
    say(`SENT ${JSON.stringify({ id: message.id, attachments: described(message), same, image })}`);
    const first = message.attachments.first();
    const edited = await message.edit({ attachments: [first] });
    say(`EDITED ${JSON.stringify({ id: edited.id, attachments: described(edited) })}`);
  } catch (error) {
    console.error('[files failed]', error);
    say(`FAILED ${error}`);
  }
});

async function stop() {
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
