/*
 * SSH transport through libssh2: TCP connect with a timeout, key exchange
 * with safe algorithms, host key checked by our own known_hosts reader,
 * public-key authentication from the agent and from key files, and
 * channels.  The session is non-blocking from the start so that a server
 * that stops answering costs a timeout, never a hang.
 */
#include <assert.h>
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
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "error.h"
#include "hostkey.h"
#include "log.h"
#include "ssh.h"

/* Channel window for the SFTP subsystem: large enough that reads of many
 * files at once are not throttled by window adjustments on a fast link. */
#define SSH_SFTP_WINDOW		(16u * 1024 * 1024)
#define SSH_SFTP_PACKET		32768

static long long
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Polls fd like poll(2), and cancel_fd too when it is not -1: a byte
 * written there abandons the wait.  Returns poll's count, or -2 when
 * abandoned. */
static int
poll_or_cancel(struct pollfd *pfd, int cancel_fd, int timeout_ms)
{
	struct pollfd	 two[2];
	int		 rc;

	two[0] = *pfd;
	two[1].fd = cancel_fd;
	two[1].events = POLLIN;
	two[1].revents = 0;
	do {
		rc = poll(two, cancel_fd != -1 ? 2 : 1, timeout_ms);
	} while (rc == -1 && errno == EINTR);
	if (rc > 0 && two[1].revents != 0)
		return -2;
	pfd->revents = two[0].revents;
	return rc;
}

/* Connects one address without blocking longer than deadline. */
static int
tcp_connect_one(const struct addrinfo *ai, long long deadline, int cancel_fd,
    int *e)
{
	struct pollfd	 pfd;
	socklen_t	 len;
	int		 fd, rc, left, soerr = 0, one = 1;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
	    ai->ai_protocol);
	if (fd == -1) {
		*e = errno;
		return -1;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1) {
		if (errno != EINPROGRESS) {
			*e = errno;
			close(fd);
			return -1;
		}
		pfd.fd = fd;
		pfd.events = POLLOUT;
		left = (int)(deadline - now_ms());
		rc = poll_or_cancel(&pfd, cancel_fd, left > 0 ? left : 0);
		if (rc == 0 || rc == -2) {
			*e = rc == 0 ? ETIMEDOUT : ECANCELED;
			close(fd);
			return -1;
		}
		len = sizeof(soerr);
		if (rc == -1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr,
		    &len) == -1 || soerr != 0) {
			*e = soerr != 0 ? soerr : errno;
			close(fd);
			return -1;
		}
	}
	/* Small SFTP requests must not wait for Nagle; dead peers are found
	 * by TCP keepalive as well as by SSH keepalives. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	return fd;
}

static int
tcp_connect(int *out, const char *host, int port, int timeout_ms,
    int cancel_fd, struct ts_error *err)
{
	struct addrinfo	 hints, *res = NULL, *ai;
	char		 portstr[16];
	long long	 deadline;
	int		 rc, fd = -1, e = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(portstr, sizeof(portstr), "%d", port);
	if ((rc = getaddrinfo(host, portstr, &hints, &res)) != 0)
		return error_set(err, TS_ECONN, "cannot resolve host \"%s\": %s",
		    host, gai_strerror(rc));
	deadline = now_ms() + timeout_ms;
	for (ai = res; ai != NULL && fd == -1 && e != ECANCELED;
	    ai = ai->ai_next)
		fd = tcp_connect_one(ai, deadline, cancel_fd, &e);
	freeaddrinfo(res);
	if (fd == -1) {
		if (e == ETIMEDOUT)
			return error_set(err, TS_ECONN, "connect to \"%s\" port "
			    "%d: timed out after %d s", host, port,
			    timeout_ms / 1000);
		return error_set(err, TS_ECONN, "connect to \"%s\" port %d: %s",
		    host, port, strerror(e));
	}
	*out = fd;
	return 0;
}

/* What to poll s's socket for: the directions libssh2 last blocked on,
 * and input when want_read (or when it blocked on nothing). */
