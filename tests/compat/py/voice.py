"""discord.py 2.x voice bot for tests/compat's voice test (run by
voice_test.go, not by hand: it needs the environment the test sets up;
SSL_CERT_FILE makes Python trust the node's development certificate,
since the library dials wss:// to the voice endpoint).

Env: ACCORD_URL, BOT_TOKEN, GUILD_ID, VOICE_ID.
It joins the voice channel and plays raw Opus frames (an AudioSource
that is already Opus, so no encoder is needed). Protocol on stdout:
"JOINED" once connected; it runs until killed.
"""

import asyncio
import logging
import os
import sys

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
GUILD_ID, VOICE_ID = int(env("GUILD_ID")), int(env("VOICE_ID"))
discord.http.Route.BASE = URL + "/api/v10"
discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL("ws" + URL[len("http"):] + "/gateway")

intents = discord.Intents.none()
intents.guilds = True
intents.voice_states = True


class Frames(discord.AudioSource):
    """One Opus frame (a TOC byte and two bytes) every 20 ms, forever:
    the SFU forwards without decoding and the test checks the bytes."""

    def read(self):
        return b"\xfc\xff\xfe"

    def is_opus(self):
        return True


class Bot(discord.Client):
    joined = False

    async def on_ready(self):
        if self.joined:
            return
        self.joined = True
        guild = self.get_guild(GUILD_ID)
        channel = guild and guild.get_channel(VOICE_ID)
        if not isinstance(channel, discord.VoiceChannel):
            fail(f"voice channel {VOICE_ID} not in the guild's cache")
        try:
            vc = await channel.connect(timeout=30, reconnect=False)
        except Exception as e:  # noqa: BLE001 - report whatever the library raised
            fail(f"connect: {e!r}")
        print(f"voice mode {vc.mode}", file=sys.stderr, flush=True)
        print("JOINED", flush=True)
        vc.play(Frames(), after=lambda e: e and fail(f"player: {e!r}"))


logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
Bot(intents=intents).run(env("BOT_TOKEN"), log_handler=None)
