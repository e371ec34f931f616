/*
 * Reports of the tree commands (push, diff, check): one call per item as
 * the job emits them, in order, and one at the end.  Three modes:
 *
 *  REPORT_ITEMIZE  rsync's --itemize-changes lines on out ("YXcstpoguax
 *                  path", "*deleting   path"); check: "differ path" etc.
 *  REPORT_QUIET    no item lines.
 *  REPORT_JSON     one JSON object per line on out and nothing else
 *                  (schema: docs/json.md), the last one the summary.
 *
 * In every mode, failed items, conflicts and skips are also written to err
 * as "treesync: msg" lines, so a person watching stderr sees them; but not
 * the items an interruption left undone (TS_ECANCELED): they are counted
 * (report_canceled), for one line at the end.  Names
 * are escaped the same way everywhere (report_write_name), so one name is
 * always one line and reads the same in every format.
 */
#ifndef TS_REPORT_H
#define TS_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "treesync.h"

enum report_mode { REPORT_QUIET, REPORT_ITEMIZE, REPORT_JSON };

struct report;				/* opaque: one per run */

/*
 * out_f: where reports go (stdout); err_f: where item errors go (stderr);
 * both borrowed for the report's life.  stats: the totals at the end
 * (JSON mode always has them).  verbose: with check, also list the files
 * that match.  dry_run: the items are planned only (JSON says so on each).
 * Returns 0, or TS_ENOMEM with *out NULL.  The caller owns *out.
 */
int	report_new(struct report **out, enum report_mode mode, bool stats,
	    bool verbose, bool dry_run, FILE *out_f, FILE *err_f);
void	report_free(struct report *r);		/* NULL is fine */

/* A ts_item_fn: payload is the struct report. */
void	report_item(const struct ts_item *it, void *payload);

/*
 * The end of a run: rc is the job's return code (0, TS_EPARTIAL,
 * TS_EDIFFER, ...); errmsg (may be NULL) the job's error.  JSON mode writes
 * the summary line (with "error" when errmsg is set); the other modes write
 * the stats block with stats, else nothing.  errmsg is never written to
 * err_f: the caller says it there, once.  s may be NULL (all zero).
 */
void	report_summary(struct report *r, const struct ts_summary *s, int rc,
	    const char *errmsg);
/* The warnings gathered from the items, on err, once: symlinks the server
 * cannot create are counted, not listed.  report_summary calls it. */
void	report_warnings(struct report *r);

/* How many items came back TS_ECANCELED: the changes an interrupted run
 * did not do. */
uint64_t report_canceled(const struct report *r);

/*
 * Writes s with the report escapes, so one name is always one line:
 * backslash as \\, newline \n, carriage return \r, tab \t, other control
 * characters (below 0x20, 0x7f, and U+0080..U+009F) and each byte that is
 * not part of valid UTF-8 as \u00XX.  Everything else, UTF-8 included, as
 * it is.
 */
void	report_write_name(FILE *f, const char *s);

/*
 * A rotation decision of backup or publish, for people: "keep NAME (why)",
 * "remove NAME (why)", with a dry run "would remove NAME (why)".  keep:
 * --keep; current: what the reason "current" means to that command.
 */
void	report_prune_line(FILE *f, const struct ts_prune_item *p, int keep,
	    const char *current);

/* --- internal: shared by report_human.c and report_json.c ------------ */

/* report_write_name's escapes; with json, '"' as \" too: the result is
 * then the inside of a valid JSON string, whatever the bytes of s. */
void	report_escape(FILE *f, const char *s, bool json);

/* The JSON lines (report_json.c). */
void	report_json_item(FILE *f, const struct ts_item *it, bool dry_run);
void	report_json_summary(FILE *f, const struct ts_summary *s, int rc,
	    const char *errmsg, bool dry_run);

/* backup (cmd_backup.c): {"type":"prune",...} for one rotation decision,
 * and the summary line with the snapshot's keys added (docs/json.md). */
void	report_json_prune(FILE *f, const struct ts_prune_item *p);
void	report_json_backup_summary(FILE *f, const struct ts_backup_result *b,
	    int rc, const char *errmsg);

/* publish (cmd_publish.c): {"type":"target",...} for one target,
 * {"type":"release",...} for one release of --list (docs/json.md). */
void	report_json_publish_target(FILE *f, const char *target,
	    const char *path, const struct ts_publish_result *r);
void	report_json_release(FILE *f, const char *target,
	    const struct ts_release *r);
void	report_json_publish_summary(FILE *f, const struct ts_summary *sum,
	    int rc, const char *errmsg, const char *release, const char *path,
	    size_t targets, size_t switched);

#endif