static void
ssh_poll_prepare(struct ssh *s, bool want_read, struct pollfd *pfd)
{
	int	 dir, one = 1;

	dir = libssh2_session_block_directions(s->session);
	pfd->fd = s->fd;
	pfd->events = 0;
	pfd->revents = 0;
	if (want_read || (dir & LIBSSH2_SESSION_BLOCK_INBOUND) != 0)
		pfd->events |= POLLIN;
	if ((dir & LIBSSH2_SESSION_BLOCK_OUTBOUND) != 0)
		pfd->events |= POLLOUT;
	if (pfd->events == 0)
		pfd->events = POLLIN;
	/* Ack at once: OpenSSH's sshd leaves Nagle on for sessions without
	 * a terminal, so a second small reply (the channel confirmation
	 * after the host keys notice, say) waits for our ack, which Linux
	 * would otherwise delay by 40 ms. */
	setsockopt(s->fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
}

/* ssh_wait() for the openssh transport: the stream, ssh's stderr and
 * cancel_fd. */
static int
ssh_wait_proc(struct ssh *s, int timeout_ms, bool want_read)
{
	struct pollfd	 pfd[SSHPROC_POLL_MAX + 1];
	int		 n, rc;

	n = sshproc_poll_prepare(s->proc, want_read, pfd);
	pfd[n].fd = s->cancel_fd;
	pfd[n].events = POLLIN;
	pfd[n].revents = 0;
	do {
		rc = poll(pfd, (nfds_t)(n + (s->cancel_fd != -1)), timeout_ms);
	} while (rc == -1 && errno == EINTR);
	if (rc > 0 && s->cancel_fd != -1 && pfd[n].revents != 0)
		return -2;
	if (rc > 0)
		sshproc_polled(s->proc, pfd, n);
	return rc;
}

int
ssh_wait(struct ssh *s, int timeout_ms, bool want_read, struct ts_error *err)
{
	struct pollfd	 pfd;
	int		 rc;

	if (s->proc != NULL)
		rc = ssh_wait_proc(s, timeout_ms, want_read);
	else {
		ssh_poll_prepare(s, want_read, &pfd);
		rc = poll_or_cancel(&pfd, s->cancel_fd, timeout_ms);
	}
	if (rc == -2)
		return error_set(err, TS_ECANCELED, "connection to \"%s\" "
		    "abandoned", s->host);
	if (rc == -1)
		return error_set_errno(err, errno, "poll");
	if (rc == 0)
		return error_set(err, TS_ECONN, "no answer from \"%s\" for %d s; "
		    "the connection timed out (see --timeout)", s->host,
		    timeout_ms / 1000);
	return 0;
}

int
ssh_wait_many(struct ssh *const *v, size_t n, int timeout_ms)
{
	struct pollfd	 pfd[SSHPROC_POLL_MAX * SSH_WAIT_MAX];
	size_t		 i;
	int		 rc, k = 0, at[SSH_WAIT_MAX], np[SSH_WAIT_MAX];

	assert(n > 0 && n <= SSH_WAIT_MAX);
	for (i = 0; i < n; i++) {
		assert(v[i]->cancel_fd == -1);
		at[i] = k;
		if (v[i]->proc != NULL)
			k += np[i] = sshproc_poll_prepare(v[i]->proc, true,
			    &pfd[k]);
		else
			ssh_poll_prepare(v[i], true, &pfd[k++]);
	}
	do {
		rc = poll(pfd, (nfds_t)k, timeout_ms);
	} while (rc == -1 && errno == EINTR);
	for (i = 0; rc > 0 && i < n; i++)
		if (v[i]->proc != NULL)
			sshproc_polled(v[i]->proc, &pfd[at[i]], np[i]);
	/* A failed poll shows in the next reads. */
	return rc == 0 ? TS_ECONN : 0;
}

int
ssh_error(struct ssh *s, int rc, struct ts_error *err, const char *what)
{
	char	*msg = NULL;
	int	 code;

	if (s->proc != NULL)
		return sshproc_error(s->proc, s->host, what, err);
	libssh2_session_last_error(s->session, &msg, NULL, 0);
	switch (rc) {
	case LIBSSH2_ERROR_SOCKET_DISCONNECT:
	case LIBSSH2_ERROR_SOCKET_RECV:
	case LIBSSH2_ERROR_SOCKET_SEND:
	case LIBSSH2_ERROR_TIMEOUT:
	case LIBSSH2_ERROR_CHANNEL_CLOSED:
	case LIBSSH2_ERROR_KEX_FAILURE:
	case LIBSSH2_ERROR_BANNER_RECV:
	case LIBSSH2_ERROR_BANNER_SEND:
		code = TS_ECONN;
		break;
	case LIBSSH2_ERROR_ALLOC:
		code = TS_ENOMEM;
		break;
	default:
		code = TS_ECONN;
		break;
	}
	/* libssh2's words for a dead socket ("transport read") say little. */
	if (rc == LIBSSH2_ERROR_SOCKET_RECV || rc == LIBSSH2_ERROR_SOCKET_SEND ||
	    rc == LIBSSH2_ERROR_SOCKET_DISCONNECT)
		return error_set(err, code, "%s on \"%s\": the connection was "
		    "lost", what, s->host);
	return error_set(err, code, "%s on \"%s\": %s", what, s->host,
	    msg != NULL && *msg != '\0' ? msg : "connection lost");
}

/* Runs a libssh2 call until it stops saying EAGAIN, waiting in between. */
#define SSH_RETRY(s, rc, call, err, fail) do {				\
	while (((rc) = (call)) == LIBSSH2_ERROR_EAGAIN)			\
		if (ssh_wait((s), (s)->io_timeout_ms, false, (err)) != 0) \
			goto fail;					\
} while (0)

static bool
alg_is_weak(const char *alg)
{
	return strstr(alg, "cbc") != NULL || strstr(alg, "arcfour") != NULL ||
	    strstr(alg, "md5") != NULL || strstr(alg, "ripemd") != NULL ||
	    strcmp(alg, "none") == 0;
}

