#!/usr/bin/env python3
"""A TCP proxy on 127.0.0.1 that adds a fixed one-way delay in each direction.

    latency_proxy.py --listen PORT --target HOST:PORT --rtt-ms 20 [--pidfile F]

Every chunk read from one side is queued with a timestamp and written to the
other side rtt/2 later, in order.  Reading never waits for the delay, so the
proxy limits throughput only by what it must: its own CPU, and a cap on the
bytes queued per direction (--max-queue-mib, default 64 MiB, far above the
bandwidth-delay product at loopback speeds) so a slow receiver pushes back on
the sender as a real network would.  Half-closes (EOF) travel with the same
delay.  Kernel netem is not available on these machines; this stands in for
it in bench/race.sh.  Python 3 standard library only.

    --port-file F   write the listening port to F once listening (--listen 0
                    picks a free port)
"""

import argparse
import asyncio
import collections
import os
import signal
import socket
import sys

CHUNK = 256 * 1024


class Direction:
    """One direction of one connection: a FIFO of (due time, bytes or None)."""

    def __init__(self, reader, rsock, writer, delay, cap):
        self.reader = reader
        self.rsock = rsock      # the socket reader reads
        self.writer = writer
        self.delay = delay
        self.cap = cap
        self.queue = collections.deque()
        self.queued = 0
        self.have_data = asyncio.Event()
        self.have_room = asyncio.Event()
        self.have_room.set()

    async def pump_in(self):
        loop = asyncio.get_running_loop()
        try:
            while True:
                await self.have_room.wait()
                data = await self.reader.read(CHUNK)
                quickack(self.rsock)
                due = loop.time() + self.delay
                self.queue.append((due, data or None))
                self.have_data.set()
                if not data:
                    return
                self.queued += len(data)
                if self.queued >= self.cap:
                    self.have_room.clear()
        except (ConnectionError, OSError):
            self.queue.append((loop.time() + self.delay, None))
            self.have_data.set()

    async def pump_out(self):
        loop = asyncio.get_running_loop()
        try:
            while True:
                while not self.queue:
                    self.have_data.clear()
                    await self.have_data.wait()
                due, data = self.queue[0]
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                self.queue.popleft()
                if data is None:
                    if self.writer.can_write_eof():
                        self.writer.write_eof()
                    return
                self.writer.write(data)
                await self.writer.drain()
                self.queued -= len(data)
                if self.queued < self.cap:
                    self.have_room.set()
        except (ConnectionError, OSError):
            return


def quickack(sock):
    """Acknowledges what was read at once.  A wire does not acknowledge;
    this endpoint must, and Linux would delay it up to 40 ms, stalling a
    sender whose Nagle algorithm waits for that ACK (sshd sends two small
    messages after login).  Re-armed after every read: the kernel clears it."""
    if sock is not None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        except (OSError, AttributeError):
            pass


def nodelay(writer):
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass


async def handle(c_reader, c_writer, args):
    try:
        s_reader, s_writer = await asyncio.open_connection(
            args.target_host, args.target_port)
    except OSError as e:
        print(f"latency_proxy: connect {args.target}: {e}", file=sys.stderr)
        c_writer.close()
        return
    nodelay(c_writer)
    nodelay(s_writer)
    delay = args.rtt_ms / 2000.0
    cap = int(args.max_queue_mib * 1024 * 1024)
    up = Direction(c_reader, c_writer.get_extra_info("socket"), s_writer,
                   delay, cap)
    down = Direction(s_reader, s_writer.get_extra_info("socket"), c_writer,
                     delay, cap)
    tasks = [asyncio.ensure_future(t) for t in
             (up.pump_in(), up.pump_out(), down.pump_in(), down.pump_out())]
    # Done when both directions have delivered their EOF (or broke).
    try:
        await asyncio.gather(tasks[1], tasks[3], return_exceptions=True)
    except asyncio.CancelledError:
        pass
    for t in tasks:
        t.cancel()
    for w in (c_writer, s_writer):
        try:
            w.close()
        except Exception:
            pass


async def main_async(args):
    server = await asyncio.start_server(
        lambda r, w: handle(r, w, args), "127.0.0.1", args.listen,
        reuse_address=True, backlog=128)
    port = server.sockets[0].getsockname()[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"{port}\n")
        os.replace(tmp, args.port_file)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()
    # Connections still open are cut: this is a benchmark helper.
    sys.stderr.flush()
    os._exit(0)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--listen", type=int, default=0,
                   help="port on 127.0.0.1 (0: any free port)")
    p.add_argument("--target", required=True, help="HOST:PORT to forward to")
    p.add_argument("--rtt-ms", type=float, default=20.0,
                   help="added round-trip time; half of it each way")
    p.add_argument("--max-queue-mib", type=float, default=64.0)
    p.add_argument("--port-file", help="write the listening port here")
    p.add_argument("--pidfile", help="write our pid here")
    args = p.parse_args()
    host, _, port = args.target.rpartition(":")
    args.target_host = host or "127.0.0.1"
    args.target_port = int(port)
    if args.pidfile:
        with open(args.pidfile, "w") as f:
            f.write(f"{os.getpid()}\n")
    try:
        asyncio.run(main_async(args))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
