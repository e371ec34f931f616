#!/usr/bin/python3
"""An SFTP server on python3-paramiko, for tests/integration/test_interop.sh.

    paramiko_sftp.py [--no-symlinks] [--no-dir-rename] [--nocase] [--max-conns N]
        DIR AUTHORIZED_PUBKEY PARENT_PID

paramiko's own SSH and SFTP code serving this machine's file system as the
user running it: no extension but paramiko's check-file, a plain RENAME
that refuses to replace (draft-02 section 6.5), SSH_FXP_SYMLINK read in
OpenSSH's order (targetpath first) whatever the client, and no commands.
With --no-symlinks, every SYMLINK is answered "operation unsupported", as
servers on file systems without symlinks do.  With --no-dir-rename, a
RENAME of a directory is answered "operation unsupported", as servers on
object stores do.  With --nocase, names fold
case as on Windows or macOS: a path names an existing entry whose name
differs only in case, and a new entry keeps the case it was made with.
With --max-conns N, a connection beyond N open at once is closed at once,
as servers limiting connections per user do.

Listens on 127.0.0.1 (a free port) with a throwaway ECDSA host key
(libssh2 1.10 checks ecdsa-sha2-nistp256 without the rsa-sha2 question;
paramiko 2.12 cannot make ed25519 keys) and accepts only the key in
AUTHORIZED_PUBKEY.  Once listening it writes DIR/port and DIR/known_hosts
and logs to DIR/log.  Relative paths are relative to DIR/cwd (made at
start), so a test can see where a symlink made the wrong way round lands.
It exits when PARENT_PID is gone.
"""

import os
import socket
import sys
import threading
import time

import paramiko
from paramiko import SFTPAttributes, SFTPHandle, SFTPServer
from paramiko import SFTPServerInterface, ServerInterface
from paramiko.sftp import SFTP_FAILURE, SFTP_OK, SFTP_OP_UNSUPPORTED

NO_SYMLINKS = False
NO_DIR_RENAME = False
NOCASE = False
MAX_CONNS = 0
active = 0
active_lock = threading.Lock()
log_lock = threading.Lock()
log_file = None


def log(msg):
    with log_lock:
        log_file.write("%.3f %s\n" % (time.time(), msg))
        log_file.flush()


def errno_status(e):
    return SFTPServer.convert_errno(e.errno)


class Handle(SFTPHandle):
    def stat(self):
        try:
            return SFTPAttributes.from_stat(os.fstat(self.readfile.fileno()))
        except OSError as e:
            return errno_status(e)

    def chattr(self, attr):
        try:
            SFTPServer.set_file_attr(self.filename, attr)
            return SFTP_OK
        except OSError as e:
            return errno_status(e)


def fold(path):
    """With --nocase, path with each component that does not exist as it
    is replaced by an existing name equal to it but for case."""
    if not NOCASE:
        return path
    lead = "/" if path.startswith("/") else ""
    out = []
    for comp in path.split("/"):
        if comp in ("", "."):
            continue
        d = (lead + "/".join(out)) or "."
        if comp != ".." and not os.path.lexists(os.path.join(d, comp)):
            try:
                for name in sorted(os.listdir(d)):
                    if name.lower() == comp.lower():
                        comp = name
                        break
            except OSError:
                pass
        out.append(comp)
    return (lead + "/".join(out)) or "."