/* Whether comma list has alg as one of its items. */
static bool
alg_listed(const char *list, const char *alg)
{
	size_t		 n = strlen(alg);
	const char	*p;

	for (p = list; (p = strstr(p, alg)) != NULL; p += n)
		if ((p == list || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
			return true;
	return false;
}

static void
alg_append(char *list, size_t size, const char *alg)
{
	size_t	 len = strlen(list);

	if (len + strlen(alg) + 2 > size || alg_listed(list, alg))
		return;
	snprintf(list + len, size - len, "%s%s", len != 0 ? "," : "", alg);
}

/* Sets libssh2's preference for method: the algorithms of first that it
 * supports, in that order, then (unless only) the rest of what it
 * supports.  CBC modes and other weak algorithms are never offered. */
static void
ssh_set_pref(LIBSSH2_SESSION *sess, int method, const char *first, bool only)
{
	const char	**algs = NULL;
	char		 list[1024] = "", name[128];
	const char	*p, *q;
	size_t		 n;
	int		 count, i;

	if ((count = libssh2_session_supported_algs(sess, method, &algs)) <= 0)
		return;
	for (p = first; p != NULL && *p != '\0'; p = q) {
		q = strchr(p, ',');
		n = q != NULL ? (size_t)(q - p) : strlen(p);
		q = q != NULL ? q + 1 : NULL;
		if (n == 0 || n >= sizeof(name))
			continue;
		memcpy(name, p, n);
		name[n] = '\0';
		for (i = 0; i < count; i++)
			if (strcmp(algs[i], name) == 0 && !alg_is_weak(name))
				alg_append(list, sizeof(list), name);
	}
	for (i = 0; i < count && !only; i++)
		if (!alg_is_weak(algs[i]))
			alg_append(list, sizeof(list), algs[i]);
	libssh2_free(sess, algs);
	if (list[0] != '\0' &&
	    libssh2_session_method_pref(sess, method, list) != 0)
		log_msg(TS_LOG_DEBUG, "libssh2 refused algorithm list %s", list);
}

static const char *
key_type_label(int type)
{
	switch (type) {
	case LIBSSH2_HOSTKEY_TYPE_RSA:		return "RSA";
	case LIBSSH2_HOSTKEY_TYPE_DSS:		return "DSA";
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_256:
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_384:
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_521:	return "ECDSA";
	case LIBSSH2_HOSTKEY_TYPE_ED25519:	return "ED25519";
	default:				return "unknown";
	}
}

/* Checks the server's key against known_hosts; records it when the user
 * trusts new hosts.  A changed or revoked key is always refused. */
static int
ssh_check_hostkey(struct ssh *s, const struct ssh_opts *o,
    struct ts_error *err)
{
	struct hostkey_check	 chk;
	const char		*key;
	char			 fp[128], name[300];
	size_t			 keylen;
	int			 type, rc;

	key = libssh2_session_hostkey(s->session, &keylen, &type);
	if (key == NULL)
		return error_set(err, TS_ECONN, "\"%s\" sent no host key", o->host);
	if (o->port == 22)
		snprintf(name, sizeof(name), "%s", o->host);
	else
		snprintf(name, sizeof(name), "[%s]:%d", o->host, o->port);
	if (hostkey_fingerprint(fp, sizeof(fp), (const uint8_t *)key,
	    keylen) != 0)
		snprintf(fp, sizeof(fp), "(no fingerprint)");
	rc = hostkey_check(&chk, o->known_hosts, o->n_known_hosts, o->host,
	    o->port, (const uint8_t *)key, keylen, err);
	if (rc != 0)
		return rc;
	switch (chk.result) {
	case HOSTKEY_MATCH:
		return 0;
	case HOSTKEY_REVOKED:
		return error_set(err, TS_EHOSTKEY, "host key of %s (%s %s) is "
		    "revoked in \"%s\" line %d; refusing to connect", name,
		    key_type_label(type), fp, chk.file, chk.line);
	case HOSTKEY_CHANGED:
		return error_set(err, TS_EHOSTKEY, "host key of %s has CHANGED "
		    "(now %s %s) and does not match \"%s\" line %d: the "
		    "connection may be intercepted; if the server was "
		    "reinstalled, remove that line", name,
		    key_type_label(type), fp, chk.file, chk.line);
	case HOSTKEY_UNKNOWN:
		break;
	}
	if (!o->accept_new || o->n_known_hosts == 0)
		return error_set(err, TS_EHOSTKEY, "host %s is not known (%s key "
		    "%s)%s; check the fingerprint, then run again with "
		    "--accept-new to trust it", name, key_type_label(type), fp,
		    chk.other_types ? ", though keys of other types are" : "");
	if ((rc = hostkey_add(o->known_hosts[0], o->host, o->port,
	    (const uint8_t *)key, keylen, err)) != 0)
		return rc;
	log_msg(TS_LOG_WARN, "added %s (%s key %s) to \"%s\"", name,
	    key_type_label(type), fp, o->known_hosts[0]);
	return 0;
}

/* What a private key file holds, as far as choosing how to use it goes. */
struct key_info {
	bool	 readable;
	bool	 encrypted;
	bool	 rsa;
	/* The public key, in the clear even in an encrypted key file
	 * (openssh-key-v1): what an agent holding the key lists. */
	uint8_t	 pub[2048];
	size_t	 pub_len;
};

static void
key_file_info(const char *path, struct key_info *ki)
{
	FILE		*f;
	char		 line[512], *b64 = NULL, *bin = NULL;
	size_t		 b64len = 0, b64cap = 0;
	bool		 in_openssh = false;
	int		 n;

	memset(ki, 0, sizeof(*ki));
	if ((f = fopen(path, "r")) == NULL)
		return;
	ki->readable = true;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strstr(line, "BEGIN OPENSSH PRIVATE KEY") != NULL) {
			in_openssh = true;
			continue;
		}
		if (strstr(line, "END OPENSSH PRIVATE KEY") != NULL)
			break;
		if (strstr(line, "BEGIN RSA PRIVATE KEY") != NULL)
			ki->rsa = true;
		if (strstr(line, "ENCRYPTED") != NULL)
			ki->encrypted = true;
		if (in_openssh) {
			size_t	 l = strcspn(line, "\r\n");

			if (b64len + l + 1 > b64cap) {
				char	*p;

				b64cap = (b64len + l + 1) * 2;
				if ((p = realloc(b64, b64cap)) == NULL)
					break;
				b64 = p;
			}
			memcpy(b64 + b64len, line, l);
			b64len += l;
			b64[b64len] = '\0';
		}
	}
	fclose(f);
	/* openssh-key-v1: magic, string cipher, string kdf, string kdfopts,
	 * u32 count, string public key whose first string is its type. */
	if (b64 != NULL && (bin = malloc(b64len)) != NULL &&
	    (n = EVP_DecodeBlock((unsigned char *)bin, (unsigned char *)b64,
	    (int)b64len)) > 0) {
		const uint8_t	*p = (const uint8_t *)bin + 15, *end;
		uint32_t	 l;
		int		 field;

		end = (const uint8_t *)bin + n;
		for (field = 0; field < 6 && p + 4 <= end; field++) {
			if (field == 3) {	/* the key count */
				p += 4;
				continue;
			}
			l = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
			    (uint32_t)p[2] << 8 | p[3];
			if (l > (size_t)(end - p - 4))
				break;
			if (field == 0)
				ki->encrypted = !(l == 4 &&
				    memcmp(p + 4, "none", 4) == 0);
			if (field == 4) {	/* public key: descend */
				if (l <= sizeof(ki->pub)) {
					memcpy(ki->pub, p + 4, l);
					ki->pub_len = l;
				}
				p += 4;
				continue;
			}
			if (field == 5)
				ki->rsa = l == 7 && memcmp(p + 4, "ssh-rsa", 7) == 0;
			p += 4 + l;
		}
	}
	free(b64);
	free(bin);
}

