#!/usr/bin/python3
"""A fault-injecting TCP proxy for tests/integration/test_faults.sh.

    faultproxy.py --target-port PORT --port-file FILE --log FILE [faults]

Listens on 127.0.0.1 (a free port, or --listen-port) and forwards every
connection to 127.0.0.1:--target-port.  Once listening it writes its port
to --port-file (written to a temporary name, then renamed: a test that sees
the file can read the whole port) and prints it on stdout.

Faults, per connection (connections are numbered 1, 2, ... in the order
they are accepted):

  --cut-after N        close both sides once N bytes have been forwarded
                       (exactly N: the chunk that crosses N is cut short)
  --stall-after N      after N bytes stop forwarding in both directions but
                       keep both sockets open: what the client sends is
                       read and thrown away (so its close is seen), nothing
                       reaches it; the server side is not read any more
  --count up|down|total  which bytes N counts: client->server (up, the
                       default), server->client (down) or both (total)
  --faulty-connections K  only the first K connections that are let through
                       get the fault; later ones are clean, so a retry on a
                       new connection succeeds (default: every connection)
  --skip-connections S  the first S connections that are let through are
                       clean; the faults start with the next one
  --max-connections M  a connection accepted while M are open is closed at
                       once, before a byte is forwarded (as sshd's
                       MaxStartups does): "refuse" in the log
  --rate BYTES_PER_SEC  forward at most this many bytes a second per
                       connection and direction (a slow link)

Signals, for faults at a moment the test chooses: SIGUSR1 cuts every open
connection now, SIGUSR2 stalls every open connection now (both count as
faults of those connections: "cut"/"stall" with "signal" in the log).
SIGTERM and SIGINT stop the proxy.

The log (--log, appended, flushed per line) has one line per event:

    listen port=P target=T
    accept conn=N open=O
    refuse conn=N open=O
    cut conn=N up=U down=D reason=bytes|signal
    stall conn=N up=U down=D reason=bytes|signal
    close conn=N up=U down=D by=client|server|proxy|error
    exit reason=...

The proxy is one thread with a selector.  Each direction has a bounded
buffer (a side is read only while the buffer towards the other has room),
at most --max-open connections are served, and it exits when its parent
(--parent PID, by default the process that started it) is gone or after
--lifetime seconds, so a killed test leaves no proxy behind.
"""

import argparse
import os
import selectors
import signal
import socket
import sys
import time

BUF_MAX = 256 * 1024		# per direction and connection
READ_CHUNK = 64 * 1024


def parse_args(argv):
    p = argparse.ArgumentParser(description="fault-injecting TCP proxy")
    p.add_argument("--target-port", type=int, required=True)
    p.add_argument("--target-host", default="127.0.0.1")
    p.add_argument("--listen-port", type=int, default=0)
    p.add_argument("--port-file")
    p.add_argument("--log", required=True)
    p.add_argument("--cut-after", type=int)
    p.add_argument("--stall-after", type=int)
    p.add_argument("--count", choices=("up", "down", "total"), default="up")
    p.add_argument("--faulty-connections", type=int, default=-1)
    p.add_argument("--skip-connections", type=int, default=0)
    p.add_argument("--max-connections", type=int, default=0)
    p.add_argument("--rate", type=int, default=0)
    p.add_argument("--max-open", type=int, default=256)
    p.add_argument("--parent", type=int, default=os.getppid())
    p.add_argument("--lifetime", type=float, default=600.0)
    a = p.parse_args(argv)
    if a.cut_after is not None and a.stall_after is not None:
        p.error("--cut-after and --stall-after exclude each other")
    for name in ("cut_after", "stall_after"):
        v = getattr(a, name)
        if v is not None and v < 0:
            p.error("--%s must be >= 0" % name.replace("_", "-"))
    return a



def wire_like(sock):
    """Forwards small writes at once, as a wire would: without it, Nagle's
    algorithm holds a small message until the last one is acknowledged,
    which adds up to 40 ms to a request and reply protocol such as SFTP."""
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:
        pass


def quickack(sock):
    """Acknowledges what was read at once (a wire does not delay ACKs; the
    kernel would, up to 40 ms, stalling a sender that waits for one).
    Re-armed after every read: the kernel clears it."""
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
    except (OSError, AttributeError):
        pass

