/*
 * Option parsing.  Options may come before or after the command, as with
 * rsync; "-p" is the port everywhere but after mkdir, where it means
 * "parents" as in mkdir -p (use --port there).
 */
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli.h"

enum {
	OPT_IDENTITY = 256, OPT_KNOWN_HOSTS, OPT_ACCEPT_NEW, OPT_TIMEOUT,
	OPT_CONNECT_TIMEOUT, OPT_VERIFY, OPT_PORT, OPT_HASH, OPT_DELETE,
	OPT_DELETE_EXCLUDED, OPT_MAX_DELETE, OPT_EXCLUDE, OPT_INCLUDE,
	OPT_EXCLUDE_FROM, OPT_JSON, OPT_STATS, OPT_PERMS, OPT_REVERSE,
	OPT_RETRIES, OPT_PROGRESS, OPT_FSYNC,
	OPT_KEEP, OPT_STAMP, OPT_PRUNE_DRY_RUN, OPT_BREAK_LOCK,
	OPT_FORCE_DELETE, OPT_NUMERIC_IDS, OPT_METADATA, OPT_TRANSPORT,
	OPT_RELEASE, OPT_ROLLBACK, OPT_LIST,
	OPT_NO_LINKS, OPT_NO_WRITE, OPT_SPEED,
	OPT_SIZE_ONLY, OPT_IGNORE_EXISTING, OPT_FILES_FROM, OPT_BWLIMIT,
	OPT_CACHE_DIR, OPT_PARTIAL, OPT_NO_PARTIAL, OPT_NO_MUX, OPT_VERSION,
};

