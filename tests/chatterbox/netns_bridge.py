"""Run inside a network namespace that has only loopback (`unshare --net`), with the engine's
interpreter: check that the outside network is unreachable, start the engine, and forward a Unix
socket, which the tests outside the namespace reach, to the engine's loopback port.

    python netns_bridge.py SOCKET PORT -- ENGINE_COMMAND...

Exits with the engine's exit code; SIGTERM is passed on to the engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import subprocess
import sys

logger = logging.getLogger("netns_bridge")

OUTSIDE = ("192.0.2.1", 443)  # TEST-NET-1: any address off this machine will do


def check_isolated() -> None:
    probe = socket.socket()
    probe.settimeout(5)
    try:
        probe.connect(OUTSIDE)
    except OSError as exc:
        logger.info("network unreachable: connecting to %s:%d failed at once: %s", *OUTSIDE, exc)
        return
    finally:
        probe.close()
    raise SystemExit("the namespace reaches the network")


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while data := await reader.read(1 << 16):
            writer.write(data)
            await writer.drain()
    writer.close()


async def serve(path: str, port: int, engine: subprocess.Popen[bytes]) -> int:
    async def forward(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            writer.close()  # the engine is not listening yet: the client retries
            return
        await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))

    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, engine.terminate)
    server = await asyncio.start_unix_server(forward, path)
    async with server:
        return await asyncio.to_thread(engine.wait)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    path, port, separator, *command = sys.argv[1:]
    assert separator == "--", __doc__
    check_isolated()
    engine = subprocess.Popen(command)
    logger.info("engine pid %d", engine.pid)
    sys.stdout.flush()
    return asyncio.run(serve(path, int(port), engine))


if __name__ == "__main__":
    sys.exit(main())
