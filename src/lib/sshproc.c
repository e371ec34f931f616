/*
 * The openssh transport: the user's own ssh client runs as a child
 * process, as rsync, git and OpenSSH's sftp run it, so that everything
 * "ssh HOST" can do (the whole ssh_config, jump hosts, certificates, keys
 * libssh2 cannot sign with) works here too.
 *
 * The SFTP stream is a socket pair on ssh's stdin and stdout: a socket,
 * not a pipe, so that writing to an ssh that died fails with EPIPE
 * (MSG_NOSIGNAL) instead of raising SIGPIPE in a library.  ssh's stderr is
 * a pipe we drain into a buffer: its last words are the error message.
 *
 * The first connection to a host is also a control master, on a socket
 * in a private directory; the other connections with the same ssh command
 * line (the -j ones, spares, reconnects) and the remote commands (hash
 * batches) open their sessions through it instead of logging in again:
 * one round trip on a local socket (about 10 ms) against a whole login
 * (about 300 ms on loopback, more over a real network), and a passphrase
 * or a security-key touch asked once.  When the master is gone or the
 * server refuses one more session (sshd's MaxSessions), ssh logs in by
 * itself: riding is only ever faster, never a failure.
 */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libssh2.h>

#include "error.h"
#include "log.h"
#include "ssh_ciphers.h"
#include "sshproc.h"

extern char **environ;

#define SSHPROC_ARGS	64		/* words on ssh's command line */
#define SSHPROC_ERRMAX	4096		/* of ssh's stderr kept */
/* Connections on one control master, its own included: sshd refuses
 * more than 10 sessions on a connection by default (MaxSessions), and
 * remote commands (hash batches) take sessions too.  The next connection
 * becomes a new master. */
#define SSHPROC_MUX_USERS	8

/* A control master and the connections on it (see the top). */
struct sshmux {
	struct sshmux	*next;		/* in mux_list while new ones may ride */
	char		*key;		/* the ssh command line and host */
	bool		 listed;
	int		 users;		/* sshprocs on it, its master's too */
	/* The master's ssh, once its own connection left while others still
	 * ride it: the last to leave reaps it.  -1 otherwise. */
	pid_t		 master;
	/* Riders that left while the master still served: their ssh ends
	 * once the master has closed their session (a round trip), which
	 * the last to leave waits for, so that the master's own goodbye is
	 * said meanwhile.  Each with its stderr, kept open until then. */
	pid_t		 rider[SSHPROC_MUX_USERS];
	int		 rider_err[SSHPROC_MUX_USERS];
	int		 nriders;
	char		 dir[80];	/* private: holds the socket */
	char		 ctl[96];
};

static pthread_mutex_t	 mux_mu = PTHREAD_MUTEX_INITIALIZER;
static struct sshmux	*mux_list;

struct sshproc {
	pid_t		 pid;		/* -1 once reaped */
	int		 fd;		/* the stream; -1 once closed */
	int		 errfd;		/* ssh's stderr; -1 at its end */
	int		 status;	/* wait status once reaped */
	bool		 out_blocked;	/* the last write would block */
	char		 err[SSHPROC_ERRMAX];
	size_t		 err_len;
	size_t		 err_logged;	/* err[0..err_logged) was logged */
	/* The command line without its last words (host, subsystem). */
	char		*argv[SSHPROC_ARGS];
	int		 argc;
	char		*rsh_copy;	/* the words of rsh point into it */
	char		*host;		/* as given to ssh */
	struct sshmux	*mux;		/* the control master it is or rides */
	bool		 is_master;
	char		 dir[80];	/* private: the passphrase bridge */
	/* The passphrase bridge: ssh runs DIR/askpass, which writes the
	 * prompt into the FIFO DIR/q and reads the answer from DIR/a. */
	ts_passphrase_fn *passphrase;
	void		*passphrase_payload;
	int		 askfd;		/* DIR/q, or -1 */
};

static long long
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Splits an rsync-style -e COMMAND into words in place: blanks separate,
 * '...' and "..." quote, a backslash outside single quotes escapes the
 * next character.  Returns the word count, or -1 when too many or a
 * quote is left open.
 */
static int
split_words(char *s, char **v, int max)
{
	char	*w = s, q = '\0';
	int	 n = 0;
	bool	 in_word = false;

	for (; *s != '\0'; s++) {
		if (q == '\0' && (*s == ' ' || *s == '\t')) {
			if (in_word) {
				*w++ = '\0';
				in_word = false;
			}
			continue;
		}
		if (!in_word) {
			if (n == max)
				return -1;
			v[n++] = w;
			in_word = true;
		}
		if (q == '\0' && (*s == '\'' || *s == '"'))
			q = *s;
		else if (q != '\0' && *s == q)
			q = '\0';
		else if (*s == '\\' && q != '\'' && s[1] != '\0')
			*w++ = *++s;
		else
			*w++ = *s;
	}
	if (in_word)
		*w = '\0';
	return q == '\0' ? n : -1;
}

bool
sshproc_find(const char *rsh, char *out, size_t size)
{
	char		 prog[PATH_MAX], *dirs, *d, *save = NULL;
	const char	*path = getenv("PATH");
	size_t		 n;

	if (rsh == NULL)
		rsh = "ssh";
	while (*rsh == ' ' || *rsh == '\t')
		rsh++;
	n = strcspn(rsh, " \t");
	if (n == 0 || n >= sizeof(prog))
		return false;
	memcpy(prog, rsh, n);
	prog[n] = '\0';
	if (strchr(prog, '/') != NULL) {
		snprintf(out, size, "%s", prog);
		return access(prog, X_OK) == 0;
	}
	if (path == NULL || (dirs = strdup(path)) == NULL)
		return false;
	for (d = strtok_r(dirs, ":", &save); d != NULL;
	    d = strtok_r(NULL, ":", &save)) {
		snprintf(out, size, "%s/%s", *d != '\0' ? d : ".", prog);
		if (access(out, X_OK) == 0) {
			free(dirs);
			return true;
		}
	}
	free(dirs);
	return false;
}

