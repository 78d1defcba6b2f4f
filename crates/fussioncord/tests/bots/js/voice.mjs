// An unmodified discord.js bot with @discordjs/voice that joins a voice
// channel over FussionCord's voice gateway and UDP and records what one
// speaker sends.
//
//   FC_API            the API root without the version (http://127.0.0.1:PORT/api)
//   FC_TOKEN          the bot token, without "Bot "
//   FC_GUILD          the guild id
//   FC_VOICE_CHANNEL  the voice channel id
//   FC_SPEAKER        whose audio to record (a user id)
//   NODE_EXTRA_CA_CERTS  the CA that signed the voice server's certificate
//
// Prints `READY`, `LISTENING` once the voice connection is ready, then
// `OPUS <hex>` for every Opus packet received from the speaker (already
// decrypted by the library: the raw frame), and `SILENT` after a second
// without one once packets came.

import { Client, Events, GatewayIntentBits } from 'discord.js';
import { joinVoiceChannel, entersState, VoiceConnectionStatus, EndBehaviorType } from '@discordjs/voice';

const { FC_API: api, FC_TOKEN: token, FC_GUILD: guildId, FC_VOICE_CHANNEL: channelId, FC_SPEAKER: speaker } =
  process.env;

const client = new Client({
  intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildVoiceStates],
  rest: { api },
});

function say(line) {
  process.stdout.write(`${line}\n`);
}

client.on(Events.Error, (error) => console.error('[error]', error));

client.once(Events.ClientReady, async () => {
  say('READY');
  const guild = await client.guilds.fetch(guildId);
  const connection = joinVoiceChannel({
    channelId,
    guildId,
    adapterCreator: guild.voiceAdapterCreator,
    selfDeaf: false,
    daveEncryption: false,
    debug: true,
  });
  connection.on('debug', (m) => console.error(`[voice] ${m}`));
  connection.on('error', (e) => console.error('[voice error]', e));
  await entersState(connection, VoiceConnectionStatus.Ready, 20_000);
  const stream = connection.receiver.subscribe(speaker, { end: { behavior: EndBehaviorType.Manual } });
  let timer;
  stream.on('data', (packet) => {
    say(`OPUS ${Buffer.from(packet).toString('hex')}`);
    clearTimeout(timer);
    timer = setTimeout(() => say('SILENT'), 1000);
  });
  say('LISTENING');
});

process.on('SIGTERM', () => {
  client.destroy().finally(() => process.exit(0));
});

client.login(token);
