#!/usr/bin/python3
"""A hostile SFTP server for tests/integration/test_pull_hostile.sh.

    hostile_sftp.py DIR AUTHORIZED_PUBKEY PARENT_PID

Listens on 127.0.0.1 (a free port), with a throwaway ECDSA host key made
at start (libssh2 1.10 checks ecdsa-sha2-nistp256 without the rsa-sha2
question; paramiko 2.12 cannot generate ed25519 keys).  It accepts only
the public key in AUTHORIZED_PUBKEY.  Once listening it writes DIR/port and
DIR/known_hosts ("[127.0.0.1]:PORT ecdsa-sha2-nistp256 ...") and logs to
DIR/log.  It exits when PARENT_PID is gone, so a killed test leaves no
server behind.

It serves two virtual trees.  /srv has names no client may write
(../escape, a/b, ., .., the empty name, one with a NUL), symlinks pointing
outside the tree, a sub directory listing ../../escape2, good files, and
grow.txt (its size and mtime grow with every read: a file changing while
it is read).  /more has good.txt and more.txt, whose size stays put but
whose every read returns more bytes than were asked for.
"""

import os
import socket
import stat
import sys
import threading
import time

import paramiko
from paramiko import SFTPAttributes, SFTPHandle, SFTPServer
from paramiko import SFTPServerInterface, ServerInterface
from paramiko.sftp import SFTP_NO_SUCH_FILE, SFTP_OK, SFTP_PERMISSION_DENIED

T0 = 1600000000


def content(name, size):
    """Deterministic bytes of a file: the test computes the same."""
    seed = name.encode() * 16
    out = bytearray()
    i = 0
    while len(out) < size:
        out += b"%s:%08d\n" % (seed[:40], i)
        i += 1
    return bytes(out[:size])


GOOD = content("good.txt", 70000)
INNER = content("inner.txt", 1234)
GROW_SIZE = 300000
MORE_SIZE = 100000

# name -> (kind, payload): "f" bytes, "d" listing, "l" target.
ROOT = [
    ("../escape", "f", b"escaped!\n"),
    ("a/b", "f", b"a slash\n"),
    (".", "d", None),
    ("..", "d", None),
    ("", "f", b"empty name\n"),
    ("nul\0name", "f", b"a NUL\n"),
    ("good.txt", "f", GOOD),
    ("evil", "l", "../../outside/escape3"),
    ("evil-abs", "l", "/etc/passwd"),
    ("sub", "d", None),
    ("grow.txt", "g", None),
]
# Served as /more: a file whose reads overrun, which fails the session.
MORE = [
    ("good.txt", "f", GOOD),
    ("more.txt", "m", None),
]
SUB = [
    ("../../escape2", "f", b"escaped too!\n"),
    ("inner.txt", "f", INNER),
]

log_lock = threading.Lock()
log_file = None


def log(msg):
    with log_lock:
        log_file.write("%.3f %s\n" % (time.time(), msg))
        log_file.flush()


def attrs(name, kind, payload):
    a = SFTPAttributes()
    a.filename = name
    a.st_uid = a.st_gid = 0
    a.st_mtime = a.st_atime = T0
    if kind == "d":
        a.st_mode = stat.S_IFDIR | 0o755
        a.st_size = 4096
    elif kind == "l":
        a.st_mode = stat.S_IFLNK | 0o777
        a.st_size = len(payload)
    else:
        a.st_mode = stat.S_IFREG | 0o644
        if kind == "g":
            a.st_size = GROW_SIZE
        elif kind == "m":
            a.st_size = MORE_SIZE
        else:
            a.st_size = len(payload)
    return a


class GrowHandle(SFTPHandle):
    """grow.txt: every read makes the file bigger and newer, and what it
    returns depends on how often it was read (the content keeps changing)."""

    def __init__(self):
        super().__init__()
        self.reads = 0

    def stat(self):
        a = attrs("grow.txt", "g", None)
        a.st_size = GROW_SIZE + 1000 * self.reads
        a.st_mtime = T0 + self.reads
        return a

    def read(self, offset, length):
        self.reads += 1
        size = GROW_SIZE + 1000 * self.reads
        if offset >= size:
            return b""
        n = min(length, size - offset)
        return bytes([(offset + i + self.reads) & 0xFF for i in range(n)])


class MoreHandle(SFTPHandle):
    """more.txt: stat always says MORE_SIZE, reads return 512 bytes more
    than asked for (a server overrunning the requested range)."""

    def stat(self):
        return attrs("more.txt", "m", None)

    def read(self, offset, length):
        return b"M" * (length + 512)


class BytesHandle(SFTPHandle):
    def __init__(self, name, data):
        super().__init__()
        self.name = name
        self.data = data

    def stat(self):
        return attrs(self.name, "f", self.data)

    def read(self, offset, length):
        return self.data[offset:offset + length]


TREES = {"/srv": (ROOT, SUB), "/more": (MORE, [])}


