#!/usr/bin/python3
"""An SFTP server on python3-asyncssh, for tests/integration/test_interop.sh.

    asyncssh_sftp.py DIR AUTHORIZED_PUBKEY PARENT_PID

asyncssh's own SSH and SFTP code (not OpenSSH's), serving this machine's
file system as the user running it.  Its SSH_FXP_SYMLINK follows
draft-02's order (linkpath, then targetpath) unless the client's version
string names OpenSSH or paramiko, and it offers posix-rename, statvfs and
fstatvfs as OpenSSH does: a server that looks like OpenSSH but reads
SYMLINK the draft's way round.  It runs no commands.

Listens on 127.0.0.1 (a free port) with a throwaway ECDSA host key; accepts
only the key in AUTHORIZED_PUBKEY.  Once listening it writes DIR/port and
DIR/known_hosts and logs to DIR/log.  Relative paths are relative to
DIR/cwd (made empty at start), so a test can see where a symlink made the
wrong way round would land.  It exits when PARENT_PID is gone.
"""

import asyncio
import logging
import os
import sys

import asyncssh


async def watch_parent(parent):
    while True:
        try:
            os.kill(parent, 0)
        except OSError:
            logging.info("parent gone: exiting")
            os._exit(0)
        await asyncio.sleep(0.5)


async def main():
    d, pubfile, parent = sys.argv[1], sys.argv[2], int(sys.argv[3])
    logging.basicConfig(filename=os.path.join(d, "log"), level=logging.INFO)
    cwd = os.path.join(d, "cwd")
    os.makedirs(cwd, exist_ok=True)
    os.chdir(cwd)
    key = asyncssh.generate_private_key("ecdsa-sha2-nistp256")
    server = await asyncssh.listen(
        "127.0.0.1", 0, server_host_keys=[key],
        authorized_client_keys=pubfile, sftp_factory=True, allow_scp=False,
        server_version="AsyncSSH_" + asyncssh.__version__)
    port = server.sockets[0].getsockname()[1]
    pub = key.export_public_key("openssh").decode().split()[:2]
    with open(os.path.join(d, "known_hosts.tmp"), "w") as f:
        f.write("[127.0.0.1]:%d %s %s\n" % (port, pub[0], pub[1]))
    os.rename(os.path.join(d, "known_hosts.tmp"),
              os.path.join(d, "known_hosts"))
    with open(os.path.join(d, "port.tmp"), "w") as f:
        f.write("%d\n" % port)
    os.rename(os.path.join(d, "port.tmp"), os.path.join(d, "port"))
    logging.info("listening on %d", port)
    await watch_parent(parent)


if __name__ == "__main__":
    asyncio.run(main())
