#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""HTTP/1.1 hello world on uvloop (or asyncio's own loop): the peer of
examples/servers/http-hello in bench/servers.sh --pinned.

    http_hello.py [--asyncio] [--host H] [--port P]

One process, one loop, an asyncio.Protocol per connection (the fastest
form uvloop's own HTTP benchmarks use, without an HTTP parser library:
Debian has none for Python 3.11 that uvloop's benchmarks name). Keep-alive;
each request is everything up to a blank line (no bodies: wrk sends GETs),
and pipelined requests are answered in one write. The answer is the same
bytes as http-hello's. Prints "listening on HOST:PORT" once bound (port 0
picks a free one), as the axon servers do.
"""
import argparse
import asyncio
import signal
import sys

ANSWER = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
          b"Content-Length: 13\r\n\r\nHello, World!")
MAX_HEAD = 64 * 1024


class Hello(asyncio.Protocol):
    __slots__ = ("transport", "buf")

    def connection_made(self, transport):
        self.transport = transport
        self.buf = b""

    def data_received(self, data):
        buf = self.buf + data if self.buf else data
        n = buf.count(b"\r\n\r\n")
        if n:
            self.transport.write(ANSWER * n)
            buf = buf[buf.rfind(b"\r\n\r\n") + 4:]
        if len(buf) > MAX_HEAD:  # a head that never ends: refuse it
            self.transport.close()
            buf = b""
        self.buf = buf

    def connection_lost(self, exc):
        self.transport = None


async def main(host, port):
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set_result, None)
    server = await loop.create_server(Hello, host, port, backlog=4096)
    bound = server.sockets[0].getsockname()
    print("listening on %s:%d" % (bound[0], bound[1]), flush=True)
    await stop
    server.close()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--asyncio", action="store_true",
                    help="asyncio's own loop instead of uvloop")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8080)
    a = ap.parse_args()
    if not a.asyncio:
        try:
            import uvloop
        except ImportError:
            sys.exit("http_hello.py: no uvloop (Debian: python3-uvloop)")
        uvloop.install()
    asyncio.run(main(a.host, a.port))
