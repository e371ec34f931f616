/*
 * treesync --connect-fd HOST PORT any|inet|inet6 TIMEOUT_S ATTEMPTS
 * yes|no: not a command for users.  ssh runs it as its ProxyCommand (with
 * ProxyUseFdpass, see ts_conn_opts.connect_helper): it opens the TCP
 * connection as ssh would (every address of HOST in turn, TIMEOUT_S each
 * (0: the system's), ATTEMPTS rounds a second apart, keepalives as
 * asked), with TCP_NODELAY set, and hands the socket to ssh on its
 * stdout.  ssh turns Nagle off only for sessions with a terminal: an
 * SFTP login waited on delayed ACKs, 40 ms of each login here.
 * Failures are said as ssh says them, for the same messages and exit
 * codes.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "cli.h"

/* A connected socket to ai, or -1 with errno set. */
static int
connect_one(const struct addrinfo *ai, int timeout_s)
{
	struct pollfd	 pfd;
	socklen_t	 len = sizeof(int);
	int		 s, e = 0, rc;

	if ((s = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK,
	    ai->ai_protocol)) == -1)
		return -1;
	if (connect(s, ai->ai_addr, ai->ai_addrlen) != 0) {
		if (errno != EINPROGRESS)
			goto fail;
		pfd.fd = s;
		pfd.events = POLLOUT;
		do
			rc = poll(&pfd, 1, timeout_s > 0 ? timeout_s * 1000 : -1);
		while (rc == -1 && errno == EINTR);
		if (rc == 0) {
			errno = ETIMEDOUT;
			goto fail;
		}
		if (rc < 0 || getsockopt(s, SOL_SOCKET, SO_ERROR, &e,
		    &len) != 0)
			goto fail;
		if (e != 0) {
			errno = e;
			goto fail;
		}
	}
	if (fcntl(s, F_SETFL, fcntl(s, F_GETFL) & ~O_NONBLOCK) != 0)
		goto fail;
	return s;
fail:
	e = errno;
	close(s);
	errno = e;
	return -1;
}

/* Hands socket s to ssh over fd 1 (SCM_RIGHTS). */
static int
pass_fd(int s)
{
	union {
		struct cmsghdr	 h;
		char		 buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct msghdr	 m;
	struct iovec	 iov;
	char		 c = 0;
	ssize_t		 n;

	memset(&m, 0, sizeof(m));
	memset(&cm, 0, sizeof(cm));
	iov.iov_base = &c;
	iov.iov_len = 1;
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = cm.buf;
	m.msg_controllen = sizeof(cm.buf);
	cm.h.cmsg_level = SOL_SOCKET;
	cm.h.cmsg_type = SCM_RIGHTS;
	cm.h.cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(&cm.h), &s, sizeof(s));
	do
		n = sendmsg(1, &m, 0);
	while (n == -1 && errno == EINTR);
	return n == 1 ? 0 : -1;
}

int
cli_connect_fd(int argc, char **argv)
{
	struct addrinfo	 hints, *res, *ai;
	const char	*host, *port;
	int		 timeout_s, attempts, one = 1, s = -1, e = 0, rc, i;
	bool		 keepalive;

	if (argc != 6) {
		fprintf(stderr, "treesync: --connect-fd is for ssh to run "
		    "(ProxyCommand), not a command\n");
		return 2;
	}
	host = argv[0];
	port = argv[1];
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = strcmp(argv[2], "inet") == 0 ? AF_INET :
	    strcmp(argv[2], "inet6") == 0 ? AF_INET6 : AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	timeout_s = atoi(argv[3]);
	attempts = atoi(argv[4]) > 0 ? atoi(argv[4]) : 1;
	keepalive = strcmp(argv[5], "yes") == 0;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		fprintf(stderr, "ssh: Could not resolve hostname %s: %s\r\n",
		    host, gai_strerror(rc));
		return 255;
	}
	for (i = 0; i < attempts && s == -1; i++) {
		if (i > 0)
			sleep(1);
		for (ai = res; ai != NULL && s == -1; ai = ai->ai_next)
			if ((s = connect_one(ai, timeout_s)) == -1)
				e = errno;
	}
	freeaddrinfo(res);
	if (s == -1) {
		fprintf(stderr, "ssh: connect to host %s port %s: %s\r\n", host,
		    port, strerror(e));
		return 255;
	}
	(void)setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (keepalive)
		(void)setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &one,
		    sizeof(one));
	if (pass_fd(s) != 0) {
		fprintf(stderr, "ssh: could not hand the connection to %s to "
		    "ssh: %s\r\n", host, strerror(errno));
		return 255;
	}
	return 0;
}