static int
add_arg(struct sshproc *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
add_arg(struct sshproc *p, const char *fmt, ...)
{
	va_list	 ap;
	int	 rc;

	if (p->argc >= SSHPROC_ARGS - 8)	/* room for the last words */
		return -1;
	va_start(ap, fmt);
	rc = vasprintf(&p->argv[p->argc], fmt, ap);
	va_end(ap);
	if (rc < 0) {
		p->argv[p->argc] = NULL;
		return -1;
	}
	p->argc++;
	return 0;
}

/* The options every ssh of this connection gets.  Values go in double
 * quotes where ssh takes a list, so that a path with blanks stays one. */
static int
build_args(struct sshproc *p, const struct sshproc_opts *o,
    struct ts_error *err)
{
	char	*words[SSHPROC_ARGS / 2];
	int	 n, i;

	if ((p->rsh_copy = strdup(o->rsh != NULL ? o->rsh : "ssh")) == NULL)
		return error_set(err, TS_ENOMEM, "out of memory");
	n = split_words(p->rsh_copy, words, SSHPROC_ARGS / 2);
	if (n <= 0)
		return error_set(err, TS_EINVAL, "bad --rsh \"%s\": expected a "
		    "command such as \"ssh -p 2222\"", o->rsh);
	for (i = 0; i < n; i++)
		if (add_arg(p, "%s", words[i]) != 0)
			goto nomem;
	/* No X11 or agent forwarding, no terminal; never a prompt: a
	 * background job must fail, not wait for someone to type.  With a
	 * passphrase callback, key passphrases (only) go through it. */
	if (add_arg(p, "-x") != 0 || add_arg(p, "-a") != 0 ||
	    add_arg(p, "-T") != 0 || (o->compress && add_arg(p, "-C") != 0))
		goto nomem;
	if (o->passphrase == NULL && add_arg(p, "-oBatchMode=yes") != 0)
		goto nomem;
	if (o->passphrase != NULL &&
	    (add_arg(p, "-oPasswordAuthentication=no") != 0 ||
	    add_arg(p, "-oKbdInteractiveAuthentication=no") != 0))
		goto nomem;
	if (o->config != NULL && (add_arg(p, "-F") != 0 ||
	    add_arg(p, "%s", o->config) != 0))
		goto nomem;
	if (o->port != 0 && (add_arg(p, "-p") != 0 ||
	    add_arg(p, "%d", o->port) != 0))
		goto nomem;
	if (o->user != NULL && (add_arg(p, "-l") != 0 ||
	    add_arg(p, "%s", o->user) != 0))
		goto nomem;
	if (o->identity != NULL && (add_arg(p, "-i") != 0 ||
	    add_arg(p, "%s", o->identity) != 0 ||
	    add_arg(p, "-oIdentitiesOnly=yes") != 0))
		goto nomem;
	if (o->known_hosts != NULL &&
	    add_arg(p, "-oUserKnownHostsFile=\"%s\"", o->known_hosts) != 0)
		goto nomem;
	/* Unknown hosts: ssh's "ask" is a refusal in batch mode, as ours. */
	if (o->accept_new &&
	    add_arg(p, "-oStrictHostKeyChecking=accept-new") != 0)
		goto nomem;
	if (o->connect_timeout_s > 0 &&
	    add_arg(p, "-oConnectTimeout=%d", o->connect_timeout_s) != 0)
		goto nomem;
	if (o->keepalive_s > 0 &&
	    add_arg(p, "-oServerAliveInterval=%d", o->keepalive_s) != 0)
		goto nomem;
	return 0;
nomem:
	return error_set(err, TS_ENOMEM, "too many words in the ssh command");
}

/* Only spaces and carriage returns: a remote program clearing its
 * progress line (xxhsum does, over big files), nothing said. */
static bool
blank(const char *s, size_t n)
{
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\r'))
		n--;
	return n == 0;
}

/* Logs what ssh said, a line at a time, for -vv. */
static void
log_stderr(struct sshproc *p, bool all)
{
	char	*nl;
	size_t	 n;

	while (p->err_logged < p->err_len) {
		nl = memchr(p->err + p->err_logged, '\n',
		    p->err_len - p->err_logged);
		if (nl == NULL && !all)
			break;
		n = nl != NULL ? (size_t)(nl - (p->err + p->err_logged)) :
		    p->err_len - p->err_logged;
		if (n > 0 && p->err[p->err_logged + n - 1] == '\r')
			n--;
		if (n > 0 && !blank(p->err + p->err_logged, n))
			log_msg(TS_LOG_DEBUG, "ssh: %.*s", (int)n,
			    p->err + p->err_logged);
		p->err_logged += n + (nl != NULL ? 1 : 0);
		if (p->err[p->err_logged - (nl != NULL ? 1 : 0)] == '\r')
			p->err_logged++;
		if (p->err_logged > p->err_len)
			p->err_logged = p->err_len;
	}
}

/* Reads what ssh wrote to stderr so far.  The first SSHPROC_ERRMAX bytes
 * are kept: ssh says why it failed before it exits, and little else. */
static void
drain_stderr(int *fd, char *buf, size_t *len, size_t cap)
{
	char	 tmp[1024];
	ssize_t	 n;
	size_t	 k;

	while (*fd != -1) {
		n = read(*fd, tmp, sizeof(tmp));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			close(*fd);
			*fd = -1;
			return;
		}
		k = (size_t)n < cap - *len ? (size_t)n : cap - *len;
		memcpy(buf + *len, tmp, k);
		*len += k;
	}
}