/* Tries the keys of a running ssh-agent; returns 0 when one worked. */
static int
ssh_auth_agent(struct ssh *s, const char *user)
{
	LIBSSH2_AGENT			*agent;
	struct libssh2_agent_publickey	*id = NULL;
	int				 rc, ok = -1;

	if (getenv("SSH_AUTH_SOCK") == NULL ||
	    (agent = libssh2_agent_init(s->session)) == NULL)
		return -1;
	if (libssh2_agent_connect(agent) != 0 ||
	    libssh2_agent_list_identities(agent) != 0)
		goto out;
	while (libssh2_agent_get_identity(agent, &id, id) == 0) {
		while ((rc = libssh2_agent_userauth(agent, user, id)) ==
		    LIBSSH2_ERROR_EAGAIN)
			if (ssh_wait(s, s->io_timeout_ms, false, NULL) != 0)
				goto out;
		if (rc == 0) {
			log_msg(TS_LOG_INFO, "authenticated with agent key %s",
			    id->comment != NULL ? id->comment : "");
			snprintf(s->auth, sizeof(s->auth), "publickey, "
			    "ssh-agent key %s", id->comment != NULL ?
			    id->comment : "");
			ok = 0;
			break;
		}
	}
out:
	libssh2_agent_disconnect(agent);
	libssh2_agent_free(agent);
	return ok;
}

/* Logs in with the agent's copy of the key whose public blob is pub, as
 * ssh(1) does for an IdentityFile the agent holds: its passphrase need
 * not be asked.  Returns 0 when that worked, -1 otherwise. */
