"""discord.py 2.x bot for tests/compat (run by compat_test.go, not by hand:
it needs the environment the test sets up).

Env: ACCORD_URL (http://host:port), BOT_TOKEN, BOT_ID, GUILD_ID, GUILD_NAME,
CHANNEL_ID, USER_ID, EXPECT_CONTENT, REPLY_EMOJI.
Protocol on stdout: "READY" once the guild is in the cache, "REPLY <id>"
after replying; exit 0 when done, 1 on any error.
"""

import asyncio
import logging
import os
import sys
import traceback

import discord
import discord.gateway
import discord.http
import yarl


def env(name):
    value = os.environ.get(name)
    if not value:
        fail(f"missing env {name}")
    return value


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr, flush=True)
    os._exit(1)


URL = env("ACCORD_URL").rstrip("/")
BOT_ID, GUILD_ID, CHANNEL_ID, USER_ID = (int(env(n)) for n in ("BOT_ID", "GUILD_ID", "CHANNEL_ID", "USER_ID"))
GUILD_NAME, EXPECT, EMOJI = env("GUILD_NAME"), env("EXPECT_CONTENT"), env("REPLY_EMOJI")

# REST: every Route is BASE + path.
discord.http.Route.BASE = URL + "/api/v10"
# Gateway: discord.py's Client connects to DEFAULT_GATEWAY (it does not ask
# GET /gateway) and then to READY's resume_gateway_url.
discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL("ws" + URL[len("http"):] + "/gateway")

intents = discord.Intents.none()
intents.guilds = True
intents.guild_messages = True
intents.guild_reactions = True
intents.message_content = True


class Bot(discord.Client):
    handled = False

    async def on_ready(self):
        print(f"ready as {self.user} ({self.user.id}), {len(self.guilds)} guild(s)", file=sys.stderr, flush=True)
        if self.user.id != BOT_ID or not self.user.bot:
            fail(f"logged in as {self.user.id} (bot={self.user.bot}), want bot {BOT_ID}")
        guild = self.get_guild(GUILD_ID)
        if guild is None:
            fail(f"guild {GUILD_ID} not in the cache: {[g.id for g in self.guilds]}")
        if guild.name != GUILD_NAME:
            fail(f"guild name {guild.name!r}, want {GUILD_NAME!r}")
        if not isinstance(guild.get_channel(CHANNEL_ID), discord.TextChannel):
            fail(f"text channel {CHANNEL_ID} not in the guild's cache: {guild.channels}")
        print("READY", flush=True)

    async def on_message(self, message):
        if self.handled or message.author.id != USER_ID or message.channel.id != CHANNEL_ID:
            return
        self.handled = True
        try:
            print(f"message from user: {message.id} {message.content!r}", file=sys.stderr, flush=True)
            if message.content != EXPECT:
                fail(f"content {message.content!r}, want {EXPECT!r}")
            if message.guild is None or message.guild.id != GUILD_ID:
                fail(f"message guild {message.guild}, want {GUILD_ID}")

            reply = await message.reply("pong from discord.py")
            if reply.reference is None or reply.reference.message_id != message.id:
                fail(f"reply reference {reply.reference}")
            print(f"REPLY {reply.id}", flush=True)

            edited = await reply.edit(content="pong from discord.py (edited)")
            if edited.content != "pong from discord.py (edited)" or edited.edited_at is None:
                fail(f"edited: content {edited.content!r}, edited_at {edited.edited_at}")

            await message.add_reaction(EMOJI)
            await reply.delete()
            print("replied, edited, reacted, deleted", file=sys.stderr, flush=True)
        except Exception:
            fail(traceback.format_exc())
        await self.close()

    async def on_error(self, event, *args, **kwargs):
        fail(f"error in {event}: {traceback.format_exc()}")


async def main():
    discord.utils.setup_logging(level=logging.DEBUG if os.environ.get("BOT_DEBUG") else logging.INFO)
    async with Bot(intents=intents) as bot:
        await bot.start(env("BOT_TOKEN"))
    if not bot.handled:
        fail("closed before the user's message arrived")


try:
    asyncio.run(main())
except Exception:
    fail(traceback.format_exc())