class FileSFTP(SFTPServerInterface):
    def canonicalize(self, path):
        return os.path.normpath(os.path.join(os.getcwd(), path))

    def list_folder(self, path):
        path = fold(path)
        try:
            out = []
            for name in os.listdir(path):
                a = SFTPAttributes.from_stat(
                    os.lstat(os.path.join(path, name)))
                a.filename = name
                out.append(a)
            return out
        except OSError as e:
            return errno_status(e)

    def stat(self, path):
        path = fold(path)
        try:
            return SFTPAttributes.from_stat(os.stat(path))
        except OSError as e:
            return errno_status(e)

    def lstat(self, path):
        path = fold(path)
        try:
            return SFTPAttributes.from_stat(os.lstat(path))
        except OSError as e:
            return errno_status(e)

    def open(self, path, flags, attr):
        path = fold(path)
        try:
            mode = getattr(attr, "st_mode", None)
            fd = os.open(path, flags, mode if mode is not None else 0o666)
        except OSError as e:
            return errno_status(e)
        if (flags & os.O_CREAT) and attr is not None:
            attr._flags &= ~attr.FLAG_PERMISSIONS
            SFTPServer.set_file_attr(path, attr)
        if flags & os.O_WRONLY:
            fstr = "ab" if flags & os.O_APPEND else "wb"
        elif flags & os.O_RDWR:
            fstr = "a+b" if flags & os.O_APPEND else "r+b"
        else:
            fstr = "rb"
        h = Handle(flags)
        h.filename = path
        h.readfile = h.writefile = os.fdopen(fd, fstr)
        return h

    def remove(self, path):
        path = fold(path)
        try:
            os.remove(path)
        except OSError as e:
            return errno_status(e)
        return SFTP_OK

    def rename(self, old, new):
        old, new = fold(old), fold(new)
        # draft-02 section 6.5: an existing new path is an error.
        if os.path.lexists(new):
            return SFTP_FAILURE
        if NO_DIR_RENAME and os.path.isdir(old) and not os.path.islink(old):
            return SFTP_OP_UNSUPPORTED
        try:
            os.rename(old, new)
        except OSError as e:
            return errno_status(e)
        return SFTP_OK

    def mkdir(self, path, attr):
        path = fold(path)
        try:
            os.mkdir(path)
            if attr is not None:
                SFTPServer.set_file_attr(path, attr)
        except OSError as e:
            return errno_status(e)
        return SFTP_OK

    def rmdir(self, path):
        path = fold(path)
        try:
            os.rmdir(path)
        except OSError as e:
            return errno_status(e)
        return SFTP_OK

    def chattr(self, path, attr):
        path = fold(path)
        try:
            SFTPServer.set_file_attr(path, attr)
        except OSError as e:
            return errno_status(e)
        return SFTP_OK

    def symlink(self, target_path, path):
        # paramiko reads the first string as the target (OpenSSH's order).
        log("SYMLINK %r -> %r" % (path, target_path))
        if NO_SYMLINKS:
            return SFTP_OP_UNSUPPORTED
        path = fold(path)
        try:
            os.symlink(target_path, path)
        except OSError as e:
            return errno_status(e)
        return SFTP_OK

    def readlink(self, path):
        path = fold(path)
        try:
            return os.readlink(path)
        except OSError as e:
            return errno_status(e)


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
    global active
    try:
        t = paramiko.Transport(conn)
        t.add_server_key(hostkey)
        t.set_subsystem_handler("sftp", SFTPServer, FileSFTP)
        t.start_server(server=Server(allowed))
        t.join()
    except Exception as e:	# a client going away is no error here
        log("connection: %r" % e)
    finally:
        with active_lock:
            active -= 1


def main():
    global log_file, NO_SYMLINKS, NO_DIR_RENAME, NOCASE, MAX_CONNS, active
    args = sys.argv[1:]
    while args and args[0].startswith("--"):
        if args[0] == "--no-symlinks":
            NO_SYMLINKS = True
        elif args[0] == "--no-dir-rename":
            NO_DIR_RENAME = True
        elif args[0] == "--nocase":
            NOCASE = True
        elif args[0] == "--max-conns":
            MAX_CONNS = int(args[1])
            args = args[1:]
        else:
            sys.exit("unknown option " + args[0])
        args = args[1:]
    d, pubfile, parent = args[0], args[1], int(args[2])
    log_file = open(os.path.join(d, "log"), "a")
    cwd = os.path.join(d, "cwd")
    os.makedirs(cwd, exist_ok=True)
    os.chdir(cwd)
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
    log("listening on %d%s" % (port, " (no symlinks)" if NO_SYMLINKS else ""))
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
        # A client that just closed its connections may be quicker than
        # their threads here: a slot freed within a second counts as free.
        for _ in range(50):
            with active_lock:
                refuse = MAX_CONNS > 0 and active >= MAX_CONNS
                if not refuse:
                    active += 1
                    break
            time.sleep(0.02)
        if refuse:
            log("refused: %d connections open" % MAX_CONNS)
            conn.close()
            continue
        threading.Thread(target=serve, args=(conn, hostkey, allowed),
                         daemon=True).start()


if __name__ == "__main__":
    main()