static const struct option long_opts[] = {
	{ "config",		required_argument, NULL, 'F' },
	{ "identity",		required_argument, NULL, OPT_IDENTITY },
	{ "port",		required_argument, NULL, OPT_PORT },
	{ "known-hosts",	required_argument, NULL, OPT_KNOWN_HOSTS },
	{ "accept-new",		no_argument,	   NULL, OPT_ACCEPT_NEW },
	{ "timeout",		required_argument, NULL, OPT_TIMEOUT },
	{ "connect-timeout",	required_argument, NULL, OPT_CONNECT_TIMEOUT },
	{ "verify",		required_argument, NULL, OPT_VERIFY },
	{ "dry-run",		no_argument,	   NULL, 'n' },
	{ "checksum",		no_argument,	   NULL, 'c' },
	{ "hash",		required_argument, NULL, OPT_HASH },
	{ "delete",		no_argument,	   NULL, OPT_DELETE },
	{ "delete-excluded",	no_argument,	   NULL, OPT_DELETE_EXCLUDED },
	{ "max-delete",		required_argument, NULL, OPT_MAX_DELETE },
	{ "force-delete",	no_argument,	   NULL, OPT_FORCE_DELETE },
	{ "numeric-ids",	no_argument,	   NULL, OPT_NUMERIC_IDS },
	{ "sparse",		no_argument,	   NULL, 'S' },
	{ "owner",		no_argument,	   NULL, 'o' },
	{ "group",		no_argument,	   NULL, 'g' },
	{ "archive",		no_argument,	   NULL, 'a' },
	{ "hard-links",		no_argument,	   NULL, 'H' },
	{ "metadata",		no_argument,	   NULL, OPT_METADATA },
	{ "copy-links",		no_argument,	   NULL, 'L' },
	{ "no-links",		no_argument,	   NULL, OPT_NO_LINKS },
	{ "no-write",		no_argument,	   NULL, OPT_NO_WRITE },
	{ "speed",		no_argument,	   NULL, OPT_SPEED },
	{ "exclude",		required_argument, NULL, OPT_EXCLUDE },
	{ "include",		required_argument, NULL, OPT_INCLUDE },
	{ "exclude-from",	required_argument, NULL, OPT_EXCLUDE_FROM },
	{ "itemize",		no_argument,	   NULL, 'i' },
	{ "itemize-changes",	no_argument,	   NULL, 'i' },
	{ "json",		no_argument,	   NULL, OPT_JSON },
	{ "stats",		no_argument,	   NULL, OPT_STATS },
	{ "perms",		no_argument,	   NULL, OPT_PERMS },
	{ "fsync",		no_argument,	   NULL, OPT_FSYNC },
	{ "jobs",		required_argument, NULL, 'j' },
	{ "retries",		required_argument, NULL, OPT_RETRIES },
	{ "progress",		no_argument,	   NULL, OPT_PROGRESS },
	{ "reverse",		no_argument,	   NULL, OPT_REVERSE },
	{ "keep",		required_argument, NULL, OPT_KEEP },
	{ "stamp",		required_argument, NULL, OPT_STAMP },
	{ "prune-dry-run",	no_argument,	   NULL, OPT_PRUNE_DRY_RUN },
	{ "break-lock",		no_argument,	   NULL, OPT_BREAK_LOCK },
	{ "release",		required_argument, NULL, OPT_RELEASE },
	{ "rollback",		no_argument,	   NULL, OPT_ROLLBACK },
	{ "list",		no_argument,	   NULL, OPT_LIST },
	{ "size-only",		no_argument,	   NULL, OPT_SIZE_ONLY },
	{ "ignore-existing",	no_argument,	   NULL, OPT_IGNORE_EXISTING },
	{ "update",		no_argument,	   NULL, 'u' },
	{ "files-from",		required_argument, NULL, OPT_FILES_FROM },
	{ "from0",		no_argument,	   NULL, '0' },
	{ "compress",		no_argument,	   NULL, 'z' },
	{ "bwlimit",		required_argument, NULL, OPT_BWLIMIT },
	{ "cache-dir",		required_argument, NULL, OPT_CACHE_DIR },
	{ "whole-file",		no_argument,	   NULL, 'W' },
	{ "partial",		no_argument,	   NULL, OPT_PARTIAL },
	{ "no-partial",		no_argument,	   NULL, OPT_NO_PARTIAL },
	{ "verbose",		no_argument,	   NULL, 'v' },
	{ "quiet",		no_argument,	   NULL, 'q' },
	{ "help",		no_argument,	   NULL, 'h' },
	{ "version",		no_argument,	   NULL, OPT_VERSION },
	{ "transport",		required_argument, NULL, OPT_TRANSPORT },
	{ "rsh",		required_argument, NULL, 'e' },
	{ "no-mux",		no_argument,	   NULL, OPT_NO_MUX },
	{ NULL, 0, NULL, 0 },
};