static void
proc_drain(struct sshproc *p)
{
	drain_stderr(&p->errfd, p->err, &p->err_len, sizeof(p->err) - 1);
	log_stderr(p, p->errfd == -1);
}

/*
 * Starts argv with the stream on a new socket pair (*fd: our end) and
 * stderr on a new pipe (*errfd).  ssh gets a process group of its own, so
 * that the terminal's Ctrl-C reaches only us: we still need it to remove
 * our temporary files.  Returns 0 with *pid set.
 */
static int
spawn(char *const *argv, char *const *envp, pid_t *pid, int *fd, int *errfd,
    struct ts_error *err)
{
	posix_spawn_file_actions_t	 fa;
	posix_spawnattr_t		 at;
	sigset_t			 none, def;
	int				 sv[2] = { -1, -1 }, ep[2] = { -1, -1 };
	int				 rc;

	*fd = *errfd = -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0 ||
	    pipe2(ep, O_CLOEXEC) != 0) {
		rc = error_set_errno(err, errno, "cannot start ssh: "
		    "socketpair");
		goto fail;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, sv[1], 0);
	posix_spawn_file_actions_adddup2(&fa, sv[1], 1);
	posix_spawn_file_actions_adddup2(&fa, ep[1], 2);
	/* Nothing else of ours: another connection's stream held open by
	 * this ssh would never see its end. */
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	posix_spawnattr_init(&at);
	sigemptyset(&none);
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);	/* the CLI ignores it; ssh must not */
	sigaddset(&def, SIGINT);
	sigaddset(&def, SIGTERM);
	sigaddset(&def, SIGHUP);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &def);
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK |
	    POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
	rc = posix_spawnp(pid, argv[0], &fa, &at, argv,
	    envp != NULL ? envp : environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (rc != 0) {
		/* No session could be set up: a connection failure. */
		rc = error_set(err, TS_ECONN, "cannot start \"%s\": %s%s",
		    argv[0], strerror(rc), rc == ENOENT ? " (install OpenSSH's "
		    "client, or use --transport libssh2)" : "");
		goto fail;
	}
	close(sv[1]);
	close(ep[1]);
	fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
	fcntl(ep[0], F_SETFL, fcntl(ep[0], F_GETFL) | O_NONBLOCK);
	*fd = sv[0];
	*errfd = ep[0];
	return 0;
fail:
	if (sv[0] != -1) {
		close(sv[0]);
		close(sv[1]);
	}
	if (ep[0] != -1) {
		close(ep[0]);
		close(ep[1]);
	}
	return rc;
}

/* Reaps pid, waiting up to ms, then TERM and KILL: never a zombie, never
 * a long wait for an ssh that hangs. */
static int
reap(pid_t pid, int ms)
{
	long long	 end = now_ms() + ms;
	int		 st = 0, sig = SIGTERM;
	pid_t		 r;

	for (;;) {
		r = waitpid(pid, &st, WNOHANG);
		if (r == pid || (r == -1 && errno != EINTR))
			return r == pid ? st : -1;
		if (r == 0 && now_ms() >= end) {
			kill(pid, sig);
			sig = SIGKILL;
			end = now_ms() + 1000;
		}
		usleep(2000);
	}
}

static void
dir_unlink(struct sshproc *p, const char *name)
{
	char	 path[112];

	snprintf(path, sizeof(path), "%s/%s", p->dir, name);
	unlink(path);
}

static void
free_env(char **env)
{
	size_t	 i;

	if (env == NULL)
		return;
	for (i = 0; env[i] != NULL; i++)
		if (strncmp(env[i], "SSH_ASKPASS", 11) == 0)
			free(env[i]);
	free(env);
}

/*
 * The passphrase bridge: ssh runs DIR/askpass with the prompt; the script
 * hands the prompt over the FIFO DIR/q and prints what comes back on DIR/a
 * (nothing: it fails, and ssh takes that as no).  We hold DIR/q open for
 * reading and writing, so that poll() sees its data and never its end.
 * *envp: environ with SSH_ASKPASS set and forced (OpenSSH 8.4 and later).
 */
