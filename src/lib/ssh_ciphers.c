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

/* The value of line "key value" of ssh -G's output, copied into buf;
 * false when there is none (or it does not fit). */
static bool
g_value(const char *text, const char *key, char *buf, size_t size)
{
	size_t		 n = strlen(key), len;
	const char	*p, *end;

	for (p = text; *p != '\0'; p = *end != '\0' ? end + 1 : end) {
		end = strchr(p, '\n');
		if (end == NULL)
			end = p + strlen(p);
		if ((size_t)(end - p) <= n || strncmp(p, key, n) != 0 ||
		    p[n] != ' ')
			continue;
		len = (size_t)(end - p) - n - 1;
		if (len >= size)
			return false;
		memcpy(buf, p + n + 1, len);
		buf[len] = '\0';
		return true;
	}
	return false;
}

/* Whether every byte of s is one of ok (and s is not empty). */
static bool
only(const char *s, const char *ok)
{
	return *s != '\0' && strspn(s, ok) == strlen(s);
}

#define ALNUM	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

/* Whether ssh can run a proxy command with $SHELL ("$SHELL -c 'exec
 * ...'"): not with nologin or false, as some service accounts have. */
static bool
shell_runs_commands(void)
{
	static const char *const ok[] = { "sh", "bash", "dash", "zsh", "ksh",
	    "mksh", "ash", "yash", "fish", "csh", "tcsh" };
	const char	*sh = getenv("SHELL"), *base;

	if (sh == NULL || *sh == '\0')
		return true;		/* ssh uses /bin/sh */
	base = strrchr(sh, '/') != NULL ? strrchr(sh, '/') + 1 : sh;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (strcmp(base, ok[i]) == 0)
			return true;
	return false;
}

/* "-oProxyCommand=HELPER --connect-fd ..." for the host ssh -G resolved
 * (text), or NULL where ssh must connect by itself: a proxy or jump
 * host, a source address, canonical names or the IP check (which a
 * proxy command turns off) are ssh's to do. */
static char *
direct_proxy(const char *text, const char *helper)
{
	char	 v[256], host[256], port[16] = "22", fam[16] = "any";
	char	 tmo[16] = "0", tries[16] = "1", alive[8] = "yes", *opt;

	if (!shell_runs_commands())
		return NULL;
	if ((g_value(text, "proxycommand", v, sizeof(v)) &&
	    strcmp(v, "none") != 0) ||
	    (g_value(text, "proxyjump", v, sizeof(v)) &&
	    strcmp(v, "none") != 0) ||
	    (g_value(text, "bindaddress", v, sizeof(v)) &&
	    strcmp(v, "none") != 0) ||
	    (g_value(text, "bindinterface", v, sizeof(v)) &&
	    strcmp(v, "none") != 0) ||
	    (g_value(text, "canonicalizehostname", v, sizeof(v)) &&
	    strcmp(v, "false") != 0 && strcmp(v, "no") != 0) ||
	    (g_value(text, "checkhostip", v, sizeof(v)) &&
	    strcmp(v, "yes") == 0))
		return NULL;
	if (!g_value(text, "hostname", host, sizeof(host)) ||
	    !only(host, ALNUM ".-_:") ||
	    (g_value(text, "port", port, sizeof(port)) &&
	    !only(port, "0123456789")) ||
	    (g_value(text, "addressfamily", fam, sizeof(fam)) &&
	    strcmp(fam, "any") != 0 && strcmp(fam, "inet") != 0 &&
	    strcmp(fam, "inet6") != 0) ||
	    (g_value(text, "connectionattempts", tries, sizeof(tries)) &&
	    !only(tries, "0123456789")) ||
	    (g_value(text, "tcpkeepalive", alive, sizeof(alive)) &&
	    strcmp(alive, "yes") != 0 && strcmp(alive, "no") != 0) ||
	    !only(helper, ALNUM "/._+-"))
		return NULL;
	if (g_value(text, "connecttimeout", tmo, sizeof(tmo)) &&
	    !only(tmo, "0123456789"))
		strcpy(tmo, "0");		/* "none" */
	if (asprintf(&opt, "-oProxyCommand=%s --connect-fd %s %s %s %s %s %s",
	    helper, host, port, fam, tmo, tries, alive) < 0)
		return NULL;
	return opt;
}

/* One answer per command line: spares and reconnects ask again. */
static pthread_mutex_t	 cache_mu = PTHREAD_MUTEX_INITIALIZER;
static char		*cache_key;
static char		*cache_ciphers, *cache_proxy;

static bool
cache_get(const char *key, char **ciphers, char **proxy)
{
	bool	 hit;

	pthread_mutex_lock(&cache_mu);
	hit = cache_key != NULL && strcmp(cache_key, key) == 0;
	if (hit) {
		*ciphers = cache_ciphers != NULL ? strdup(cache_ciphers) :
		    NULL;
		*proxy = cache_proxy != NULL ? strdup(cache_proxy) : NULL;
	}
	pthread_mutex_unlock(&cache_mu);
	return hit;
}

static void
cache_put(const char *key, const char *ciphers, const char *proxy)
{
	pthread_mutex_lock(&cache_mu);
	free(cache_key);
	free(cache_ciphers);
	free(cache_proxy);
	cache_key = strdup(key);
	cache_ciphers = ciphers != NULL ? strdup(ciphers) : NULL;
	cache_proxy = proxy != NULL ? strdup(proxy) : NULL;
	pthread_mutex_unlock(&cache_mu);
}

void
ssh_master_words(char *const *words, int nwords, const char *host,
    const char *key, const char *helper, char **ciphers, char **proxy)
{
	struct resolver	 r[2];
	char		*asked[nwords + 4], *plain[6];
	const char	*want, *dflt;
	bool		 gcm = cpu_has_fast_gcm(), ok;
	int		 i, n = gcm ? 2 : 1;

	*ciphers = *proxy = NULL;
	if ((!gcm && helper == NULL) || cache_get(key, ciphers, proxy))
		return;
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
	ok = (!gcm || resolver_start(&r[1], plain) == 0) && ok;
	ok = ok && resolvers_read(r, n);
	ok = resolver_end(&r[0], !ok) && ok;
	ok = (!gcm || resolver_end(&r[1], !ok)) && ok;
	if (ok)
		r[0].out[r[0].len] = '\0';
	if (ok && helper != NULL &&
	    (*proxy = direct_proxy(r[0].out, helper)) != NULL)
		log_msg(TS_LOG_DEBUG, "ssh's connection to \"%s\" is opened by "
		    "\"%s\", with TCP_NODELAY from the start", host, helper);
	if (ok && gcm && (want = ciphers_line(&r[0])) != NULL &&
	    (dflt = ciphers_line(&r[1])) != NULL && strcmp(want, dflt) == 0)
		*ciphers = gcm_first(want);
	free(r[0].out);
	if (gcm)
		free(r[1].out);
	if (*ciphers != NULL)
		log_msg(TS_LOG_DEBUG, "asking ssh for AES-GCM first (%s): this "
		    "CPU has AES instructions and no Ciphers is set for \"%s\"",
		    *ciphers + strlen("-oCiphers="), host);
	cache_put(key, *ciphers, *proxy);
}