void
cli_usage(FILE *f)
{
	fputs("usage: treesync [OPTIONS] COMMAND ARGS...\n"
	    "\n"
	    "commands:\n"
	    "  ls [-l] TARGET           list a remote directory\n"
	    "  stat TARGET              show a remote file's attributes\n"
	    "  mkdir [-p] TARGET        create a remote directory\n"
	    "  put LOCAL TARGET         upload one file, atomically\n"
	    "  get TARGET LOCAL         download one file, atomically\n"
	    "  push LOCAL_DIR TARGET    make the remote directory equal to LOCAL_DIR\n"
	    "  pull TARGET LOCAL_DIR    make LOCAL_DIR equal to the remote directory\n"
	    "  diff LOCAL_DIR TARGET    show what push would change (changes nothing;\n"
	    "                           TARGET LOCAL_DIR or --reverse: what pull would)\n"
	    "  check LOCAL_DIR TARGET   compare both trees by hash\n"
	    "  backup PATH... TARGET    a dated, verified snapshot under TARGET, then\n"
	    "                           keep the newest --keep (docs/backup.md)\n"
	    "  restore TARGET LOCAL_DIR a backup snapshot back, with owners, hard\n"
	    "                           links, xattrs, ACLs, special files\n"
	    "                           (docs/metadata.md)\n"
	    "  publish DIR TARGET...    DIR as a new release under each TARGET, then\n"
	    "                           switch TARGET/current to it (docs/publish.md)\n"
	    "  publish --rollback TARGET...  current back to the release before it\n"
	    "  publish --list TARGET    the releases, their dates and sizes\n"
	    "  probe TARGET             what the server can do (docs/servers.md)\n"
	    "\n"
	    "TARGET is [user@]host:path or sftp://[user@]host[:port]/path;\n"
	    "host may be an alias from ~/.ssh/config.\n"
	    "\n"
	    "options:\n"
	    "  -F, --config FILE        ssh config file (default ~/.ssh/config)\n"
	    "  --identity FILE          private key to log in with\n"
	    "  -p, --port N             server port (mkdir: only --port)\n"
	    "  --known-hosts FILE       known_hosts file to check the host key\n"
	    "  --accept-new             trust and record an unknown host key\n"
	    "  --transport auto|openssh|libssh2  how to reach the server: the\n"
	    "                           system's ssh, or built in (auto: ssh if\n"
	    "                           installed; docs/transport.md)\n"
	    "  -e, --rsh COMMAND        the ssh command, e.g. 'ssh -p 2222' (openssh)\n"
	    "  --no-mux                 openssh: each connection logs in on its own,\n"
	    "                           not as a session of the first one's\n"
	    "  --connect-timeout SECS   time to connect and log in (30)\n"
	    "  --timeout SECS           time to wait for the server (60)\n"
	    "  --verify=size|hash|none  check after a transfer (size)\n"
	    "  -n, --dry-run            change nothing, report what would change\n"
	    "  -c, --checksum           compare files of equal size by hash\n"
	    "  --size-only              files of equal size are unchanged (mtime set)\n"
	    "  -u, --update             keep destination files newer than the source\n"
	    "  --ignore-existing        only create what the destination lacks\n"
	    "  --files-from FILE        only the paths FILE lists (and what is under\n"
	    "                           them), relative to the source directory\n"
	    "  -0, --from0              --files-from names end with NUL, not newline\n"
	    "  --hash=auto|sha256|xxh128  hash for -c and check (auto)\n"
	    "  --delete                 remove remote entries missing locally\n"
	    "  --delete-excluded        also remove excluded remote entries\n"
	    "  --max-delete N           refuse to delete more than N entries\n"
	    "  --force-delete           --delete even from an empty source, or into\n"
	    "                           the remote login directory or /\n"
	    "  -L, --copy-links         follow local symlinks\n"
	    "  -S, --sparse             holes stay holes: push sends only data\n"
	    "                           regions, pull leaves blocks of zeros out\n"
	    "  -o, --owner, -g, --group keep owner, group (set where the account may:\n"
	    "                           root); by name, as rsync\n"
	    "  --numeric-ids            owners by id, not by name\n"
	    "  -a, --archive            -o -g --perms (rsync's -a as far as SFTP goes)\n"
	    "  -H, --hard-links         push: names of one file sent once, linked\n"
	    "  --metadata               push: owners, xattrs, ACLs, links, special\n"
	    "                           files recorded for restore (docs/metadata.md)\n"
	    "  --no-links               skip symlinks (for servers without them)\n"
	    "  --exclude PATTERN        skip matching paths (rsync globs)\n"
	    "  --include PATTERN        do not skip matching paths\n"
	    "  --exclude-from FILE      read patterns from FILE\n"
	    "  -i, --itemize            one line per change, as rsync -i\n"
	    "  --json                   one JSON object per line (docs/json.md)\n"
	    "  --stats                  totals at the end\n"
	    "  --perms                  pull: keep modes as on the server (no umask)\n"
	    "  --fsync                  put, push: the server flushes each file to disk\n"
	    "                           before the rename (backup always does)\n"
	    "  -W, --whole-file         push, backup: never send a delta\n"
	    "  --cache-dir DIR          block signatures of what was sent, for deltas\n"
	    "                           (default ~/.cache/treesync; docs/delta.md;\n"
	    "                           '' turns the store and deltas off)\n"
	    "  --partial, --no-partial  push: keep an upload cut short for the next run\n"
	    "                           to continue (default: files of 64 MiB or more)\n"
	    "  -j, --jobs N             connections to use (4)\n"
	    "  -z, --compress           compress the SSH connections (zlib)\n"
	    "  --bwlimit RATE           at most RATE per second over all connections:\n"
	    "                           KiB unless a K, M or G suffix (1000s: KB, MB);\n"
	    "                           0: no limit (push, pull, backup, put, get)\n"
	    "  --retries N              tries again after a dropped connection (3)\n"
	    "  --progress               a status line on stderr (default on a terminal)\n"
	    "  --keep N                 backup: complete snapshots to keep (7);\n"
	    "                           publish: releases to keep (5)\n"
	    "  --release NAME           publish: the release's name (default: UTC\n"
	    "                           YYYYMMDD-HHMMSS)\n"
	    "  --stamp YYYYMMDD-HHMMSS  backup: the run's local time (default: now)\n"
	    "  --prune-dry-run          backup: list what rotation would remove\n"
	    "  --break-lock             backup, publish: remove a lock left by a\n"
	    "                           dead run\n"
	    "  --no-write               probe: measure nothing that writes\n"
	    "  --speed                  probe: time an upload and a download\n"
	    "  -v, --verbose            say more (twice: debug)\n"
	    "  -q, --quiet              only errors\n"
	    "  --version                treesync's version and its libraries'\n"
	    "\n"
	    "exit codes: see docs/exit-codes.md\n", f);
}

