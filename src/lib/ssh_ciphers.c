/*
 * The openssh transport's cipher order.  OpenSSH proposes
 * chacha20-poly1305 first; on a CPU with AES and carry-less multiply
 * instructions AES-GCM costs about a third of its CPU (1 GiB through ssh:
 * 0.43 user seconds against 1.18), and a bulk transfer on a busy or small
 * machine is bound by that CPU.  So where nobody chose the ciphers (the
 * list ssh resolves for the host, config files and -e words applied, is
 * still its compiled default), the master's ssh gets the same list with
 * the AES-GCM ciphers moved first.  A config that names Ciphers, a -c in
 * -e, another CPU, or an ssh without -G: ssh's own order, untouched.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#include <asm/hwcap.h>
#endif

#include "log.h"
#include "ssh_ciphers.h"

extern char **environ;

#define CIPHERS_OUT_MAX	(64 * 1024)	/* ssh -G prints about 3 KiB */
#define CIPHERS_WAIT_MS	3000		/* a Match exec may run a command */

static bool
cpu_has_fast_gcm(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_cpu_init();
	return __builtin_cpu_supports("aes") &&
	    __builtin_cpu_supports("pclmul");
#elif defined(__aarch64__) && defined(__linux__)
	unsigned long	 hw = getauxval(AT_HWCAP);

	return (hw & HWCAP_AES) != 0 && (hw & HWCAP_PMULL) != 0;
#else
	return false;
#endif
}

/* A running "ssh ... -G": its pid and the read end of its stdout. */
struct resolver {
	pid_t	 pid;
	int	 fd;
	char	*out;
	size_t	 len;
};

