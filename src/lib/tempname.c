/*
 * Temporary names (see tempname.h): made here, recognised here, and the
 * rule that says when a run's leftovers may go.  Two runs into the same
 * tree must never remove each other's live files, so a name carries
 * enough of its run to tell: its machine and pid (checked with kill(2)
 * when the machine is ours) and its start (an age limit otherwise).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>
#include <xxhash.h>

#include "tempname.h"

#define DIGITS		"0123456789abcdefghijklmnopqrstuvwxyz"
#define TIME_LEN	7		/* base 36: beyond the year 4000 */
#define MACHINE_LEN	6
#define PID_LEN		5		/* 36^5 > Linux's largest pid */
#define RUN_LEN		(TIME_LEN + MACHINE_LEN + PID_LEN)
#define RANDOM_LEN	6
#define MARK_LEN	14		/* ".treesync-tmp." */
/* After the visible part: the mark, the run, '-', the random part. */
#define TAIL_LEN	(MARK_LEN + RUN_LEN + 1 + RANDOM_LEN)

static const char *const marks[] = {
	[TEMPNAME_TMP] = ".treesync-tmp.",
	[TEMPNAME_OLD] = ".treesync-old.",
	[TEMPNAME_PART] = ".treesync-prt.",
};

static struct tempname_info	 self;
static char			 self_run[RUN_LEN + 1];
static pthread_once_t		 self_once = PTHREAD_ONCE_INIT;

static void
put36(char *out, size_t len, uint64_t v)
{
	while (len-- > 0) {
		out[len] = DIGITS[v % 36];
		v /= 36;
	}
}

static bool
get36(const char *p, size_t len, uint64_t *v)
{
	const char	*d;

	*v = 0;
	while (len-- > 0) {
		if (*p == '\0' || (d = strchr(DIGITS, *p)) == NULL)
			return false;
		*v = *v * 36 + (uint64_t)(d - DIGITS);
		p++;
	}
	return true;
}

/* Reads the first line of a small file (or a symlink's target) into buf;
 * "" when it cannot. */
static void
read_id(const char *path, bool link, char *buf, size_t size)
{
	FILE	*f;
	ssize_t	 n;

	buf[0] = '\0';
	if (link) {
		if ((n = readlink(path, buf, size - 1)) > 0)
			buf[n] = '\0';
		return;
	}
	if ((f = fopen(path, "re")) == NULL)
		return;
	if (fgets(buf, (int)size, f) == NULL)
		buf[0] = '\0';
	fclose(f);
}

/* The machine, as far as pids go: one boot and one pid namespace share
 * one set of pids.  0 when unknown (then no pid is ever checked). */
static void
self_init(void)
{
	char		 boot[64], ns[64], both[128];
	uint64_t	 m;

	read_id("/proc/sys/kernel/random/boot_id", false, boot, sizeof(boot));
	read_id("/proc/self/ns/pid", true, ns, sizeof(ns));
	self.machine = 0;
	if (boot[0] != '\0' && ns[0] != '\0') {
		snprintf(both, sizeof(both), "%s|%s", boot, ns);
		m = XXH64(both, strlen(both), 0) % (36ull * 36 * 36 * 36 * 36 * 36);
		self.machine = m != 0 ? (uint32_t)m : 1;
	}
	self.started = time(NULL);
	self.pid = (uint32_t)getpid();
	put36(self_run, TIME_LEN, (uint64_t)self.started);
	put36(self_run + TIME_LEN, MACHINE_LEN, self.machine);
	put36(self_run + TIME_LEN + MACHINE_LEN, PID_LEN, self.pid);
	self_run[RUN_LEN] = '\0';
}

/* Cuts a name to at most max bytes without splitting a UTF-8 character. */
static size_t
visible_len(const char *name, size_t len, size_t max)
{
	if (len <= max)
		return len;
	len = max;
	while (len > 0 && ((unsigned char)name[len] & 0xc0) == 0x80)
		len--;
	return len;
}

int
tempname_make(char **out, const char *path, enum tempname_kind kind)
{
	const char	*slash = strrchr(path, '/');
	const char	*base = slash != NULL ? slash + 1 : path;
	size_t		 dirlen = (size_t)(base - path), vis, n, i;
	unsigned char	 rnd[RANDOM_LEN];
	char		 suffix[RANDOM_LEN + 1];

	pthread_once(&self_once, self_init);
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		for (i = 0; i < sizeof(rnd); i++)
			rnd[i] = (unsigned char)rand();
	for (i = 0; i < RANDOM_LEN; i++)
		suffix[i] = DIGITS[rnd[i] % 36];
	suffix[RANDOM_LEN] = '\0';
	/* The leading '.' and the tail take their share of the 255 bytes. */
	vis = visible_len(base, strlen(base), TEMPNAME_NAME_MAX - 1 - TAIL_LEN);
	n = dirlen + 1 + vis + TAIL_LEN + 1;
	if ((*out = malloc(n)) == NULL)
		return -1;
	snprintf(*out, n, "%.*s.%.*s%s%s-%s", (int)dirlen, path, (int)vis,
	    base, marks[kind], self_run, suffix);
	return 0;
}