static int
parse_int(const char *s, int lo, int hi, const char *what, int *out)
{
	char	*end;
	long	 v;

	v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v < lo || v > hi) {
		cli_say("bad %s \"%s\": expected a number from %d to %d",
		    what, s, lo, hi);
		return -1;
	}
	*out = (int)v;
	return 0;
}

/*
 * --bwlimit as rsync reads it: a number, maybe with a fraction, in KiB a
 * second unless a suffix says otherwise: B bytes, K/KiB, M/MiB, G/GiB
 * (powers of 1024), KB, MB, GB (powers of 1000), any case.  0 is no
 * limit.
 */
static int
parse_rate(const char *s, uint64_t *out)
{
	static const struct {
		const char	*suffix;
		double		 mult;
	} units[] = {
		{ "", 1024 }, { "b", 1 },
		{ "k", 1024 }, { "kib", 1024 }, { "kb", 1000 },
		{ "m", 1048576 }, { "mib", 1048576 }, { "mb", 1e6 },
		{ "g", 1073741824 }, { "gib", 1073741824 }, { "gb", 1e9 },
	};
	char	*end;
	double	 v;
	size_t	 i;

	v = strtod(s, &end);
	if (end != s && v >= 0 && (s[0] >= '0' && s[0] <= '9'))
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (strcasecmp(end, units[i].suffix) == 0 &&
			    v * units[i].mult < 1e15) {
				*out = (uint64_t)(v * units[i].mult);
				if (v > 0 && *out == 0)
					*out = 1;
				return 0;
			}
	fprintf(stderr, "treesync: bad --bwlimit \"%s\": expected a rate "
	    "such as 500 (KiB/s), 200K, 1.5M or 10MB\n", s);
	return -1;
}

/* Keeps include/exclude rules in command-line order: first match wins. */
static int
add_rule(struct cli *o, const char *pattern, bool include, bool from_file)
{
	struct ts_filter_rule	*r;

	r = realloc(o->rules, (o->sync.nrules + 1) * sizeof(*r));
	if (r == NULL) {
		fputs("treesync: out of memory\n", stderr);
		return -1;
	}
	o->rules = r;
	r[o->sync.nrules].include = include;
	r[o->sync.nrules].pattern = pattern;
	r[o->sync.nrules].from_file = from_file;
	o->sync.rules = r;
	o->sync.nrules++;
	return 0;
}