static int
resolver_start(struct resolver *r, char *const *argv)
{
	posix_spawn_file_actions_t	 fa;
	int				 p[2], rc;

	r->pid = -1;
	r->fd = -1;
	r->out = NULL;
	r->len = 0;
	if (pipe2(p, O_CLOEXEC) != 0)
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	rc = posix_spawnp(&r->pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	if (rc != 0 || (r->out = malloc(CIPHERS_OUT_MAX + 1)) == NULL) {
		close(p[0]);
		r->pid = rc != 0 ? -1 : r->pid;
		return -1;
	}
	r->fd = p[0];
	return 0;
}

/* Reads both outputs to their ends, or until the time is up. */
static bool
resolvers_read(struct resolver *r, int n)
{
	struct pollfd	 pfd[2];
	ssize_t		 got;
	int		 i, k, open, waits = 0, rc, which[2];

	for (;;) {
		open = 0;
		for (i = 0; i < n; i++)
			if (r[i].fd != -1) {
				pfd[open].fd = r[i].fd;
				pfd[open].events = POLLIN;
				pfd[open].revents = 0;
				which[open++] = i;
			}
		if (open == 0)
			return true;
		/* A tenth of a second at a time: a signal cuts one short. */
		if ((rc = poll(pfd, (nfds_t)open, 100)) < 0 && errno != EINTR)
			return false;
		if (rc <= 0 && ++waits >= CIPHERS_WAIT_MS / 100)
			return false;
		if (rc <= 0)
			continue;
		for (k = 0; k < open; k++) {
			if (pfd[k].revents == 0)	/* a read would wait */
				continue;
			i = which[k];
			got = read(r[i].fd, r[i].out + r[i].len,
			    CIPHERS_OUT_MAX - r[i].len);
			if (got < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (got <= 0 || r[i].len + (size_t)got ==
			    CIPHERS_OUT_MAX) {
				close(r[i].fd);
				r[i].fd = -1;
			}
			if (got > 0)
				r[i].len += (size_t)got;
		}
	}
}

static bool
resolver_end(struct resolver *r, bool kill_it)
{
	int	 st = 0;

	if (r->fd != -1)
		close(r->fd);
	r->fd = -1;
	if (r->pid == -1)
		return false;
	if (kill_it)
		kill(r->pid, SIGKILL);
	while (waitpid(r->pid, &st, 0) == -1 && errno == EINTR)
		;
	r->pid = -1;
	return !kill_it && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* The value of the "ciphers" line of ssh -G's output, in place. */
static const char *
ciphers_line(struct resolver *r)
{
	char	*line, *save = NULL;

	r->out[r->len] = '\0';
	for (line = strtok_r(r->out, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save))
		if (strncmp(line, "ciphers ", 8) == 0)
			return line + 8;
	return NULL;
}

/* Whether the comma-separated list names c. */
static bool
list_has(const char *list, const char *c)
{
	size_t	 n = strlen(c);

	for (const char *p = list; (p = strstr(p, c)) != NULL; p += n)
		if ((p == list || p[-1] == ',') && (p[n] == ',' ||
		    p[n] == '\0'))
			return true;
	return false;
}

/* "-oCiphers=" and list with the AES-GCM ciphers first, or NULL. */
static char *
gcm_first(const char *list)
{
	static const char *const gcm[] = {
		"aes128-gcm@openssh.com", "aes256-gcm@openssh.com",
	};
	size_t	 cap = strlen(list) + 16, at;
	char	*opt, *copy, *w, *save = NULL;

	if (!list_has(list, gcm[0]))
		return NULL;
	if ((opt = malloc(cap)) == NULL || (copy = strdup(list)) == NULL) {
		free(opt);
		return NULL;
	}
	at = (size_t)snprintf(opt, cap, "-oCiphers=");
	for (size_t i = 0; i < sizeof(gcm) / sizeof(gcm[0]); i++)
		if (list_has(list, gcm[i]))
			at += (size_t)snprintf(opt + at, cap - at, "%s,",
			    gcm[i]);
	for (w = strtok_r(copy, ",", &save); w != NULL;
	    w = strtok_r(NULL, ",", &save))
		if (strcmp(w, gcm[0]) != 0 && strcmp(w, gcm[1]) != 0)
			at += (size_t)snprintf(opt + at, cap - at, "%s,", w);
	opt[at - 1] = '\0';		/* the last comma */
	free(copy);
	return opt;
}

/* One answer per command line: spares and reconnects ask again. */
static pthread_mutex_t	 cache_mu = PTHREAD_MUTEX_INITIALIZER;
static char		*cache_key;
static char		*cache_opt;

static char *
cache_get(const char *key, bool *hit)
{
	char	*opt = NULL;

	pthread_mutex_lock(&cache_mu);
	*hit = cache_key != NULL && strcmp(cache_key, key) == 0;
	if (*hit && cache_opt != NULL)
		opt = strdup(cache_opt);
	pthread_mutex_unlock(&cache_mu);
	return opt;
}

static void
cache_put(const char *key, const char *opt)
{
	pthread_mutex_lock(&cache_mu);
	free(cache_key);
	free(cache_opt);
	cache_key = strdup(key);
	cache_opt = opt != NULL ? strdup(opt) : NULL;
	pthread_mutex_unlock(&cache_mu);
}

char *
ssh_ciphers_prefer_gcm(char *const *words, int nwords, const char *host,
    const char *key)
{
	struct resolver	 r[2];
	char		*asked[nwords + 4], *plain[6];
	const char	*want, *dflt;
	char		*opt = NULL;
	bool		 hit, ok;
	int		 i;

	if (!cpu_has_fast_gcm())
		return NULL;
	opt = cache_get(key, &hit);
	if (hit)
		return opt;
	/* What ssh makes of this command line, and of none at all. */
	for (i = 0; i < nwords; i++)
		asked[i] = words[i];
	asked[i++] = "-G";
	asked[i++] = "--";
	asked[i++] = (char *)host;
	asked[i] = NULL;
	plain[0] = words[0];
	plain[1] = "-F";
	plain[2] = "none";
	plain[3] = "-G";
	plain[4] = "treesync-default";
	plain[5] = NULL;
	ok = resolver_start(&r[0], asked) == 0;
	ok = resolver_start(&r[1], plain) == 0 && ok;
	ok = ok && resolvers_read(r, 2);
	ok = resolver_end(&r[0], !ok) && ok;
	ok = resolver_end(&r[1], !ok) && ok;
	if (ok && (want = ciphers_line(&r[0])) != NULL &&
	    (dflt = ciphers_line(&r[1])) != NULL && strcmp(want, dflt) == 0)
		opt = gcm_first(want);
	free(r[0].out);
	free(r[1].out);
	if (opt != NULL)
		log_msg(TS_LOG_DEBUG, "asking ssh for AES-GCM first (%s): this "
		    "CPU has AES instructions and no Ciphers is set for \"%s\"",
		    opt + strlen("-oCiphers="), host);
	cache_put(key, opt);
	return opt;
}
