/* The command line: options shared by every command, and the commands. */
#ifndef TS_CLI_H
#define TS_CLI_H

#include <stdio.h>

#include "treesync.h"

struct cli {
	struct ts_conn_opts conn;
	int		 verbose;	/* -v count */
	bool		 quiet;
	bool		 long_list;	/* ls -l */
	bool		 parents;	/* mkdir -p */
	enum ts_verify	 verify;
	struct ts_sync_opts sync;	/* push, diff, check */
	struct ts_filter_rule *rules;	/* owned by the process */
	bool		 itemize;	/* -i */
	bool		 json;		/* --json */
	bool		 stats;		/* --stats */
	bool		 progress;	/* --progress */
	bool		 reverse;	/* diff/check --reverse (pull order) */
	bool		 verify_set;	/* --verify given (backup: else hash) */
	int		 keep;		/* backup --keep; 0: the default */
	const char	*stamp;		/* backup --stamp */
	bool		 prune_dry_run;	/* backup --prune-dry-run */
	bool		 numeric_ids;	/* restore --numeric-ids */
	bool		 break_lock;	/* backup, publish --break-lock */
	const char	*release;	/* publish --release */
	bool		 rollback;	/* publish --rollback */
	bool		 list_releases;	/* publish --list */
	bool		 no_write;	/* probe --no-write */
	bool		 speed;		/* probe --speed */
	const char	*command;
	char		**args;		/* operands after the command */
	int		 nargs;
};

/* Parses argv; returns 0, or an exit code (usage printed) to exit with. */
int	cli_parse(struct cli *o, int argc, char **argv);
/* treesync --connect-fd ...: ssh's ProxyCommand (connect_fd.c); argv
 * after the option. */
int	cli_connect_fd(int argc, char **argv);
void	cli_usage(FILE *f);
/* Writes treesync's version and those of the libraries it runs with. */
void	cli_version(FILE *f);

/* Prints "treesync: msg" (cli_say) and returns the exit code for err. */
int	cli_fail(const struct ts_error *err);
int	exitcode_for(int ts_code);

/* Opens the connection for target, reporting failures; NULL on failure
 * with *rc set to the exit code.  spares: more to open in the background
 * for a push or pull over several (ts_conn_opts.spares). */
struct ts_conn *cli_connect(const struct cli *o, const char *target,
	    int spares, int *rc);
/* Whether a and b, the operands of verb, are one local path and one
 * remote target (in either order); else says why (exit code 2). */
bool	cli_one_remote(const char *verb, const char *a, const char *b);
/* Writes s with the report escapes (report_write_name), so one name is
 * always one line. */
void	cli_print_name(FILE *f, const char *s);
/* Writes "treesync: MESSAGE" and a newline on stderr, MESSAGE escaped as
 * names are: every message the CLI prints goes through here, so paths
 * from the command line or the server never put raw control characters
 * on a terminal nor split a line. */
void	cli_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

int	cmd_ls(const struct cli *o);
int	cmd_stat(const struct cli *o);
int	cmd_mkdir(const struct cli *o);
int	cmd_put(const struct cli *o);
int	cmd_get(const struct cli *o);
int	cmd_push(const struct cli *o);
int	cmd_pull(const struct cli *o);
int	cmd_diff(const struct cli *o);
int	cmd_check(const struct cli *o);
int	cmd_backup(const struct cli *o);
int	cmd_restore(const struct cli *o);
int	cmd_publish(const struct cli *o);
int	cmd_probe(const struct cli *o);

#endif
