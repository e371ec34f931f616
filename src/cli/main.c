/* treesync's entry point: parse, set up logging, run one command. */
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"

static const struct {
	const char	*name;
	int		(*run)(const struct cli *);
} commands[] = {
	{ "ls", cmd_ls },
	{ "stat", cmd_stat },
	{ "mkdir", cmd_mkdir },
	{ "put", cmd_put },
	{ "get", cmd_get },
	{ "push", cmd_push },
	{ "pull", cmd_pull },
	{ "diff", cmd_diff },
	{ "check", cmd_check },
	{ "backup", cmd_backup },
	{ "restore", cmd_restore },
	{ "publish", cmd_publish },
	{ "probe", cmd_probe },
};

static void
log_to_stderr(enum ts_log_level level, const char *msg, void *payload)
{
	static const char *const prefix[] = {
		"error: ", "warning: ", "", "debug: ", "trace: ",
	};

	(void)payload;
	cli_say("%s%s", prefix[level], msg);
}

/* Asks on the terminal, never on a pipe: unattended runs must fail, not
 * hang waiting for input nobody will type.  The extra connections of -j
 * open at once on their own threads: one asks, the others reuse what it
 * got for the same key instead of asking again. */
static int
ask_passphrase(const char *key, char *buf, size_t size, void *payload)
{
	static pthread_mutex_t	 mu = PTHREAD_MUTEX_INITIALIZER;
	static char		 last_key[PATH_MAX], last[1024];
	struct termios		 old, quiet;
	FILE			*tty;
	int			 ok = -1;

	(void)payload;
	pthread_mutex_lock(&mu);
	if (last_key[0] != '\0' && strcmp(key, last_key) == 0 &&
	    strlen(last) < size) {
		memcpy(buf, last, strlen(last) + 1);
		pthread_mutex_unlock(&mu);
		return 0;
	}
	if ((tty = fopen("/dev/tty", "r+")) == NULL) {
		pthread_mutex_unlock(&mu);
		return -1;
	}
	if (tcgetattr(fileno(tty), &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		/* Echo off (TCSAFLUSH drops what was typed before) first,
		 * then the prompt: an answer typed as soon as the prompt
		 * shows must not be dropped. */
		tcsetattr(fileno(tty), TCSAFLUSH, &quiet);
		fprintf(tty, "passphrase for \"%s\": ", key);
		fflush(tty);
		if (fgets(buf, (int)size, tty) != NULL) {
			buf[strcspn(buf, "\r\n")] = '\0';
			ok = 0;
			if (strlen(key) < sizeof(last_key) &&
			    strlen(buf) < sizeof(last)) {
				memcpy(last_key, key, strlen(key) + 1);
				memcpy(last, buf, strlen(buf) + 1);
			}
		}
		tcsetattr(fileno(tty), TCSAFLUSH, &old);
		fputc('\n', tty);
	}
	fclose(tty);
	pthread_mutex_unlock(&mu);
	return ok;
}

/* The first Ctrl-C asks the job to stop cleanly; a second one kills. */
static void
on_signal(int sig)
{
	ts_cancel();
	signal(sig, SIG_DFL);
}

/* Every file in flight holds a descriptor, and up to 64 connections keep
 * 64 in flight each: use what the hard limit allows (the library sizes
 * its pipelines to the soft limit it finds). */
static void
raise_file_limit(void)
{
	struct rlimit	 rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max &&
	    rl.rlim_cur < 65536) {
		rl.rlim_cur = rl.rlim_max < 65536 ? rl.rlim_max : 65536;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int
main(int argc, char **argv)
{
	struct ts_error	 err = { 0 };
	struct cli	 o;
	size_t		 i;
	int		 rc;

	if (argc >= 2 && strcmp(argv[1], "--connect-fd") == 0)
		return cli_connect_fd(argc - 2, argv + 2);
	if ((rc = cli_parse(&o, argc, argv)) != 0) {
		free(o.rules);
		return rc;
	}
	ts_set_log(log_to_stderr, o.quiet ? TS_LOG_ERROR : o.verbose >= 2 ?
	    TS_LOG_DEBUG : o.verbose == 1 ? TS_LOG_INFO : TS_LOG_WARN, NULL);
	if (isatty(STDIN_FILENO))
		o.conn.passphrase = ask_passphrase;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	raise_file_limit();
	if (ts_global_init(&err) != 0) {
		free(o.rules);
		return cli_fail(&err);
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(o.command, commands[i].name) == 0)
			break;
	if (i == sizeof(commands) / sizeof(commands[0])) {
		cli_say("unknown command \"%s\"; try \"treesync --help\"",
		    o.command);
		free(o.rules);
		return 2;
	}
	rc = commands[i].run(&o);
	free(o.rules);
	ts_global_cleanup();
	return rc;
}
