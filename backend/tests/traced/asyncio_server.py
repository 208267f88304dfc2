"""asyncio's echo server: coroutines on an event loop that waits in epoll (Fig. 6.3 on Linux;
the coroutines are a library's view of the same readiness calls). Usage: asyncio_server.py
[PORT]."""
import asyncio
import sys


async def echo(reader, writer):
    while line := await reader.readline():
        writer.write(line.upper())
        await writer.drain()
    writer.close()


async def main(port):
    server = await asyncio.start_server(echo, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 0))
