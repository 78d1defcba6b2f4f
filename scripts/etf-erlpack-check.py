"""Checks the gateway's encoding=etf against Discord's own codec, erlpack.

    python -m venv /tmp/etf && /tmp/etf/bin/pip install erlpack websockets
    /tmp/etf/bin/python scripts/etf-erlpack-check.py ws://127.0.0.1:8080 TOKEN

Connects with zlib-stream, IDENTIFYs with an erlpack-packed payload in a
binary frame, reads HELLO, READY and a heartbeat ACK with erlpack, and
exits non-zero if any is missing. (erlpack hands binaries back as bytes.)
"""
import asyncio
import sys
import zlib

import erlpack
import websockets


async def main(url, token):
    async with websockets.connect(f"{url}/?v=10&encoding=etf&compress=zlib-stream") as ws:
        inflate = zlib.decompressobj()

        async def recv():
            buf = b""
            while not buf.endswith(b"\x00\x00\xff\xff"):
                buf += await ws.recv()
            return erlpack.unpack(inflate.decompress(buf))

        hello = await recv()
        assert hello[b"op"] == 10, hello
        await ws.send(erlpack.pack({"op": 2, "d": {"token": token, "properties": {"os": "linux", "browser": "erlpack", "device": "erlpack"}}}))
        while True:
            p = await recv()
            if p[b"op"] == 0 and p[b"t"] == b"READY":
                print("READY for user", p[b"d"][b"user"][b"id"].decode(), "seq", p[b"s"])
                break
        await ws.send(erlpack.pack({"op": 1, "d": 1}))
        ack = await recv()
        assert ack[b"op"] == 11, ack
        print("heartbeat ACK:", ack)


asyncio.run(main(sys.argv[1], sys.argv[2]))