static int
ssh_auth_agent_key(struct ssh *s, const char *user, const uint8_t *pub,
    size_t len, const char *path)
{
	LIBSSH2_AGENT			*agent;
	struct libssh2_agent_publickey	*id = NULL;
	int				 rc, ok = -1;

	if (len == 0 || getenv("SSH_AUTH_SOCK") == NULL ||
	    (agent = libssh2_agent_init(s->session)) == NULL)
		return -1;
	if (libssh2_agent_connect(agent) != 0 ||
	    libssh2_agent_list_identities(agent) != 0)
		goto out;
	while (libssh2_agent_get_identity(agent, &id, id) == 0) {
		if (id->blob_len != len || memcmp(id->blob, pub, len) != 0)
			continue;
		while ((rc = libssh2_agent_userauth(agent, user, id)) ==
		    LIBSSH2_ERROR_EAGAIN)
			if (ssh_wait(s, s->io_timeout_ms, false, NULL) != 0)
				goto out;
		if (rc == 0) {
			log_msg(TS_LOG_INFO, "authenticated with the agent's "
			    "copy of key \"%s\"", path);
			ok = 0;
		}
		break;
	}
out:
	libssh2_agent_disconnect(agent);
	libssh2_agent_free(agent);
	return ok;
}

/* Tries one key file.  Returns 0 when it logged in, 1 when the key was
 * refused or unusable (why goes to *why for the final message), or an
 * error when the connection itself failed. */
static int
ssh_auth_file(struct ssh *s, const struct ssh_opts *o, const char *path,
    bool explicit, char *why, size_t whysize, struct ts_error *err)
{
	struct key_info	 ki;
	char		 pass[256] = "";
	int		 rc;

	key_file_info(path, &ki);
	if (!ki.readable) {
		if (explicit)
			snprintf(why, whysize, "identity file \"%s\" cannot be "
			    "read: %s", path, strerror(errno));
		return 1;
	}
	if (ki.encrypted &&
	    ssh_auth_agent_key(s, o->user, ki.pub, ki.pub_len, path) == 0)
		return 0;
	if (ki.encrypted) {
		if (o->passphrase == NULL || o->passphrase(path, pass,
		    sizeof(pass), o->passphrase_payload) != 0) {
			snprintf(why, whysize, "key \"%s\" is encrypted and no "
			    "passphrase can be asked without a terminal: load it "
			    "into ssh-agent (ssh-add) or use a key without a "
			    "passphrase", path);
			return 1;
		}
	}
	while ((rc = libssh2_userauth_publickey_fromfile_ex(s->session, o->user,
	    (unsigned)strlen(o->user), NULL, path, pass)) ==
	    LIBSSH2_ERROR_EAGAIN)
		if (ssh_wait(s, s->io_timeout_ms, false, err) != 0) {
			explicit_bzero(pass, sizeof(pass));
			return err != NULL ? err->code : TS_ECONN;
		}
	explicit_bzero(pass, sizeof(pass));
	if (rc == 0) {
		log_msg(TS_LOG_INFO, "authenticated with key \"%s\"", path);
		snprintf(s->auth, sizeof(s->auth), "publickey, key \"%s\"",
		    path);
		return 0;
	}
	if (rc == LIBSSH2_ERROR_SOCKET_DISCONNECT ||
	    rc == LIBSSH2_ERROR_SOCKET_RECV || rc == LIBSSH2_ERROR_SOCKET_SEND)
		return ssh_error(s, rc, err, "authentication");
	if (ki.rsa)
		snprintf(why, whysize, "the server refused RSA key \"%s\": "
		    "libssh2 signs RSA keys with SHA-1 only, which OpenSSH 8.8 "
		    "and later refuse; use an ed25519 key (ssh-keygen -t "
		    "ed25519)", path);
	else if (ki.encrypted && rc == LIBSSH2_ERROR_FILE)
		snprintf(why, whysize, "wrong passphrase for key \"%s\"", path);
	else if (rc == LIBSSH2_ERROR_FILE)
		snprintf(why, whysize, "key \"%s\" could not be read (not a "
		    "private key in a format libssh2 understands)", path);
	else if (why[0] == '\0' || explicit)
		snprintf(why, whysize, "the server refused key \"%s\"", path);
	return 1;
}

static int
ssh_auth(struct ssh *s, const struct ssh_opts *o, struct ts_error *err)
{
	char	*methods, why[400] = "";
	size_t	 i;
	int	 rc;

	/* Keys first: asking which methods the server takes would cost every
	 * connection a round trip; it is asked only to explain a failure. */
	if (!o->identities_only && ssh_auth_agent(s, o->user) == 0)
		return 0;
	for (i = 0; i < o->n_identities; i++) {
		rc = ssh_auth_file(s, o, o->identities[i], i == 0 ||
		    access(o->identities[i], F_OK) == 0, why, sizeof(why), err);
		if (rc <= 0)
			return rc;
	}
	while ((methods = libssh2_userauth_list(s->session, o->user,
	    (unsigned)strlen(o->user))) == NULL) {
		if (libssh2_userauth_authenticated(s->session))
			return 0;		/* "none" was accepted */
		rc = libssh2_session_last_errno(s->session);
		if (rc != LIBSSH2_ERROR_EAGAIN)
			break;
		if (ssh_wait(s, s->io_timeout_ms, false, err) != 0)
			return err != NULL ? err->code : TS_ECONN;
	}
	if (methods != NULL && strstr(methods, "publickey") == NULL)
		return error_set(err, TS_EAUTH, "\"%s\" does not accept public "
		    "keys (it offers: %s); treesync logs in with keys only",
		    o->host, methods);
	if (why[0] != '\0')
		return error_set(err, TS_EAUTH, "authentication as \"%s\" on "
		    "\"%s\" failed: %s", o->user, o->host, why);
	return error_set(err, TS_EAUTH, "authentication as \"%s\" on \"%s\" "
	    "failed: no key was accepted (tried the agent and %zu key "
	    "file%s); use --identity FILE", o->user, o->host, o->n_identities,
	    o->n_identities == 1 ? "" : "s");
}

