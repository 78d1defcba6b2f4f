"""An unmodified discord.py bot (with its `voice` extra) that joins a voice
channel over FussionCord's voice gateway and UDP and plays Opus frames.

Environment: FC_HTTP (http://127.0.0.1:PORT), FC_TOKEN (bot token),
FC_VOICE_CHANNEL (the voice channel's id), FC_FRAMES (how many frames),
SSL_CERT_FILE (the CA that signed the voice server's certificate), and
optionally FC_OPUS_FILE: real Opus frames to play instead (each a 2-byte
big-endian length and the frame), as a browser's microphone sent them.

Without FC_OPUS_FILE the frames are opaque Opus packets, so no libopus is
needed: frame i is the bytes of `frame(i)` below; the listening test
computes the same ones. Either way discord.py sends them as they are.
Prints READY, CONNECTED_VOICE, then PLAYED <n> when playback ended.
"""

import asyncio
import os
import sys

import discord
import yarl

base = os.environ["FC_HTTP"]
discord.http.Route.BASE = f"{base}/api/v10"
discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(base.replace("http", "ws", 1) + "/")

intents = discord.Intents.default()
client = discord.Client(intents=intents)


def say(line):
    print(line, flush=True)


def frame(i):
    """A 20 ms 'Opus packet': TOC byte 0x78, the index, then a pattern."""
    return bytes([0x78, i & 0xFF] + [(i * 7 + k) & 0xFF for k in range(40)])


def recorded(path):
    """The frames of an FC_OPUS_FILE."""
    data = open(path, "rb").read()
    frames, at = [], 0
    while at + 2 <= len(data):
        n = int.from_bytes(data[at:at + 2], "big")
        frames.append(data[at + 2:at + 2 + n])
        at += 2 + n
    return frames


class Frames(discord.AudioSource):
    """Already-encoded Opus frames: discord.py sends them as they are."""

    def __init__(self, n, frames=None):
        self.n = n
        self.frames = frames
        self.i = 0

    def is_opus(self):
        return True

    def read(self):
        if self.i >= self.n:
            return b""
        self.i += 1
        if self.frames:
            return self.frames[(self.i - 1) % len(self.frames)]
        return frame(self.i - 1)


@client.event
async def on_ready():
    say("READY")
    channel = client.get_channel(int(os.environ["FC_VOICE_CHANNEL"]))
    vc = await channel.connect(self_deaf=False)
    say("CONNECTED_VOICE")
    # The listener subscribes once it sees us join; give it the moment.
    await asyncio.sleep(float(os.environ.get("FC_PLAY_DELAY", "1.5")))
    done = asyncio.Event()
    n = int(os.environ.get("FC_FRAMES", "50"))
    path = os.environ.get("FC_OPUS_FILE")
    vc.play(Frames(n, recorded(path) if path else None), after=lambda e: client.loop.call_soon_threadsafe(done.set))
    await done.wait()
    say(f"PLAYED {n}")


async def main():
    async with client:
        await client.start(os.environ["FC_TOKEN"])


try:
    asyncio.run(main())
except KeyboardInterrupt:
    sys.exit(0)
