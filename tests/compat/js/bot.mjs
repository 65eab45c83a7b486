// discord.js v14 bot for tests/compat (run by compat_test.go, not by hand:
// it needs the environment the test sets up).
//
// Env: ACCORD_URL (http://host:port), BOT_TOKEN, BOT_ID, GUILD_ID,
// GUILD_NAME, CHANNEL_ID, USER_ID, EXPECT_CONTENT, REPLY_EMOJI.
// Protocol on stdout: "READY" once the guild is in the cache,
// "REPLY <id>" after replying; exit 0 when done, 1 on any error.
import { Client, Events, GatewayIntentBits } from 'discord.js';

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
const [botID, guildID, guildName, channelID, userID, expect, emoji] = [
  'BOT_ID', 'GUILD_ID', 'GUILD_NAME', 'CHANNEL_ID', 'USER_ID', 'EXPECT_CONTENT', 'REPLY_EMOJI',
].map(env);

const client = new Client({
  intents: [
    GatewayIntentBits.Guilds,
    GatewayIntentBits.GuildMessages,
    GatewayIntentBits.GuildMessageReactions,
    GatewayIntentBits.MessageContent,
  ],
  // REST base: discord.js appends /v10/...; the gateway URL comes from
  // GET /gateway/bot.
  rest: { api: `${url}/api` },
});

client.on(Events.Debug, (m) => console.error(`[debug] ${m}`));
client.on(Events.Warn, (m) => console.error(`[warn] ${m}`));
client.on(Events.Error, (e) => fail(`client error: ${e?.stack ?? e}`));
client.rest.on('restDebug', (m) => console.error(`[rest] ${m}`));
client.rest.on('rateLimited', (info) => console.error(`[ratelimited] ${JSON.stringify(info)}`));
process.on('unhandledRejection', (e) => fail(`unhandled rejection: ${e?.stack ?? e}`));

client.once(Events.ClientReady, (c) => {
  console.error(`ready as ${c.user.tag} (${c.user.id}), ${c.guilds.cache.size} guild(s)`);
  if (c.user.id !== botID || !c.user.bot) fail(`logged in as ${c.user.id} (bot=${c.user.bot}), want bot ${botID}`);
  const guild = c.guilds.cache.get(guildID);
  if (!guild) fail(`guild ${guildID} not in the cache: ${[...c.guilds.cache.keys()]}`);
  if (guild.name !== guildName) fail(`guild name ${JSON.stringify(guild.name)}, want ${JSON.stringify(guildName)}`);
  const channel = guild.channels.cache.get(channelID);
  if (!channel || !channel.isTextBased()) fail(`channel ${channelID} not in the guild's cache`);
  console.log('READY');
});

let handled = false;
client.on(Events.MessageCreate, async (message) => {
  if (handled || message.author.id !== userID || message.channelId !== channelID) return;
  handled = true;
  try {
    console.error(`message from user: ${message.id} ${JSON.stringify(message.content)}`);
    if (message.content !== expect) fail(`content ${JSON.stringify(message.content)}, want ${JSON.stringify(expect)}`);
    if (message.guildId !== guildID) fail(`guildId ${message.guildId}, want ${guildID}`);

    const reply = await message.reply('pong from discord.js');
    if (reply.reference?.messageId !== message.id) fail(`reply reference ${JSON.stringify(reply.reference)}`);
    console.log(`REPLY ${reply.id}`);

    const edited = await reply.edit('pong from discord.js (edited)');
    if (edited.content !== 'pong from discord.js (edited)' || !edited.editedTimestamp) {
      fail(`edited: content ${JSON.stringify(edited.content)}, editedTimestamp ${edited.editedTimestamp}`);
    }

    const reaction = await message.react(emoji);
    if (reaction.emoji.name !== emoji) fail(`reaction emoji ${reaction.emoji.name}`);

    await reply.delete();
    console.error('replied, edited, reacted, deleted');
    await client.destroy();
    process.exit(0);
  } catch (e) {
    fail(`${e?.stack ?? e}${e?.rawError ? ' ' + JSON.stringify(e.rawError) : ''}`);
  }
});

client.login(env('BOT_TOKEN')).catch((e) => fail(`login: ${e?.stack ?? e}`));