int
tempname_make_part(char **out, const char *path, const char *key)
{
	const char	*slash = strrchr(path, '/');
	const char	*base = slash != NULL ? slash + 1 : path;
	size_t		 dirlen = (size_t)(base - path), vis, n;

	/* The same length as the others: the key is in the run's and the
	 * random part's place, with the '-' where theirs is. */
	vis = visible_len(base, strlen(base), TEMPNAME_NAME_MAX - 1 - TAIL_LEN);
	n = dirlen + 1 + vis + TAIL_LEN + 1;
	if (strlen(key) < TEMPNAME_KEY_LEN || (*out = malloc(n)) == NULL)
		return -1;
	snprintf(*out, n, "%.*s.%.*s%s%.*s-%.*s", (int)dirlen, path, (int)vis,
	    base, marks[TEMPNAME_PART], RUN_LEN, key, RANDOM_LEN,
	    key + RUN_LEN);
	return 0;
}

bool
tempname_part_key(const char *base, char *key)
{
	size_t		 len = strlen(base), i;
	const char	*tail;

	if (len < 2 + TAIL_LEN || len > TEMPNAME_NAME_MAX || base[0] != '.')
		return false;
	tail = base + len - TAIL_LEN;
	if (memcmp(tail, marks[TEMPNAME_PART], MARK_LEN) != 0 ||
	    tail[MARK_LEN + RUN_LEN] != '-')
		return false;
	memcpy(key, tail + MARK_LEN, RUN_LEN);
	memcpy(key + RUN_LEN, tail + MARK_LEN + RUN_LEN + 1, RANDOM_LEN);
	key[TEMPNAME_KEY_LEN] = '\0';
	for (i = 0; i < TEMPNAME_KEY_LEN; i++)
		if (!((key[i] >= '0' && key[i] <= '9') ||
		    (key[i] >= 'a' && key[i] <= 'f')))
			return false;
	return true;
}

bool
tempname_parse(const char *base, struct tempname_info *info)
{
	size_t			 len = strlen(base);
	const char		*tail;
	struct tempname_info	 i;
	uint64_t		 v;
	char			 key[TEMPNAME_KEY_LEN + 1];

	/* A leading dot, at least one byte of the name, then the tail. */
	if (len < 2 + TAIL_LEN || len > TEMPNAME_NAME_MAX || base[0] != '.')
		return false;
	tail = base + len - TAIL_LEN;
	if (memcmp(tail, marks[TEMPNAME_TMP], MARK_LEN) == 0)
		i.kind = TEMPNAME_TMP;
	else if (memcmp(tail, marks[TEMPNAME_OLD], MARK_LEN) == 0)
		i.kind = TEMPNAME_OLD;
	else if (tempname_part_key(base, key)) {
		memset(&i, 0, sizeof(i));
		i.kind = TEMPNAME_PART;
		if (info != NULL)
			*info = i;
		return true;
	} else
		return false;
	tail += MARK_LEN;
	if (tail[RUN_LEN] != '-' ||
	    !get36(tail + RUN_LEN + 1, RANDOM_LEN, &v) ||
	    !get36(tail + TIME_LEN + MACHINE_LEN, PID_LEN, &v))
		return false;
	i.pid = (uint32_t)v;
	if (!get36(tail + TIME_LEN, MACHINE_LEN, &v))
		return false;
	i.machine = (uint32_t)v;
	if (!get36(tail, TIME_LEN, &v))
		return false;
	i.started = (time_t)v;
	if (info != NULL)
		*info = i;
	return true;
}

bool
tempname_visible(const char *base, const char **start, size_t *len)
{
	if (!tempname_parse(base, NULL))
		return false;
	*start = base + 1;
	*len = strlen(base) - 1 - TAIL_LEN;
	return true;
}

static const char *const tree_marks[] = {
	[TEMPNAME_IN_PROGRESS] = ".in-progress",
	[TEMPNAME_REMOVING] = ".removing",
};

char *
tempname_mark(const char *name, enum tempname_mark m)
{
	size_t	 n = 1 + strlen(name) + strlen(tree_marks[m]) + 1;
	char	*p;

	if ((p = malloc(n)) == NULL)
		return NULL;
	snprintf(p, n, ".%s%s", name, tree_marks[m]);
	return p;
}

bool
tempname_marked(const char *entry, enum tempname_mark m, size_t *len)
{
	size_t	 n = strlen(entry), k = strlen(tree_marks[m]);

	if (n < 2 + k || entry[0] != '.' ||
	    strcmp(entry + n - k, tree_marks[m]) != 0)
		return false;
	*len = n - 1 - k;
	return true;
}

bool
tempname_is_orphan(const struct tempname_info *info, time_t now)
{
	pthread_once(&self_once, self_init);
	if (self.machine != 0 && info->machine == self.machine) {
		/* This process: a live run of ours, or one we track. */
		if (info->pid == self.pid)
			return info->started != self.started;
		return info->pid == 0 || (kill((pid_t)info->pid, 0) == -1 &&
		    errno == ESRCH);
	}
	return now - info->started > TEMPNAME_FOREIGN_AGE;
}