static int
askpass_setup(struct sshproc *p, char ***envp, struct ts_error *err)
{
	static const char script[] = "#!/bin/sh\n"
	    "# treesync: a key passphrase, asked through treesync.\n"
	    "printf '%%s\\n' \"$1\" >%s/q || exit 1\n"
	    "a=$(cat %s/a) || exit 1\n"
	    "[ -n \"$a\" ] || exit 1\n"
	    "printf '%%s\\n' \"$a\"\n";
	char		 path[112], **env;
	size_t		 n = 0, i, k = 0;
	FILE		*f;
	int		 fd;

	*envp = NULL;
	snprintf(path, sizeof(path), "%s/askpass", p->dir);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0700)) == -1 || (f = fdopen(fd, "w")) == NULL) {
		if (fd != -1)
			close(fd);
		return error_set_errno(err, errno, "create \"%s\"", path);
	}
	fprintf(f, script, p->dir, p->dir);
	if (fclose(f) != 0)
		return error_set_errno(err, errno, "write \"%s\"", path);
	snprintf(path, sizeof(path), "%s/q", p->dir);
	if (mkfifo(path, 0600) != 0 ||
	    (p->askfd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC)) == -1)
		return error_set_errno(err, errno, "mkfifo \"%s\"", path);
	snprintf(path, sizeof(path), "%s/a", p->dir);
	if (mkfifo(path, 0600) != 0)
		return error_set_errno(err, errno, "mkfifo \"%s\"", path);
	while (environ[n] != NULL)
		n++;
	if ((env = calloc(n + 3, sizeof(*env))) == NULL)
		return error_set(err, TS_ENOMEM, "out of memory");
	for (i = 0; i < n; i++)
		if (strncmp(environ[i], "SSH_ASKPASS", 11) != 0)
			env[k++] = environ[i];
	if (asprintf(&env[k], "SSH_ASKPASS=%s/askpass", p->dir) < 0) {
		env[k] = NULL;
		free_env(env);
		return error_set(err, TS_ENOMEM, "out of memory");
	}
	if ((env[++k] = strdup("SSH_ASKPASS_REQUIRE=force")) == NULL) {
		free_env(env);
		return error_set(err, TS_ENOMEM, "out of memory");
	}
	*envp = env;
	return 0;
}

/*
 * ssh asked something through the bridge: a key's passphrase goes to the
 * caller's callback (which asks once per key, however many connections
 * ask); anything else (a new host key, a password) is answered no.
 */
static void
askpass_answer(struct sshproc *p)
{
	char		 q[1024], pass[1024], key[1024], path[112];
	const char	*a, *b;
	ssize_t		 n;
	size_t		 len = 0;
	int		 fd = -1, i;

	while ((n = read(p->askfd, q + len, sizeof(q) - 1 - len)) > 0)
		len += (size_t)n;
	q[len] = '\0';
	if (len == 0)
		return;
	pass[0] = '\0';
	/* "Enter passphrase for key '/home/u/.ssh/id_ed25519': " */
	if (strstr(q, "passphrase") != NULL && (a = strchr(q, '\'')) != NULL &&
	    (b = strrchr(q, '\'')) != NULL && b > a + 1 &&
	    (size_t)(b - a - 1) < sizeof(key)) {
		memcpy(key, a + 1, (size_t)(b - a - 1));
		key[b - a - 1] = '\0';
		if (p->passphrase(key, pass, sizeof(pass),
		    p->passphrase_payload) != 0)
			pass[0] = '\0';
	}
	pass[strcspn(pass, "\n")] = '\0';
	/* The script opens DIR/a right after writing the question. */
	snprintf(path, sizeof(path), "%s/a", p->dir);
	for (i = 0; i < 2500 && (fd = open(path, O_WRONLY | O_NONBLOCK |
	    O_CLOEXEC)) == -1 && errno == ENXIO; i++)
		usleep(2000);
	if (fd != -1) {
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
		strcat(pass, "\n");
		(void)write(fd, pass, strlen(pass));
		close(fd);
	}
	explicit_bzero(pass, sizeof(pass));
}

/*
 * Removes the private directories that killed treesyncs left in tmp (a
 * SIGKILL runs no clean-up): those named for a pid that no longer runs.
 * A live one's, or one whose pid was reused, stays.
 */
static void
sweep_dirs(const char *tmp)
{
	static const char *const names[] = { "c", "q", "a", "askpass" };
	struct dirent	*de;
	struct stat	 st;
	char		 path[160], *end;
	long		 pid;
	size_t		 i;
	DIR		*d;

	if ((d = opendir(tmp)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "treesync-", 9) != 0)
			continue;
		pid = strtol(de->d_name + 9, &end, 10);
		if (end == de->d_name + 9 || *end != '-' || strlen(end) != 7 ||
		    pid <= 0 || pid == (long)getpid() ||
		    kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		snprintf(path, sizeof(path), "%s/%s", tmp, de->d_name);
		if (lstat(path, &st) != 0 || !S_ISDIR(st.st_mode) ||
		    st.st_uid != getuid())
			continue;
		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			snprintf(path, sizeof(path), "%s/%s/%s", tmp,
			    de->d_name, names[i]);
			unlink(path);
		}
		snprintf(path, sizeof(path), "%s/%s", tmp, de->d_name);
		rmdir(path);
	}
	closedir(d);
}

/* -vv: the command line ssh runs with, words joined by spaces (debug
 * only: a word with a space in it reads ambiguously). */
static void
log_args(const struct sshproc *p)
{
	char	 line[2048];
	size_t	 used = 0;
	int	 i, n;

	line[0] = '\0';
	for (i = 0; i < p->argc && used < sizeof(line); i++) {
		n = snprintf(line + used, sizeof(line) - used, "%s%s",
		    i > 0 ? " " : "", p->argv[i]);
		if (n < 0)
			break;
		used += (size_t)n;
	}
	log_msg(TS_LOG_DEBUG, "running: %s", line);
}

/* The mux key: every word of the command line, and the host. */
static char *
mux_key(const struct sshproc *p)
{
	size_t	 len = strlen(p->host) + 1, at = 0;
	char	*key;
	int	 i;

	for (i = 0; i < p->argc; i++)
		len += strlen(p->argv[i]) + 1;
	if ((key = malloc(len)) == NULL)
		return NULL;
	for (i = 0; i < p->argc; i++)
		at += (size_t)sprintf(key + at, "%s\n", p->argv[i]);
	strcpy(key + at, p->host);
	return key;
}