/*
 * Says what getopt_long refused, escaped as every message is (getopt's
 * own messages would print the option raw: opterr is off).  optopt is 0
 * for an unknown long option, else the option's value.
 */
static void
bad_option(char **argv)
{
	const char	*a = argv[optind - 1];

	if (optopt != 0 && optopt < 256 && strncmp(a, "--", 2) != 0)
		cli_say("bad option \"-%c\" (unknown, or missing its value)",
		    optopt);
	else
		cli_say("bad option \"%s\" (unknown, ambiguous, or missing "
		    "its value)", a);
	cli_say("try \"treesync --help\"");
}

/* The signature store's home (XDG base directories): NULL when there is
 * no home to put it in, and then files are sent whole. */
static const char *
default_cache_dir(void)
{
	static char	 dir[PATH_MAX];
	const char	*xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");

	if (xdg != NULL && xdg[0] == '/')
		snprintf(dir, sizeof(dir), "%s/treesync", xdg);
	else if (home != NULL && home[0] == '/')
		snprintf(dir, sizeof(dir), "%s/.cache/treesync", home);
	else
		return NULL;
	return dir;
}

/* The command is the first operand; options before it may take values. */
static const char *
find_command(int argc, char **argv)
{
	const struct option	*lo;
	int			 i;

	for (i = 1; i < argc; i++) {
		const char	*a = argv[i];

		if (strcmp(a, "--") == 0)
			return i + 1 < argc ? argv[i + 1] : NULL;
		if (a[0] != '-' || a[1] == '\0')
			return a;
		if (a[1] != '-') {	/* -F FILE, -p PORT; -Ffile takes none */
			if ((a[1] == 'F' || a[1] == 'p' || a[1] == 'j' ||
			    a[1] == 'e') &&
			    a[2] == '\0')
				i++;
			continue;
		}
		if (strchr(a, '=') != NULL)
			continue;
		for (lo = long_opts; lo->name != NULL; lo++)
			if (strcmp(a + 2, lo->name) == 0 &&
			    lo->has_arg == required_argument)
				i++;
	}
	return NULL;
}

