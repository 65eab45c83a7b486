// discord.js v14 + @discordjs/voice bot for tests/compat's voice test
// (run by voice_test.go, not by hand: it needs the environment the test
// sets up; NODE_EXTRA_CA_CERTS makes Node trust the node's development
// certificate, since the library dials wss:// to the voice endpoint).
//
// Env: ACCORD_URL, BOT_TOKEN, GUILD_ID, VOICE_ID, USER_ID.
// It joins the voice channel, plays raw Opus frames and counts the
// user's packets. Protocol on stdout: "JOINED" once the connection is
// ready, "HEARD <n>" as the user's packets arrive; it runs until killed.
import { Client, Events, GatewayIntentBits } from 'discord.js';
import {
  joinVoiceChannel, entersState, VoiceConnectionStatus, createAudioPlayer, createAudioResource,
  StreamType, EndBehaviorType, NoSubscriberBehavior,
} from '@discordjs/voice';
import { Readable } from 'node:stream';

const env = (name) => {
  const v = process.env[name];
  if (!v) fail(`missing env ${name}`);
  return v;
};

function fail(msg) {
  console.error(`FAIL: ${msg}`);
  process.exit(1);
}

const url = env('ACCORD_URL').replace(/\/+$/, '');
const [guildID, voiceID, userID] = ['GUILD_ID', 'VOICE_ID', 'USER_ID'].map(env);

const client = new Client({
  intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildVoiceStates],
  rest: { api: `${url}/api` },
});
client.on(Events.Error, (e) => fail(`client error: ${e?.stack ?? e}`));
process.on('unhandledRejection', (e) => fail(`unhandled rejection: ${e?.stack ?? e}`));

// An endless stream of one Opus frame (a TOC byte and two bytes): the
// SFU forwards without decoding, and the test checks the bytes arrive.
function frames() {
  return new Readable({ objectMode: true, read() { this.push(Buffer.from([0xfc, 0xff, 0xfe])); } });
}

client.once(Events.ClientReady, async (c) => {
  const guild = c.guilds.cache.get(guildID);
  if (!guild) fail(`guild ${guildID} not in the cache`);
  const connection = joinVoiceChannel({
    channelId: voiceID, guildId: guildID, adapterCreator: guild.voiceAdapterCreator, selfDeaf: false, debug: true,
  });
  connection.on('debug', (m) => console.error(`[voice] ${m}`));
  connection.on('error', (e) => fail(`voice error: ${e?.stack ?? e}`));
  try {
    await entersState(connection, VoiceConnectionStatus.Ready, 30_000);
  } catch (e) {
    fail(`voice connection not ready: ${e}`);
  }
  console.log('JOINED');

  const player = createAudioPlayer({ behaviors: { noSubscriber: NoSubscriberBehavior.Play } });
  player.on('error', (e) => fail(`player: ${e}`));
  connection.subscribe(player);
  player.play(createAudioResource(frames(), { inputType: StreamType.Opus }));

  let heard = 0;
  const listen = () => {
    const stream = connection.receiver.subscribe(userID, { end: { behavior: EndBehaviorType.Manual } });
    stream.on('data', (packet) => {
      if (packet.length === 3 && packet[0] === 0xfc) {
        heard++;
        if (heard % 25 === 0) console.log(`HEARD ${heard}`);
      }
    });
  };
  listen();
});

client.login(env('BOT_TOKEN')).catch((e) => fail(`login: ${e}`));