class Log:
    def __init__(self, path):
        self.f = open(path, "a", buffering=1)

    def __call__(self, fmt, *args):
        self.f.write("%.3f " % time.time() + (fmt % args) + "\n")


class Side:
    """One socket of a connection and the bytes waiting to be sent to it."""

    def __init__(self, sock):
        self.sock = sock
        self.out = bytearray()		# to be written to this socket
        self.eof = False		# this socket will send no more
        self.shut = False		# we shut down writing to it


class Conn:
    def __init__(self, num, client, faulty):
        self.num = num
        self.c = Side(client)
        self.s = None			# the server side, once connecting
        self.connected = False
        self.faulty = faulty
        self.up = 0			# bytes forwarded client -> server
        self.down = 0			# bytes forwarded server -> client
        self.state = "open"		# open, stalled, closed
        self.tokens = {"up": 0.0, "down": 0.0}
        self.last = time.monotonic()

    def counted(self, how):
        if how == "up":
            return self.up
        if how == "down":
            return self.down
        return self.up + self.down


class Proxy:
    def __init__(self, args):
        self.a = args
        self.log = Log(args.log)
        self.sel = selectors.DefaultSelector()
        self.conns = {}			# num -> Conn
        self.accepted = 0
        self.let_through = 0
        self.faults_given = 0
        self.pending_signal = None
        self.stop = None
        self.first_ppid = os.getppid()
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", args.listen_port))
        self.lsock.listen(64)
        self.lsock.setblocking(False)
        self.port = self.lsock.getsockname()[1]
        self.sel.register(self.lsock, selectors.EVENT_READ, None)
        # Signals only set a flag: the loop acts on it (a short select
        # timeout bounds the delay).
        signal.signal(signal.SIGUSR1, self.on_signal)
        signal.signal(signal.SIGUSR2, self.on_signal)
        signal.signal(signal.SIGTERM, self.on_signal)
        signal.signal(signal.SIGINT, self.on_signal)

    def on_signal(self, signum, frame):
        if signum == signal.SIGUSR1:
            self.pending_signal = "cut"
        elif signum == signal.SIGUSR2:
            self.pending_signal = "stall"
        else:
            self.stop = "signal %d" % signum

    # --- accepting ----------------------------------------------------------

    def accept(self):
        while True:
            try:
                sock, _ = self.lsock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:	# EMFILE and the like: try later
                self.log("accept-error errno=%d", e.errno)
                return
            self.accepted += 1
            num = self.accepted
            open_now = len(self.conns)
            limit = self.a.max_connections
            if (limit > 0 and open_now >= limit) or \
                    open_now >= self.a.max_open:
                self.log("refuse conn=%d open=%d", num, open_now)
                try:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                    b"\0" * 8)	# no linger: plain close
                except OSError:
                    pass
                sock.close()
                continue
            self.let_through += 1
            faulty = (self.a.cut_after is not None or
                      self.a.stall_after is not None) and \
                self.let_through > self.a.skip_connections and \
                (self.a.faulty_connections < 0 or
                 self.faults_given < self.a.faulty_connections)
            if faulty:
                self.faults_given += 1
            sock.setblocking(False)
            wire_like(sock)
            conn = Conn(num, sock, faulty)
            self.conns[num] = conn
            self.log("accept conn=%d open=%d faulty=%d", num, open_now + 1,
                     1 if faulty else 0)
            srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            srv.setblocking(False)
            wire_like(srv)
            conn.s = Side(srv)
            try:
                srv.connect((self.a.target_host, self.a.target_port))
                conn.connected = True
            except BlockingIOError:
                pass
            except OSError as e:
                self.log("connect-error conn=%d errno=%d", num, e.errno)
                self.close(conn, "error")
                continue
            self.update(conn)

    # --- forwarding ---------------------------------------------------------

    def limit_for(self, conn, direction, want):
        """How many of want bytes may be forwarded now in direction: the
        fault threshold and the rate both cut it short."""
        if conn.faulty and conn.state == "open":
            n = self.a.cut_after if self.a.cut_after is not None \
                else self.a.stall_after
            how = self.a.count
            if how == "total" or how == direction:
                want = min(want, max(0, n - conn.counted(how)))
        if self.a.rate > 0:
            want = min(want, int(conn.tokens[direction]))
        return want

    def refill(self, conn):
        if self.a.rate <= 0:
            return
        now = time.monotonic()
        dt = now - conn.last
        conn.last = now
        for d in ("up", "down"):
            conn.tokens[d] = min(float(self.a.rate) / 4 + READ_CHUNK,
                                 conn.tokens[d] + dt * self.a.rate)

    def threshold_reached(self, conn):
        if not conn.faulty or conn.state != "open":
            return False
        n = self.a.cut_after if self.a.cut_after is not None \
            else self.a.stall_after
        return conn.counted(self.a.count) >= n

    def fault(self, conn, kind, reason):
        self.log("%s conn=%d up=%d down=%d reason=%s", kind, conn.num,
                 conn.up, conn.down, reason)
        if kind == "cut":
            self.close(conn, "proxy")
            return
        conn.state = "stalled"
        conn.c.out.clear()
        if conn.s is not None:
            conn.s.out.clear()
        self.update(conn)

    def read_side(self, conn, src, dst, direction):
        """Reads from src into dst.out, within the buffer, rate and fault
        limits.  Returns False when the connection was closed."""
        if conn.state == "stalled":
            # Thrown away: only the client is read, to see its close.
            try:
                data = src.sock.recv(READ_CHUNK)
            except (BlockingIOError, InterruptedError):
                return True
            except OSError:
                self.close(conn, "error")
                return False
            if not data:
                self.close(conn, "client")
                return False
            return True
        room = BUF_MAX - len(dst.out)
        want = self.limit_for(conn, direction, min(room, READ_CHUNK))
        if want <= 0:
            return True
        try:
            data = src.sock.recv(want)
        except (BlockingIOError, InterruptedError):
            return True
        except OSError:
            self.close(conn, "error")
            return False
        if not data:
            src.eof = True
            return True
        quickack(src.sock)
        dst.out += data
        if direction == "up":
            conn.up += len(data)
        else:
            conn.down += len(data)
        if self.a.rate > 0:
            conn.tokens[direction] -= len(data)
        return True

    def write_side(self, conn, side):
        if not side.out:
            return True
        try:
            n = side.sock.send(side.out)
        except (BlockingIOError, InterruptedError):
            return True
        except OSError:
            self.close(conn, "error")
            return False
        del side.out[:n]
        return True

    def after_io(self, conn):
        """Acts on thresholds and half-closes after some I/O on conn."""
        if conn.state == "closed":
            return
        if conn.state == "open" and self.threshold_reached(conn):
            # What was forwarded up to the threshold is still delivered
            # for a stall (the buffers are cleared for a cut: the bytes
            # are counted as forwarded, close enough for a cut).
            if self.a.cut_after is not None:
                self.flush_blocking(conn)
                self.fault(conn, "cut", "bytes")
            else:
                self.flush_blocking(conn)
                self.fault(conn, "stall", "bytes")
            return
        if conn.state != "open":
            self.update(conn)
            return
        for src, dst in ((conn.c, conn.s), (conn.s, conn.c)):
            if src.eof and not dst.out and not dst.shut:
                try:
                    dst.sock.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                dst.shut = True
        if conn.c.eof and conn.s.eof and not conn.c.out and not conn.s.out:
            self.close(conn, "client")
            return
        self.update(conn)

    def flush_blocking(self, conn):
        """Delivers the bytes already read (up to a threshold) before the
        fault, so a cut after N bytes really lets N bytes through."""
        deadline = time.monotonic() + 2.0
        for side in (conn.s, conn.c):
            if side is None:
                continue
            while side.out and time.monotonic() < deadline:
                try:
                    n = side.sock.send(side.out)
                    del side.out[:n]
                except (BlockingIOError, InterruptedError):
                    time.sleep(0.001)
                except OSError:
                    side.out.clear()

    def update(self, conn):
        """Registers conn's sockets for the events it can act on now."""
        if conn.state == "closed":
            return
        for side, other, direction in ((conn.c, conn.s, "up"),
                                       (conn.s, conn.c, "down")):
            ev = 0
            if side is conn.s and not conn.connected:
                ev = selectors.EVENT_WRITE
            elif conn.state == "stalled":
                if side is conn.c:
                    ev = selectors.EVENT_READ
            else:
                if not side.eof and len(other.out) < BUF_MAX and \
                        (self.a.rate <= 0 or conn.tokens[direction] >= 1):
                    ev |= selectors.EVENT_READ
                if side.out:
                    ev |= selectors.EVENT_WRITE
            try:
                key = self.sel.get_key(side.sock)
            except KeyError:
                key = None
            if ev == 0:
                if key is not None:
                    self.sel.unregister(side.sock)
            elif key is None:
                self.sel.register(side.sock, ev, conn)
            elif key.events != ev:
                self.sel.modify(side.sock, ev, conn)

    def close(self, conn, by):
        if conn.state == "closed":
            return
        conn.state = "closed"
        for side in (conn.c, conn.s):
            if side is None:
                continue
            try:
                self.sel.unregister(side.sock)
            except (KeyError, ValueError):
                pass
            side.sock.close()
        self.conns.pop(conn.num, None)
        self.log("close conn=%d up=%d down=%d by=%s", conn.num, conn.up,
                 conn.down, by)

    def handle(self, key, mask):
        conn = key.data
        if conn.state == "closed":
            return
        sock = key.fileobj
        if sock is conn.s.sock and not conn.connected:
            err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err != 0:
                self.log("connect-error conn=%d errno=%d", conn.num, err)
                self.close(conn, "error")
                return
            conn.connected = True
            self.update(conn)
            return
        if sock is conn.c.sock:
            side, other, direction = conn.c, conn.s, "up"
        else:
            side, other, direction = conn.s, conn.c, "down"
        if mask & selectors.EVENT_WRITE:
            if not self.write_side(conn, side):
                return
        if mask & selectors.EVENT_READ:
            if not self.read_side(conn, side, other, direction):
                return
        self.after_io(conn)

    # --- the loop -------------------------------------------------------------

    def parent_alive(self):
        """Whether the test that started the proxy still runs.  When it is
        the proxy's parent, a changed getppid() also says it is gone (its
        pid may be reused by then)."""
        if self.a.parent <= 1:
            return True
        if self.a.parent == self.first_ppid and \
                os.getppid() != self.first_ppid:
            return False
        try:
            os.kill(self.a.parent, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
        return True

    def run(self):
        self.log("listen port=%d target=%d", self.port, self.a.target_port)
        if self.a.port_file:
            tmp = self.a.port_file + ".tmp"
            with open(tmp, "w") as f:
                f.write("%d\n" % self.port)
            os.rename(tmp, self.a.port_file)
        try:
            sys.stdout.write("%d\n" % self.port)
            sys.stdout.flush()
        except OSError:
            pass
        end = time.monotonic() + self.a.lifetime
        last_check = 0.0
        while self.stop is None:
            now = time.monotonic()
            if now >= end:
                self.stop = "lifetime"
                break
            if now - last_check >= 0.5:
                last_check = now
                if not self.parent_alive():
                    self.stop = "parent gone"
                    break
            if self.pending_signal is not None:
                kind, self.pending_signal = self.pending_signal, None
                for conn in list(self.conns.values()):
                    if conn.state == "open":
                        self.fault(conn, kind, "signal")
            timeout = 0.1
            if self.a.rate > 0:
                timeout = 0.01
                for conn in list(self.conns.values()):
                    self.refill(conn)
                    self.update(conn)
            try:
                events = self.sel.select(timeout)
            except InterruptedError:
                continue
            for key, mask in events:
                if key.data is None:
                    self.accept()
                else:
                    self.handle(key, mask)
        self.log("exit reason=%s open=%d", self.stop, len(self.conns))
        for conn in list(self.conns.values()):
            self.close(conn, "proxy")
        self.lsock.close()


def main(argv):
    args = parse_args(argv)
    try:
        proxy = Proxy(args)
    except OSError as e:
        sys.stderr.write("faultproxy: %s\n" % e)
        return 1
    proxy.run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