int
ssh_connect(struct ssh **out, const struct ssh_opts *o, struct ts_error *err)
{
	struct ssh	*s;
	char		 known[512];
	long long	 t0;
	int		 rc;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return error_set(err, TS_ENOMEM, "out of memory");
	s->fd = -1;
	s->cancel_fd = o->cancel_fd;
	s->io_timeout_ms = o->io_timeout_ms;
	s->port = o->port;
	snprintf(s->host, sizeof(s->host), "%s", o->host);
	if (o->openssh != NULL) {
		/* ssh logs in while the SFTP engine waits for its version. */
		if ((rc = sshproc_start(&s->proc, o->openssh, err)) != 0)
			goto fail;
		*out = s;
		return 0;
	}
	t0 = now_ms();
	if ((rc = tcp_connect(&s->fd, o->host, o->port, o->connect_timeout_ms,
	    o->cancel_fd, err)) != 0)
		goto fail;
	if ((s->session = libssh2_session_init()) == NULL) {
		rc = error_set(err, TS_ENOMEM, "cannot start an SSH session");
		goto fail;
	}
	libssh2_session_set_blocking(s->session, 0);
	/* Before the handshake: it adds zlib to the methods offered. */
	if (o->compress)
		(void)libssh2_session_flag(s->session, LIBSSH2_FLAG_COMPRESS,
		    1);
	/* Offer the key types known_hosts has for this host first: libssh2
	 * would otherwise pick ECDSA and call an ed25519-only host unknown. */
	if (hostkey_known_types(known, sizeof(known), o->known_hosts,
	    o->n_known_hosts, o->host, o->port, NULL) != 0)
		known[0] = '\0';
	ssh_set_pref(s->session, LIBSSH2_METHOD_HOSTKEY,
	    known[0] != '\0' ? known : "ssh-ed25519,ecdsa-sha2-nistp256",
	    false);
	ssh_set_pref(s->session, LIBSSH2_METHOD_CRYPT_CS,
	    "aes128-ctr,aes256-ctr,aes192-ctr", true);
	ssh_set_pref(s->session, LIBSSH2_METHOD_CRYPT_SC,
	    "aes128-ctr,aes256-ctr,aes192-ctr", true);
	ssh_set_pref(s->session, LIBSSH2_METHOD_MAC_CS,
	    "hmac-sha2-256,hmac-sha2-512", false);
	ssh_set_pref(s->session, LIBSSH2_METHOD_MAC_SC,
	    "hmac-sha2-256,hmac-sha2-512", false);
	ssh_set_pref(s->session, LIBSSH2_METHOD_KEX,
	    "curve25519-sha256,curve25519-sha256@libssh.org,"
	    "ecdh-sha2-nistp256,diffie-hellman-group14-sha256", false);
	/* The handshake gets the connect timeout: a port that accepts but
	 * never speaks SSH must not hang us. */
	s->io_timeout_ms = o->connect_timeout_ms;
	/* Not abandoned half-way: libssh2 1.10 leaks the key exchange's
	 * keys when a session is freed in the middle of it. */
	s->cancel_fd = -1;
	while ((rc = libssh2_session_handshake(s->session, s->fd)) ==
	    LIBSSH2_ERROR_EAGAIN)
		if ((rc = ssh_wait(s, s->io_timeout_ms, false, err)) != 0) {
			error_clear(err);
			rc = error_set(err, TS_ECONN, "\"%s\" port %d accepted the "
			    "connection but did not complete the SSH handshake "
			    "within %d s", o->host, o->port,
			    o->connect_timeout_ms / 1000);
			goto fail;
		}
	if (rc != 0) {
		rc = ssh_error(s, rc, err, "SSH handshake");
		goto fail;
	}
	if (o->compress) {	/* the server may have refused it */
		const char	*cs, *sc;

		cs = libssh2_session_methods(s->session,
		    LIBSSH2_METHOD_COMP_CS);
		sc = libssh2_session_methods(s->session,
		    LIBSSH2_METHOD_COMP_SC);
		log_msg(TS_LOG_DEBUG, "compression: %s, %s", cs != NULL ? cs :
		    "none", sc != NULL ? sc : "none");
	}
	if (o->on_handshake != NULL)
		o->on_handshake(o->on_handshake_arg, (int)(now_ms() - t0));
	s->cancel_fd = o->cancel_fd;
	if ((rc = ssh_check_hostkey(s, o, err)) != 0)
		goto fail;
	t0 = now_ms();
	if ((rc = ssh_auth(s, o, err)) != 0)
		goto fail;
	s->auth_ms = (int)(now_ms() - t0);
	s->io_timeout_ms = o->io_timeout_ms;
	if (o->keepalive_s > 0)
		libssh2_keepalive_config(s->session, 0, (unsigned)o->keepalive_s);
	*out = s;
	return 0;
fail:
	ssh_free(s);
	return rc;
}

