"""A server that does nothing but answer 200: the load generators' own ceiling.

Whatever rate a generator reaches against it, it could reach against the bot or
bare Flask too; the benchmark shows that rate beside theirs, so a figure limited
by the generator would show as one. One process, uvloop, no HTTP framework: it
reads a request up to the end of its body and answers ``200`` with
``Connection: close``, as gunicorn's sync workers do.

Run: ``python -m benchmarks.null --port 9002`` (the benchmark starts it).
"""

from __future__ import annotations

import argparse
import asyncio

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"


class _Answer(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        head_end = self.buffer.find(b"\r\n\r\n")
        if head_end < 0:
            return
        length = 0
        for line in self.buffer[:head_end].split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip() or 0)
        if len(self.buffer) - head_end - 4 >= length:
            self.transport.write(RESPONSE)
            self.transport.close()


async def _serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Answer, "127.0.0.1", port, backlog=4096, reuse_address=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    port = parser.parse_args().port
    try:
        import uvloop

        uvloop.run(_serve(port))
    except ImportError:
        asyncio.run(_serve(port))


if __name__ == "__main__":
    main()
