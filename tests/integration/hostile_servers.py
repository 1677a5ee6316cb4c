"""HTTP servers on 127.0.0.1 that misbehave the way a check target can.

``python -m tests.integration.hostile_servers`` starts them all, prints one JSON line
``{"name": port, ...}`` and serves until killed. They run as their own process
so their work never shares a core's interpreter with the probe that measures
the operator.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import sys
from collections.abc import Awaitable, Callable

Writer = asyncio.StreamWriter
Behaviour = Callable[[Writer], Awaitable[None]]
BIG = 1024 * 1024
REGEX_BODY = b"a" * (64 * 1024 - 1) + b"b"
"""Where a backtracking ``(a+)+$`` would never finish; exactly the 64 KiB read cap."""


async def trickle(writer: Writer) -> None:
    """Headers at once, then one body byte per second, forever."""
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n")
    while True:
        writer.write(b"a")
        await writer.drain()
        await asyncio.sleep(1)


async def slow_headers(writer: Writer) -> None:
    """The status line and headers, one byte per second."""
    for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"s" * 100_000:
        writer.write(bytes([byte]))
        await writer.drain()
        await asyncio.sleep(1)


async def big_body(writer: Writer) -> None:
    """1 MiB with the expected text at its very end, past the read cap."""
    body = b"a" * BIG + b"V2"
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)


async def regex_body(writer: Writer) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(REGEX_BODY) + REGEX_BODY)


async def endless_chunks(writer: Writer) -> None:
    """A chunked body as fast as the socket takes it, never ending."""
    writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"%x\r\n" % 16384 + b"a" * 16384 + b"\r\n"
    while True:
        writer.write(chunk)
        await writer.drain()


GZIP_BOMB = gzip.compress(b"\0" * (64 * BIG), compresslevel=9, mtime=0)
"""64 MiB of zeros in about 64 KiB; built once (compressing it costs a second of CPU).
Checks read it undecoded, so its bytes must not hold the text a check expects: with
the time of day in its header (the default mtime), one run in a hundred or so did."""


async def gzip_bomb(writer: Writer) -> None:
    """The bomb, labelled gzip whatever the request asked for (checks ask for identity)."""
    writer.write(
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(GZIP_BOMB)
        + GZIP_BOMB
    )


async def many_headers(writer: Writer) -> None:
    """Headers without end, as fast as they go."""
    writer.write(b"HTTP/1.1 200 OK\r\n")
    while True:
        writer.write(b"X-Flood: " + b"f" * 100 + b"\r\n")
        await writer.drain()


async def redirect(writer: Writer) -> None:
    writer.write(b"HTTP/1.1 302 Found\r\nLocation: /again\r\nContent-Length: 0\r\n\r\n")


async def healthy(writer: Writer) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nApp V2\r\n")


BEHAVIOURS: dict[str, Behaviour] = {
    "trickle": trickle,
    "slow_headers": slow_headers,
    "big_body": big_body,
    "regex_body": regex_body,
    "endless_chunks": endless_chunks,
    "gzip_bomb": gzip_bomb,
    "many_headers": many_headers,
    "redirect": redirect,
    "healthy": healthy,
}


def _serve(behaviour: Behaviour) -> Callable[[asyncio.StreamReader, Writer], Awaitable[None]]:
    async def handle(reader: asyncio.StreamReader, writer: Writer) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            await behaviour(writer)
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    return handle


async def main() -> None:
    ports: dict[str, int] = {}
    servers = []
    for name, behaviour in BEHAVIOURS.items():
        server = await asyncio.start_server(_serve(behaviour), "127.0.0.1", 0, backlog=1024)
        servers.append(server)
        ports[name] = server.sockets[0].getsockname()[1]
    sys.stdout.write(json.dumps(ports) + "\n")
    sys.stdout.flush()
    await asyncio.gather(*(s.serve_forever() for s in servers))


if __name__ == "__main__":
    asyncio.run(main())