/* Under mux_mu: no new connection rides m. */
static void
mux_unlist(struct sshmux *m)
{
	struct sshmux	**pp;

	for (pp = &mux_list; *pp != NULL; pp = &(*pp)->next)
		if (*pp == m) {
			*pp = m->next;
			break;
		}
	m->listed = false;
}

/*
 * p rides the master listed for its command line when that one's socket
 * is up (its login is done) and it has room; otherwise p becomes a master
 * itself, listed unless another is still logging in (or no_mux: it is a master for
 * itself only, its remote commands ride it).  tmp: where its directory
 * goes.
 */
static int
mux_join(struct sshproc *p, const char *tmp, bool no_mux,
    struct ts_error *err)
{
	struct sshmux	*m, *n;
	struct stat	 st;
	char		*key;
	bool		 full;
	int		 rc;

	if ((key = mux_key(p)) == NULL)
		return error_set(err, TS_ENOMEM, "out of memory");
	pthread_mutex_lock(&mux_mu);
	for (m = mux_list; m != NULL && !no_mux; m = m->next)
		if (strcmp(m->key, key) == 0)
			break;
	full = m != NULL && m->users >= SSHPROC_MUX_USERS;
	if (m != NULL && !full && lstat(m->ctl, &st) == 0 &&
	    S_ISSOCK(st.st_mode)) {
		m->users++;
		pthread_mutex_unlock(&mux_mu);
		free(key);
		p->mux = m;
		return 0;
	}
	if ((n = calloc(1, sizeof(*n))) == NULL) {
		rc = error_set(err, TS_ENOMEM, "out of memory");
		goto fail;
	}
	snprintf(n->dir, sizeof(n->dir), "%s/treesync-%ld-XXXXXX", tmp,
	    (long)getpid());
	if (mkdtemp(n->dir) == NULL) {
		rc = error_set_errno(err, errno, "mkdtemp \"%s\"", n->dir);
		free(n);
		goto fail;
	}
	snprintf(n->ctl, sizeof(n->ctl), "%s/c", n->dir);
	n->key = key;
	n->users = 1;
	n->master = -1;
	if (full)
		mux_unlist(m);
	if ((m == NULL || full) && !no_mux) {
		n->next = mux_list;
		mux_list = n;
		n->listed = true;
	}
	pthread_mutex_unlock(&mux_mu);
	p->mux = n;
	p->is_master = true;
	return 0;
fail:
	pthread_mutex_unlock(&mux_mu);
	free(key);
	return rc;
}

/*
 * The master p's own connection ends: no new connection rides it.  If
 * others still do, its ssh stays for them (it exits once their sessions
 * end) and the last to leave reaps it; then p->pid is -1 and true is
 * returned.
 */
static bool
mux_master_leaves(struct sshproc *p)
{
	struct sshmux	*m = p->mux;
	bool		 handed = false;

	if (m == NULL || !p->is_master)
		return false;
	pthread_mutex_lock(&mux_mu);
	if (m->listed)
		mux_unlist(m);
	if (m->users > 1 && p->pid != -1) {
		m->master = p->pid;
		p->pid = -1;
		handed = true;
	}
	pthread_mutex_unlock(&mux_mu);
	return handed;
}

/* p is done with its mux: the last one out reaps a master left running
 * and removes the directory. */
/* A rider that says goodbye while others are still on its master: its
 * ssh is left to the last of them to reap (sshmux.rider). */
static void
mux_rider_leaves(struct sshproc *p)
{
	struct sshmux	*m = p->mux;

	if (m == NULL || p->is_master || p->pid == -1)
		return;
	pthread_mutex_lock(&mux_mu);
	if (m->users > 1 && m->nriders < SSHPROC_MUX_USERS) {
		m->rider[m->nriders] = p->pid;
		m->rider_err[m->nriders++] = p->errfd;
		p->pid = -1;
		p->errfd = -1;
	}
	pthread_mutex_unlock(&mux_mu);
}

static void
mux_leave(struct sshproc *p)
{
	struct sshmux	*m = p->mux;
	bool		 last;

	if (m == NULL)
		return;
	p->mux = NULL;
	pthread_mutex_lock(&mux_mu);
	last = --m->users == 0;
	if (last && m->listed)
		mux_unlist(m);
	pthread_mutex_unlock(&mux_mu);
	if (!last)
		return;
	if (m->master != -1)
		(void)reap(m->master, 2000);
	for (int i = 0; i < m->nriders; i++) {
		(void)reap(m->rider[i], 2000);
		if (m->rider_err[i] != -1)
			close(m->rider_err[i]);
	}
	unlink(m->ctl);		/* a killed master leaves it */
	rmdir(m->dir);
	free(m->key);
	free(m);
}

void
sshproc_retire(struct sshproc *p)
{
	if (p->mux == NULL)
		return;
	pthread_mutex_lock(&mux_mu);
	if (p->mux->listed)
		mux_unlist(p->mux);
	pthread_mutex_unlock(&mux_mu);
}

int
sshproc_start(struct sshproc **out, const struct sshproc_opts *o,
    struct ts_error *err)
{
	struct sshproc	*p;
	const char	*tmp = getenv("TMPDIR");
	char		**env = NULL;
	int		 rc, k;