int
cli_parse(struct cli *o, int argc, char **argv)
{
	struct ts_conn_opts	 conn = TS_CONN_OPTS_INIT;
	const char		*cmd;
	int			 c;

	memset(o, 0, sizeof(*o));
	o->conn = conn;
	/* The library's default is libssh2 (no program to find); the
	 * command line's is the user's own ssh when there is one. */
	o->conn.transport = TS_TRANSPORT_AUTO;
	/* ssh's TCP connection, with TCP_NODELAY: this binary opens it
	 * (treesync --connect-fd, connect_fd.c). */
	{
		static char	 self[4096];
		ssize_t		 n = readlink("/proc/self/exe", self,
				    sizeof(self) - 1);

		if (n > 0) {
			self[n] = '\0';
			o->conn.connect_helper = self;
		}
	}
	o->verify = TS_VERIFY_SIZE;
	o->sync = (struct ts_sync_opts)TS_SYNC_OPTS_INIT;
	cmd = find_command(argc, argv);
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, cmd != NULL &&
	    strcmp(cmd, "mkdir") == 0 ? "F:lpvqhnciLSogaHWj:e:u0z" :
	    "F:p:lvqhnciLSogaHWj:e:u0z", long_opts,
	    NULL)) != -1) {
		switch (c) {
		case 'F':
			o->conn.ssh_config = optarg;
			break;
		case OPT_IDENTITY:
			o->conn.identity = optarg;
			break;
		case OPT_PORT:
			if (parse_int(optarg, 1, 65535, "--port",
			    &o->conn.port) != 0)
				return 2;
			break;
		case 'p':
			if (cmd != NULL && strcmp(cmd, "mkdir") == 0)
				o->parents = true;
			else if (parse_int(optarg, 1, 65535, "port",
			    &o->conn.port) != 0)
				return 2;
			break;
		case OPT_TRANSPORT:
			if (strcmp(optarg, "auto") == 0)
				o->conn.transport = TS_TRANSPORT_AUTO;
			else if (strcmp(optarg, "openssh") == 0)
				o->conn.transport = TS_TRANSPORT_OPENSSH;
			else if (strcmp(optarg, "libssh2") == 0)
				o->conn.transport = TS_TRANSPORT_LIBSSH2;
			else {
				fprintf(stderr, "treesync: bad --transport "
				    "\"%s\": expected auto, openssh or "
				    "libssh2\n", optarg);
				return 2;
			}
			break;
		case 'e':
			o->conn.rsh = optarg;
			break;
		case OPT_KNOWN_HOSTS:
			o->conn.known_hosts = optarg;
			break;
		case OPT_ACCEPT_NEW:
			o->conn.accept_new = true;
			break;
		case OPT_TIMEOUT:
			if (parse_int(optarg, 1, 86400, "--timeout",
			    &o->conn.io_timeout) != 0)
				return 2;
			break;
		case OPT_CONNECT_TIMEOUT:
			if (parse_int(optarg, 1, 86400, "--connect-timeout",
			    &o->conn.connect_timeout) != 0)
				return 2;
			break;
		case OPT_VERIFY:
			o->verify_set = true;
			if (strcmp(optarg, "size") == 0)
				o->verify = TS_VERIFY_SIZE;
			else if (strcmp(optarg, "hash") == 0)
				o->verify = TS_VERIFY_HASH;
			else if (strcmp(optarg, "none") == 0)
				o->verify = TS_VERIFY_NONE;
			else {
				cli_say("bad --verify \"%s\": expected size, "
				    "hash or none", optarg);
				return 2;
			}
			break;
		case 'l':
			o->long_list = true;
			break;
		case 'n':
			o->sync.dry_run = true;
			break;
		case 'c':
			o->sync.checksum = true;
			break;
		case OPT_HASH:
			if (strcmp(optarg, "auto") == 0)
				o->sync.hash = TS_HASH_AUTO;
			else if (strcmp(optarg, "sha256") == 0)
				o->sync.hash = TS_HASH_SHA256;
			else if (strcmp(optarg, "xxh128") == 0)
				o->sync.hash = TS_HASH_XXH128;
			else {
				cli_say("bad --hash \"%s\": expected auto, "
				    "sha256 or xxh128", optarg);
				return 2;
			}
			break;
		case OPT_DELETE:
			o->sync.delete_extra = true;
			break;
		case OPT_DELETE_EXCLUDED:
			o->sync.delete_extra = true;
			o->sync.delete_excluded = true;
			break;
		case OPT_MAX_DELETE: {
			int	 n;

			if (parse_int(optarg, 0, 2000000000, "--max-delete",
			    &n) != 0)
				return 2;
			o->sync.max_delete = n;
			break;
		}
		case OPT_FORCE_DELETE:
			o->sync.force_delete = true;
			break;
		case OPT_NUMERIC_IDS:
			o->numeric_ids = true;
			o->sync.numeric_ids = true;
			break;
		case 'o':
			o->sync.owner = true;
			break;
		case 'H':
			o->sync.hard_links = true;
			break;
		case OPT_METADATA:
			o->sync.metadata = true;
			break;
		case 'g':
			o->sync.group = true;
			break;
		case 'a':	/* rsync's -rlptgoD, as far as SFTP goes */
			o->sync.owner = o->sync.group = true;
			o->sync.perms = true;
			break;
		case 'S':
			o->sync.sparse = true;
			break;
		case 'L':
			o->sync.copy_links = true;
			break;
		case OPT_NO_LINKS:
			o->sync.no_links = true;
			break;
		case OPT_NO_WRITE:
			o->no_write = true;
			break;
		case OPT_SPEED:
			o->speed = true;
			break;
		case OPT_EXCLUDE:
		case OPT_INCLUDE:
		case OPT_EXCLUDE_FROM:
			if (add_rule(o, optarg, c == OPT_INCLUDE,
			    c == OPT_EXCLUDE_FROM) != 0)
				return 1;
			break;
		case 'i':
			o->itemize = true;
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case OPT_KEEP:
			if (parse_int(optarg, 1, 1000000, "--keep",
			    &o->keep) != 0)
				return 2;
			break;
		case OPT_STAMP:
			o->stamp = optarg;
			break;
		case OPT_PRUNE_DRY_RUN:
			o->prune_dry_run = true;
			break;
		case OPT_BREAK_LOCK:
			o->break_lock = true;
			break;
		case OPT_RELEASE:
			o->release = optarg;
			break;
		case OPT_ROLLBACK:
			o->rollback = true;
			break;
		case OPT_LIST:
			o->list_releases = true;
			break;
		case OPT_STATS:
			o->stats = true;
			break;
		case OPT_PERMS:
			o->sync.perms = true;
			break;
		case OPT_FSYNC:
			o->sync.fsync = true;
			break;
		case 'W':
			o->sync.whole_file = true;
			break;
		case OPT_CACHE_DIR:
			o->sync.cache_dir = optarg;
			break;
		case OPT_PARTIAL:
			o->sync.partial = 1;
			break;
		case OPT_NO_PARTIAL:
			o->sync.partial = -1;
			break;
		case 'j':
			if (parse_int(optarg, 1, 64, "--jobs", &o->sync.jobs) != 0)
				return 2;
			break;
		case OPT_RETRIES:
			if (parse_int(optarg, 0, 100, "--retries",
			    &o->sync.retries) != 0)
				return 2;
			break;
		case OPT_PROGRESS:
			o->progress = true;
			break;
		case OPT_REVERSE:
			o->reverse = true;
			break;
		case OPT_SIZE_ONLY:
			o->sync.size_only = true;
			break;
		case OPT_IGNORE_EXISTING:
			o->sync.ignore_existing = true;
			break;
		case 'u':
			o->sync.update = true;
			break;
		case OPT_FILES_FROM:
			o->sync.files_from = optarg;
			break;
		case '0':
			o->sync.from0 = true;
			break;
		case 'z':
			o->conn.compress = true;
			break;
		case OPT_NO_MUX:
			o->conn.no_mux = true;
			break;
		case OPT_BWLIMIT:
			if (parse_rate(optarg, &o->sync.bwlimit) != 0)
				return 2;
			break;
		case 'v':
			o->verbose++;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'h':
			cli_usage(stdout);
			exit(0);
		case OPT_VERSION:
			cli_version(stdout);
			exit(0);
		default:
			bad_option(argv);
			return 2;
		}
	}
	if (optind >= argc) {
		cli_usage(stderr);
		return 2;
	}
	if (o->conn.rsh != NULL &&
	    o->conn.transport == TS_TRANSPORT_LIBSSH2) {
		fputs("treesync: -e/--rsh runs ssh: it needs --transport "
		    "openssh or auto\n", stderr);
		return 2;
	}
	o->sync.verify = o->verify;
	if (o->sync.cache_dir == NULL)
		o->sync.cache_dir = default_cache_dir();
	else if (*o->sync.cache_dir == '\0')
		o->sync.cache_dir = NULL;	/* no store: no signatures made */
	o->command = argv[optind];
	o->args = argv + optind + 1;
	o->nargs = argc - optind - 1;
	return 0;
}