void
ssh_keepalive(struct ssh *s)
{
	int	 next;

	if (s->proc != NULL)
		return;		/* ServerAliveInterval, ssh's own */
	libssh2_keepalive_send(s->session, &next);
}

void
ssh_set_broken(struct ssh *s)
{
	s->broken = true;
	if (s->proc != NULL)
		sshproc_retire(s->proc);
}

void
ssh_hangup(struct ssh *s)
{
	if (s != NULL && !s->broken)
		sshproc_hangup(s->proc);
}

void
ssh_free(struct ssh *s)
{
	int	 i;

	if (s == NULL)
		return;
	sshproc_free(s->proc, s->broken);
	if (s->session != NULL) {
		/* A polite goodbye, bounded: never wait long for a dead peer. */
		for (i = 0; !s->broken && i < 20 && libssh2_session_disconnect(
		    s->session, "bye") == LIBSSH2_ERROR_EAGAIN; i++)
			if (ssh_wait(s, 100, false, NULL) != 0)
				break;
		/* Non-blocking, libssh2_session_free says EAGAIN while it
		 * still has something to send; with the socket shut, sends
		 * fail at once and it frees everything. */
		if (s->fd != -1)
			shutdown(s->fd, SHUT_RDWR);
		for (i = 0; i < 100 && libssh2_session_free(s->session) ==
		    LIBSSH2_ERROR_EAGAIN; i++)
			;
	}
	if (s->fd != -1)
		close(s->fd);
	free(s);
}

static int
ssh_open_channel(LIBSSH2_CHANNEL **out, struct ssh *s, struct ts_error *err)
{
	LIBSSH2_CHANNEL	*ch;
	int		 rc;

	*out = NULL;
	while ((ch = libssh2_channel_open_ex(s->session, "session",
	    sizeof("session") - 1, SSH_SFTP_WINDOW, SSH_SFTP_PACKET, NULL,
	    0)) == NULL) {
		rc = libssh2_session_last_errno(s->session);
		if (rc != LIBSSH2_ERROR_EAGAIN)
			return ssh_error(s, rc, err, "open channel");
		if ((rc = ssh_wait(s, s->io_timeout_ms, false, err)) != 0)
			return rc;
	}
	*out = ch;
	return 0;
}

int
ssh_open_subsystem(LIBSSH2_CHANNEL **out, struct ssh *s, const char *name,
    struct ts_error *err)
{
	LIBSSH2_CHANNEL	*ch = NULL;
	int		 rc;

	*out = NULL;
	if (s->proc != NULL) {
		assert(strcmp(name, "sftp") == 0);
		return 0;
	}
	if ((rc = ssh_open_channel(&ch, s, err)) != 0)
		return rc;
	SSH_RETRY(s, rc, libssh2_channel_process_startup(ch, "subsystem",
	    sizeof("subsystem") - 1, name, (unsigned)strlen(name)), err, fail);
	if (rc != 0) {
		rc = error_set(err, TS_EREMOTE, "\"%s\" refused the %s "
		    "subsystem; is SFTP enabled on the server?", s->host, name);
		goto fail_close;
	}
	*out = ch;
	return 0;
fail:
	rc = err != NULL ? err->code : TS_ECONN;
fail_close:
	ssh_channel_close(s, ch);
	return rc;
}

void
ssh_channel_close(struct ssh *s, LIBSSH2_CHANNEL *ch)
{
	int	 i;

	if (ch == NULL)
		return;
	for (i = 0; i < 20 && libssh2_channel_close(ch) ==
	    LIBSSH2_ERROR_EAGAIN; i++)
		if (ssh_wait(s, 100, false, NULL) != 0)
			break;
	libssh2_channel_free(ch);
}

ssize_t
ssh_stream_write(struct ssh *s, LIBSSH2_CHANNEL *ch, const void *data,
    size_t len)
{
	if (s->proc != NULL)
		return sshproc_write(s->proc, data, len);
	return libssh2_channel_write(ch, data, len);
}

ssize_t
ssh_stream_read(struct ssh *s, LIBSSH2_CHANNEL *ch, void *data, size_t len)
{
	ssize_t	 n;

	if (s->proc != NULL)
		return sshproc_read(s->proc, data, len);
	n = libssh2_channel_read(ch, data, len);
	/* 0 without EOF: nothing this time. */
	if (n == 0 && !libssh2_channel_eof(ch))
		return LIBSSH2_ERROR_EAGAIN;
	return n;
}

/* A command started ahead of its input (openssh only: see ssh.h). */
struct ssh_cmd {
	struct sshproc	*c;
};