class HostileSFTP(SFTPServerInterface):
    def _lookup(self, path):
        """(kind, payload, name, listing) of a path, or None: the roots
        are the keys of TREES."""
        path = path.rstrip("/") or "/"
        for root, (top, sub) in TREES.items():
            if path == root:
                return ("d", None, root[1:], top)
            if not path.startswith(root + "/"):
                continue
            rel = path[len(root) + 1:]
            for name, kind, payload in top:
                if rel == name:
                    return (kind, payload, name,
                            sub if name == "sub" else [])
            if rel.startswith("sub/"):
                for name, kind, payload in sub:
                    if rel[4:] == name:
                        return (kind, payload, name, [])
        return None

    def canonicalize(self, path):
        if not path.startswith("/"):
            path = "/" + path
        return os.path.normpath(path)

    def list_folder(self, path):
        log("READDIR %r" % path)
        found = self._lookup(path)
        if found is None or found[0] != "d":
            return SFTP_NO_SUCH_FILE
        return [attrs(n, k, p) for n, k, p in found[3]]

    def stat(self, path):
        log("STAT %r" % path)
        found = self._lookup(path)
        if found is None:
            return SFTP_NO_SUCH_FILE
        if found[0] == "l":	# followed: pretend a missing target
            return SFTP_NO_SUCH_FILE
        return attrs(found[2], found[0], found[1])

    def lstat(self, path):
        log("LSTAT %r" % path)
        found = self._lookup(path)
        if found is None:
            return SFTP_NO_SUCH_FILE
        return attrs(found[2], found[0], found[1])

    def readlink(self, path):
        log("READLINK %r" % path)
        found = self._lookup(path)
        if found is None or found[0] != "l":
            return SFTP_NO_SUCH_FILE
        return found[1]

    def open(self, path, flags, attr):
        log("OPEN %r flags %#x" % (path, flags))
        if flags & (os.O_WRONLY | os.O_RDWR):
            return SFTP_PERMISSION_DENIED
        found = self._lookup(path)
        if found is None or found[0] in "dl":
            return SFTP_NO_SUCH_FILE
        kind, payload, name = found[:3]
        if kind == "g":
            return GrowHandle()
        if kind == "m":
            return MoreHandle()
        return BytesHandle(name, payload)

    def _refuse(self, what, *args):
        log("REFUSED %s %r" % (what, args))
        return SFTP_PERMISSION_DENIED

    def remove(self, path):
        return self._refuse("remove", path)

    def rename(self, old, new):
        return self._refuse("rename", old, new)

    def posix_rename(self, old, new):
        return self._refuse("posix_rename", old, new)

    def mkdir(self, path, attr):
        return self._refuse("mkdir", path)

    def rmdir(self, path):
        return self._refuse("rmdir", path)

    def chattr(self, path, attr):
        return self._refuse("chattr", path)

    def symlink(self, target, path):
        return self._refuse("symlink", target, path)


class Server(ServerInterface):
    def __init__(self, allowed):
        self.allowed = allowed

    def get_allowed_auths(self, username):
        return "publickey"

    def check_auth_publickey(self, username, key):
        ok = (key.get_name() == self.allowed[0] and
              key.get_base64() == self.allowed[1])
        log("auth %s %s: %s" % (username, key.get_name(), ok))
        return paramiko.AUTH_SUCCESSFUL if ok else paramiko.AUTH_FAILED

    def check_channel_request(self, kind, chanid):
        if kind == "session":
            return paramiko.OPEN_SUCCEEDED
        return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_exec_request(self, channel, command):
        log("exec refused: %r" % command)
        return False


def serve(conn, hostkey, allowed):
    try:
        t = paramiko.Transport(conn)
        t.add_server_key(hostkey)
        t.set_subsystem_handler("sftp", SFTPServer, HostileSFTP)
        t.start_server(server=Server(allowed))
        while t.is_active():
            time.sleep(0.2)
    except Exception as e:	# a client going away is no error here
        log("connection: %r" % e)


def main():
    global log_file
    d, pubfile, parent = sys.argv[1], sys.argv[2], int(sys.argv[3])
    log_file = open(os.path.join(d, "log"), "a")
    with open(pubfile) as f:
        allowed = f.read().split()[:2]
    hostkey = paramiko.ECDSAKey.generate(bits=256)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    sock.settimeout(0.5)
    port = sock.getsockname()[1]
    with open(os.path.join(d, "known_hosts.tmp"), "w") as f:
        f.write("[127.0.0.1]:%d %s %s\n" % (port, hostkey.get_name(),
                                            hostkey.get_base64()))
    os.rename(os.path.join(d, "known_hosts.tmp"),
              os.path.join(d, "known_hosts"))
    with open(os.path.join(d, "port.tmp"), "w") as f:
        f.write("%d\n" % port)
    os.rename(os.path.join(d, "port.tmp"), os.path.join(d, "port"))
    log("listening on %d" % port)
    while True:
        try:
            os.kill(parent, 0)
        except OSError:
            log("parent gone: exiting")
            return
        try:
            conn, _ = sock.accept()
        except socket.timeout:
            continue
        threading.Thread(target=serve, args=(conn, hostkey, allowed),
                         daemon=True).start()


if __name__ == "__main__":
    main()