	*out = NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return error_set(err, TS_ENOMEM, "out of memory");
	p->pid = -1;
	p->fd = p->errfd = p->askfd = -1;
	if ((p->host = strdup(o->host)) == NULL) {
		rc = error_set(err, TS_ENOMEM, "out of memory");
		goto fail;
	}
	if ((rc = build_args(p, o, err)) != 0)
		goto fail;
	/* A socket path is short (sun_path): a long TMPDIR cannot hold it;
	 * the askpass script names the directory without quoting. */
	if (tmp == NULL || *tmp != '/' || strlen(tmp) > 40 ||
	    strspn(tmp, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789/._-") != strlen(tmp))
		tmp = "/tmp";
	sweep_dirs(tmp);
	if (o->passphrase != NULL) {
		snprintf(p->dir, sizeof(p->dir), "%s/treesync-%ld-XXXXXX",
		    tmp, (long)getpid());
		if (mkdtemp(p->dir) == NULL) {
			rc = error_set_errno(err, errno, "mkdtemp \"%s\"",
			    p->dir);
			p->dir[0] = '\0';
			goto fail;
		}
	}
	/* Our own control masters, never the user's ControlPath: a master
	 * there may outlive us, or belong to a session the user ends. */
	if ((rc = mux_join(p, tmp, o->no_mux, err)) != 0)
		goto fail;
	if (!p->is_master)
		log_msg(TS_LOG_DEBUG, "a session on the control master of "
		    "\"%s\", no new login", o->host);
	k = p->argc;
	if (p->is_master && p->argc < SSHPROC_ARGS - 16) {
		char	*ciphers, *proxy;

		ssh_master_words(p->argv, p->argc, o->host, p->mux->key,
		    o->connect_helper, &ciphers, &proxy);
		if (ciphers != NULL)
			p->argv[p->argc++] = ciphers;
		if (proxy != NULL) {
			p->argv[p->argc++] = proxy;
			if (add_arg(p, "-oProxyUseFdpass=yes") != 0) {
				rc = error_set(err, TS_ENOMEM, "out of memory");
				goto fail;
			}
		}
	}
	if (add_arg(p, "-oControlMaster=%s", p->is_master ? "yes" : "no") !=
	    0 || add_arg(p, "-oControlPath=\"%s\"", p->mux->ctl) != 0 ||
	    (p->is_master && add_arg(p, "-oControlPersist=no") != 0) ||
	    add_arg(p, "-s") != 0 || add_arg(p, "--") != 0 ||
	    add_arg(p, "%s", o->host) != 0 || add_arg(p, "sftp") != 0) {
		rc = error_set(err, TS_ENOMEM, "out of memory");
		goto fail;
	}
	p->argv[p->argc] = NULL;
	log_args(p);
	if (o->passphrase != NULL) {
		if ((rc = askpass_setup(p, &env, err)) != 0)
			goto fail;
		p->passphrase = o->passphrase;
		p->passphrase_payload = o->passphrase_payload;
	}
	rc = spawn(p->argv, env, &p->pid, &p->fd, &p->errfd, err);
	free_env(env);
	/* Keep only the common words, for the commands. */
	while (p->argc > k)
		free(p->argv[--p->argc]);
	p->argv[p->argc] = NULL;
	if (rc != 0)
		goto fail;
	*out = p;
	return 0;
fail:
	sshproc_free(p, true);
	return rc;
}

void
sshproc_hangup(struct sshproc *p)
{
	if (p != NULL && p->fd != -1) {
		close(p->fd);	/* the end of its stdin: ssh says goodbye */
		p->fd = -1;
	}
}

void
sshproc_free(struct sshproc *p, bool broken)
{
	int	 i;

	if (p == NULL)
		return;
	sshproc_hangup(p);
	(void)mux_master_leaves(p);
	if (!broken)
		mux_rider_leaves(p);
	if (p->pid != -1) {
		if (broken)
			kill(p->pid, SIGTERM);
		p->status = reap(p->pid, 2000);
		p->pid = -1;
	}
	if (p->errfd != -1)
		close(p->errfd);
	if (p->askfd != -1)
		close(p->askfd);
	mux_leave(p);
	if (p->dir[0] != '\0') {
		dir_unlink(p, "askpass");
		dir_unlink(p, "q");
		dir_unlink(p, "a");
		rmdir(p->dir);
	}
	for (i = 0; i < p->argc; i++)
		free(p->argv[i]);
	free(p->rsh_copy);
	free(p->host);
	free(p);
}

ssize_t
sshproc_write(struct sshproc *p, const void *data, size_t len)
{
	ssize_t	 n;

	if (p->fd == -1)
		return SSHPROC_DEAD;
	do {
		n = send(p->fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	if (n >= 0) {
		p->out_blocked = (size_t)n < len;
		return n;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
		p->out_blocked = true;
		return LIBSSH2_ERROR_EAGAIN;
	}
	return SSHPROC_DEAD;
}

ssize_t
sshproc_read(struct sshproc *p, void *data, size_t len)
{
	ssize_t	 n;

	if (p->fd == -1)
		return SSHPROC_DEAD;
	do {
		n = recv(p->fd, data, len, MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	if (n > 0)
		return n;
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return LIBSSH2_ERROR_EAGAIN;
	/* The end of the stream is the end of ssh, for the SFTP engine. */
	return SSHPROC_DEAD;
}

int
sshproc_poll_prepare(struct sshproc *p, bool want_read, struct pollfd *pfd)
{
	int	 n = 0;

	pfd[n].fd = p->fd;
	pfd[n].events = (want_read || !p->out_blocked ? POLLIN : 0) |
	    (p->out_blocked ? POLLOUT : 0);
	pfd[n++].revents = 0;
	if (p->errfd != -1) {
		pfd[n].fd = p->errfd;
		pfd[n].events = POLLIN;
		pfd[n++].revents = 0;
	}
	if (p->askfd != -1) {
		pfd[n].fd = p->askfd;
		pfd[n].events = POLLIN;
		pfd[n++].revents = 0;
	}
	return n;
}

void
sshproc_polled(struct sshproc *p, const struct pollfd *pfd, int n)
{
	int	 i;

	for (i = 1; i < n; i++) {
		if (pfd[i].revents == 0)
			continue;
		if (pfd[i].fd == p->errfd)
			proc_drain(p);
		else if (pfd[i].fd == p->askfd)
			askpass_answer(p);
	}
}

/* Whether line (len bytes) contains s, ignoring case. */
static bool
line_has(const char *line, size_t len, const char *s)
{
	size_t	 n = strlen(s), i;

	for (i = 0; i + n <= len; i++)
		if (strncasecmp(line + i, s, n) == 0)
			return true;
	return false;
}

/*
 * Finds in ssh's stderr a line with one of the words, trying the words in
 * order (NULL ends the list), or with none given the first line that is
 * neither a banner of '@' nor a warning; returns its length, *line at it.
 */
static size_t
find_line(const char *buf, size_t len, const char *const *words,
    const char **line)
{
	const char	*p, *end = buf + len, *nl;
	size_t		 n, i;

	for (i = 0; words == NULL ? i == 0 : words[i] != NULL; i++)
		for (p = buf; p < end; p = nl + 1) {
			if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
				nl = end;
			n = (size_t)(nl - p);
			if (n > 0 && p[n - 1] == '\r')
				n--;
			if (n == 0 || *p == '@')
				continue;
			/* A failed mux session is followed by ssh's own
			 * login: its words are not the reason. */
			if (words == NULL ? strncmp(p, "Warning:", 8) == 0 ||
			    strncmp(p, "debug", 5) == 0 ||
			    strncmp(p, "mux_client", 10) == 0 ||
			    strncmp(p, "Control socket", 14) == 0 :
			    !line_has(p, n, words[i]))
				continue;
			*line = p;
			return n;
		}
	return 0;
}

/* What ssh's exit says, from its stderr: the code, the line to quote and
 * maybe a second one (*line2, *n2). */
static int
classify(const char *buf, size_t len, const char **line, size_t *n,
    const char **line2, size_t *n2, const char **hint)
{
	static const char *const changed[] = { "Offending", "has changed",
	    NULL };
	static const char *const revoked[] = { "revoked", NULL };
	static const char *const unknown[] = { "host key is known",
	    "Host key verification failed", NULL };
	static const char *const auth[] = { "Permission denied",
	    "Too many authentication failures", NULL };
	static const char *const key[] = { "Identity file", "Load key",
	    "passphrase", "no mutual signature", NULL };
	static const char *const config[] = { "Bad configuration option",
	    "Unsupported option", "Can't open user config", "line ", NULL };
	static const char *const subsys[] = { "subsystem request failed",
	    NULL };

	*hint = "";
	*n2 = 0;
	if ((*n = find_line(buf, len, revoked, line)) != 0)
		return TS_EHOSTKEY;
	if ((*n = find_line(buf, len, changed, line)) != 0) {
		*hint = "; the host key changed: if that was expected, remove "
		    "the old one from known_hosts";
		return TS_EHOSTKEY;
	}
	if ((*n = find_line(buf, len, unknown, line)) != 0) {
		*hint = "; to trust it on first use, run again with "
		    "--accept-new";
		return TS_EHOSTKEY;
	}
	if ((*n = find_line(buf, len, auth, line)) != 0) {
		*n2 = find_line(buf, len, key, line2);
		*hint = " (ssh runs in batch mode: a key with a passphrase "
		    "must be in ssh-agent)";
		return TS_EAUTH;
	}
	if ((*n = find_line(buf, len, subsys, line)) != 0) {
		*hint = "; is SFTP enabled on the server?";
		return TS_EREMOTE;
	}
	if ((*n = find_line(buf, len, config, line)) != 0 &&
	    !line_has(*line, *n, "connect to host"))
		return TS_EINVAL;
	*n = find_line(buf, len, NULL, line);
	return TS_ECONN;
}

int
sshproc_error(struct sshproc *p, const char *host, const char *what,
    struct ts_error *err)
{
	const char	*line = NULL, *line2 = NULL, *hint;
	size_t		 n, n2;
	int		 code, st;

	if (p->fd != -1) {
		close(p->fd);
		p->fd = -1;
	}
	/* A master that others still ride lives on: what it said so far is
	 * all there is to quote. */
	if (mux_master_leaves(p))
		proc_drain(p);
	if (p->pid != -1) {
		/* Its stderr ends when it exits: read all it says. */
		while (p->errfd != -1) {
			struct pollfd	 pfd = { p->errfd, POLLIN, 0 };

			if (poll(&pfd, 1, 5000) <= 0)
				break;
			proc_drain(p);
		}
		p->status = reap(p->pid, 2000);
		p->pid = -1;
	}
	proc_drain(p);
	st = p->status;
	code = classify(p->err, p->err_len, &line, &n, &line2, &n2, &hint);
	if (code == TS_EAUTH && p->passphrase != NULL)
		hint = "";	/* not in batch mode: a passphrase was asked */
	if (n == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return error_set(err, TS_ECONN, "the SFTP server on \"%s\" "
		    "closed the session", host);
	if (n == 0 && WIFSIGNALED(st))
		return error_set(err, TS_ECONN, "%s on \"%s\": ssh was killed "
		    "by signal %d", what, host, WTERMSIG(st));
	if (n == 0)
		return error_set(err, TS_ECONN, "%s on \"%s\": ssh exited with "
		    "status %d and said nothing", what, host,
		    WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	if (n2 != 0)
		return error_set(err, code, "ssh to \"%s\" said \"%.*s\" and "
		    "\"%.*s\"%s", host, (int)n, line, (int)n2, line2, hint);
	return error_set(err, code, "ssh to \"%s\" said \"%.*s\"%s", host,
	    (int)n, line, hint);
}

int
sshproc_exec_start(struct sshproc *p, const char *cmd, struct sshproc **out,
    struct ts_error *err)
{
	struct sshproc	*c;		/* the command's ssh, as a stream */
	char		 ctl[128];
	char		*argv[SSHPROC_ARGS + 8];
	int		 i, k = 0, rc;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return error_set(err, TS_ENOMEM, "out of memory");
	c->pid = -1;
	c->fd = c->errfd = c->askfd = -1;
	for (i = 0; i < p->argc; i++)
		argv[k++] = p->argv[i];
	/* The master of our own connection; if it is gone, ssh logs in. */
	snprintf(ctl, sizeof(ctl), "-oControlPath=\"%s\"", p->mux->ctl);
	argv[k++] = "-oControlMaster=no";
	argv[k++] = ctl;
	/* Never a question from a command's ssh: it has no bridge. */
	argv[k++] = "-oBatchMode=yes";
	argv[k++] = "--";
	argv[k++] = p->host;
	argv[k++] = (char *)cmd;
	argv[k] = NULL;
	if ((rc = spawn(argv, NULL, &c->pid, &c->fd, &c->errfd, err)) != 0) {
		free(c);
		return rc;
	}
	*out = c;
	return 0;
}

void
sshproc_exec_drop(struct sshproc *c)
{
	if (c == NULL)
		return;
	if (c->fd != -1)
		close(c->fd);
	if (c->pid != -1) {
		kill(c->pid, SIGTERM);
		(void)reap(c->pid, 1000);
	}
	if (c->errfd != -1)
		close(c->errfd);
	free(c);
}

int
sshproc_exec_finish(struct sshproc *p, struct sshproc *c, const void *in,
    size_t inlen, struct buf *out, int *exit_status, int timeout_ms,
    int cancel_fd, struct ts_error *err)
{
	struct pollfd	 pfd[SSHPROC_POLL_MAX + 1];
	char		 tmp[16384];
	size_t		 sent = 0;
	ssize_t		 n;
	int		 rc, np, st;

	*exit_status = -1;
	if (inlen == 0)
		shutdown(c->fd, SHUT_WR);
	/* Feed stdin and drain stdout together, so that neither side waits
	 * on a full buffer. */
	for (;;) {
		bool	 progress = false;

		if (sent < inlen) {
			n = sshproc_write(c, (const char *)in + sent,
			    inlen - sent);
			if (n > 0) {
				sent += (size_t)n;
				progress = true;
			} else if (n == SSHPROC_DEAD)
				sent = inlen;	/* it may not read it all */
			if (sent == inlen)
				shutdown(c->fd, SHUT_WR);
		}
		n = sshproc_read(c, tmp, sizeof(tmp));
		if (n > 0) {
			if (buf_append(out, tmp, (size_t)n) != 0) {
				rc = error_set(err, TS_EREMOTE, "command "
				    "output from \"%s\" is too large", p->host);
				goto out;
			}
			continue;
		}
		if (n == SSHPROC_DEAD)
			break;		/* the end of its stdout */
		if (progress)
			continue;
		np = sshproc_poll_prepare(c, true, pfd);
		if (sent == inlen)
			pfd[0].events = POLLIN;
		pfd[np].fd = cancel_fd;
		pfd[np].events = POLLIN;
		pfd[np].revents = 0;
		do {
			rc = poll(pfd, (nfds_t)(np + (cancel_fd != -1)),
			    timeout_ms);
		} while (rc == -1 && errno == EINTR);
		if (rc == 0) {
			rc = error_set(err, TS_ECONN, "a command on \"%s\" did "
			    "not answer for %d s (see --timeout)", p->host,
			    timeout_ms / 1000);
			goto out;
		}
		if (cancel_fd != -1 && pfd[np].revents != 0) {
			rc = error_set(err, TS_ECANCELED, "connection to "
			    "\"%s\" abandoned", p->host);
			goto out;
		}
		sshproc_polled(c, pfd, np);
	}
	close(c->fd);
	c->fd = -1;
	while (c->errfd != -1) {
		struct pollfd	 e = { c->errfd, POLLIN, 0 };

		if (poll(&e, 1, timeout_ms) <= 0)
			break;
		proc_drain(c);
	}
	st = reap(c->pid, timeout_ms);
	c->pid = -1;
	/* 255 is ssh's own failure (OpenSSH ssh(1), EXIT STATUS). */
	if (WIFEXITED(st) && WEXITSTATUS(st) != 255) {
		*exit_status = WEXITSTATUS(st);
		rc = 0;
		goto out;
	}
	c->status = st;
	rc = sshproc_error(c, p->host, "command", err);
out:
	sshproc_exec_drop(c);
	return rc;
}

int
sshproc_exec(struct sshproc *p, const char *cmd, const void *in,
    size_t inlen, struct buf *out, int *exit_status, int timeout_ms,
    int cancel_fd, struct ts_error *err)
{
	struct sshproc	*c;
	int		 rc;

	*exit_status = -1;
	if ((rc = sshproc_exec_start(p, cmd, &c, err)) != 0)
		return rc;
	return sshproc_exec_finish(p, c, in, inlen, out, exit_status,
	    timeout_ms, cancel_fd, err);
}