int
ssh_exec_start(struct ssh *s, const char *cmd, struct ssh_cmd **out,
    struct ts_error *err)
{
	struct ssh_cmd	*sc;
	int		 rc;

	*out = NULL;
	if (s->proc == NULL)
		return 0;
	if ((sc = calloc(1, sizeof(*sc))) == NULL)
		return error_set(err, TS_ENOMEM, "out of memory");
	if ((rc = sshproc_exec_start(s->proc, cmd, &sc->c, err)) != 0) {
		free(sc);
		return rc;
	}
	*out = sc;
	return 0;
}

int
ssh_exec_finish(struct ssh *s, struct ssh_cmd *sc, const void *in,
    size_t inlen, struct buf *out, int *exit_status, struct ts_error *err)
{
	struct sshproc	*c = sc->c;

	free(sc);
	return sshproc_exec_finish(s->proc, c, in, inlen, out, exit_status,
	    s->io_timeout_ms, s->cancel_fd, err);
}

void
ssh_exec_drop(struct ssh_cmd *sc)
{
	if (sc == NULL)
		return;
	sshproc_exec_drop(sc->c);
	free(sc);
}

int
ssh_exec(struct ssh *s, const char *cmd, const void *in, size_t inlen,
    struct buf *out, int *exit_status, struct ts_error *err)
{
	LIBSSH2_CHANNEL	*ch = NULL;
	char		 tmp[16384];
	size_t		 sent = 0;
	bool		 eof_sent = false;
	ssize_t		 n, e;
	int		 rc, slice, idle_ms = 0;

	*exit_status = -1;
	if (s->proc != NULL)
		return sshproc_exec(s->proc, cmd, in, inlen, out, exit_status,
		    s->io_timeout_ms, s->cancel_fd, err);
	if ((rc = ssh_open_channel(&ch, s, err)) != 0)
		return rc;
	SSH_RETRY(s, rc, libssh2_channel_process_startup(ch, "exec",
	    sizeof("exec") - 1, cmd, (unsigned)strlen(cmd)), err, fail);
	if (rc != 0) {
		rc = error_set(err, TS_EREMOTE, "\"%s\" refused to run a "
		    "command", s->host);
		goto out;
	}
	/* Feed stdin and drain stdout together, so that neither side waits
	 * on a full window. */
	for (;;) {
		bool	 progress = false;

		if (sent < inlen) {
			n = libssh2_channel_write(ch, (const char *)in + sent,
			    inlen - sent);
			if (n > 0) {
				sent += (size_t)n;
				progress = true;
			} else if (n != LIBSSH2_ERROR_EAGAIN) {
				/* The command may exit without reading it all. */
				sent = inlen;
			}
		} else if (!eof_sent) {
			n = libssh2_channel_send_eof(ch);
			if (n == 0 || n != LIBSSH2_ERROR_EAGAIN)
				eof_sent = true;
		}
		/* stderr first: each read takes in whatever the socket has,
		 * for either stream, so the read just before a wait must be
		 * the one whose bytes (or end) decide the wait.  Read the
		 * other way round, the command's last output and its end
		 * could sit in libssh2's queue while we waited on a socket
		 * with nothing more to come, until --timeout. */
		while ((e = libssh2_channel_read_stderr(ch, tmp,
		    sizeof(tmp))) > 0)
			progress = true;
		n = libssh2_channel_read(ch, tmp, sizeof(tmp));
		if (n > 0) {
			if (buf_append(out, tmp, (size_t)n) != 0) {
				rc = error_set(err, TS_EREMOTE, "command output "
				    "from \"%s\" is too large", s->host);
				goto out;
			}
			progress = true;
		} else if (n < 0 && n != LIBSSH2_ERROR_EAGAIN) {
			rc = ssh_error(s, (int)n, err, "command");
			goto out;
		}
		if (n <= 0 && libssh2_channel_eof(ch))
			break;
		if (progress) {
			idle_ms = 0;
			continue;
		}
		/* Waits of a second at most, reading again after each: a
		 * wake-up lost in libssh2's queue costs a second, not the
		 * whole --timeout. */
		slice = s->io_timeout_ms < 1000 ? s->io_timeout_ms : 1000;
		if ((rc = ssh_wait(s, slice, true, err)) == TS_ECONN) {
			error_clear(err);	/* a slice, not the timeout */
			if ((idle_ms += slice) < s->io_timeout_ms)
				continue;
			rc = error_set(err, TS_ECONN, "no answer from \"%s\" "
			    "for %d s; the connection timed out (see "
			    "--timeout)", s->host, s->io_timeout_ms / 1000);
		}
		if (rc != 0)
			goto out;
	}
	while ((rc = libssh2_channel_close(ch)) == LIBSSH2_ERROR_EAGAIN)
		if ((rc = ssh_wait(s, s->io_timeout_ms, false, err)) != 0)
			goto out;
	*exit_status = libssh2_channel_get_exit_status(ch);
	rc = 0;
	goto out;
fail:
	rc = err != NULL ? err->code : TS_ECONN;
out:
	libssh2_channel_free(ch);
	return rc;
}
