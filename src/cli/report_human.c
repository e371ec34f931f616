/*
 * The reporter of the tree commands, and its human formats: itemized
 * lines as rsync's --itemize-changes, check lines, error lines, and the
 * --stats block.  The JSON lines are in report_json.c.
 *
 * Itemized lines, "YXcstpoguax path" (rsync(1), --itemize-changes):
 *
 *   Y  '>' a file transferred: an upload or a download.  rsync itself
 *          shows an upload as '<' (sent); issue 3 asks for '>' for both.
 *      'c' a local change or creation of a non-file: mkdir, symlink.
 *      '.' attributes only (TS_ITEM_SETATTR).
 *      "*deleting" padded to 11 columns, for a delete, as rsync prints.
 *   X  'f' file, 'd' directory, 'L' symlink.
 *   then 9 letters, '.' when unchanged, or "+++++++++" for a new item
 *   (created, or reason "type": the old entry of another type was just
 *   deleted, as rsync shows it):
 *      c  content differs by hash (reason "hash"), or a symlink's target
 *         changed (reason "target"): rsync's "changed value"
 *      s  size (TS_ATTR_SIZE, or reason "size")
 *      t  mtime (TS_ATTR_MTIME, or reason "mtime")
 *      p  permissions (TS_ATTR_MODE)
 *      o g  owner, group (TS_ATTR_OWNER, TS_ATTR_GROUP: with -o, -g)
 *      u a x  never: atimes, ACLs and xattrs are not synced (backup
 *         keeps them in its metadata record)
 *   and in the last column, 'D' for a file built as a delta on the server
 *   from its old copy (docs/delta.md): ">f.st.....D big.img".
 *   e.g. ">f.st...... a" (size and mtime differ), ">fc........ a" (-c: same
 *   size and mtime, other content), ">fc.t...... a" (-c, and the mtime
 *   differs too).  Only files of equal size are hashed, so a size change
 *   shows ">f.st......", with -c too: 'c' never comes with 's'.  Then
 *   ".f..t...... a", ".d...p..... d/", "cLc........ l -> new-target" (SFTP
 *   can't set a symlink's mtime, so no 't' there).
 *   Directories end with '/', symlinks get " -> target"; the root is "./".
 *   A setattr with reason "new" or "contents" (a directory's mtime put
 *   back after its creation or after changes inside it) is not itemized:
 *   rsync folds it into the creation and doesn't show it either.
 */
#include <assert.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "report.h"

struct report {
	enum report_mode mode;
	bool		 stats;
	bool		 verbose;
	bool		 dry_run;
	FILE		*out;
	FILE		*err;
	bool		 saw_check;	/* the check stats, not the push ones */
	uint64_t	 canceled;	/* items TS_ECANCELED: not done */
	uint64_t	 links_unsupported; /* symlinks the server cannot make */
	char		 links_why[200];	/* the first one's reason */
};

int
report_new(struct report **out, enum report_mode mode, bool stats,
    bool verbose, bool dry_run, FILE *out_f, FILE *err_f)
{
	struct report	*r;

	*out = NULL;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return TS_ENOMEM;
	r->mode = mode;
	r->stats = stats;
	r->verbose = verbose;
	r->dry_run = dry_run;
	r->out = out_f;
	r->err = err_f;
	*out = r;
	return 0;
}

void
report_free(struct report *r)
{
	free(r);
}

static bool
reason_is(const struct ts_item *it, const char *reason)
{
	return it->reason != NULL && strcmp(it->reason, reason) == 0;
}

/* The path as reports show it: the root (an empty path) as ".", and with
 * slash, a directory with a trailing '/'. */
static void
write_path(FILE *f, const struct ts_item *it, bool slash)
{
	const char	*p = it->path != NULL && it->path[0] != '\0' ?
	    it->path : ".";

	report_write_name(f, p);
	if (slash && it->type == TS_TYPE_DIR)
		fputc('/', f);
}

/* Does msg name path already, quoted, whole or as the end of a longer
 * path ("\"/srv/x/a/b\"" names "a/b")?  Library messages usually do. */
static bool
names_path(const char *msg, const char *path)
{
	const char	*p;
	size_t		 n = strlen(path);

	if (n == 0)
		return false;
	for (p = msg; (p = strstr(p, path)) != NULL; p++)
		if (p[n] == '"' && p > msg && (p[-1] == '"' || p[-1] == '/'))
			return true;
	return false;
}

/*
 * One line on err for an item that failed, a conflict or a skip:
 * "treesync: MSG", MSG being the item's error when it names the path,
 * else the error (or the reason) followed by the quoted path.  A skip that
 * is no failure reads "treesync: skipping "path": reason".
 */
static void
write_error_line(FILE *f, const struct ts_item *it)
{
	const char	*msg = it->error != NULL && it->error[0] != '\0' ?
	    it->error : it->reason != NULL ? it->reason : "failed";
	const char	*path = it->path != NULL && it->path[0] != '\0' ?
	    it->path : ".";

	fputs("treesync: ", f);
	if (it->action == TS_ITEM_SKIP && it->code == TS_OK) {
		fputs("skipping \"", f);
		report_write_name(f, path);
		fputs("\": ", f);
		report_write_name(f, msg);
	} else if (names_path(msg, path))
		report_write_name(f, msg);
	else {
		report_write_name(f, msg);
		fputs(" \"", f);
		report_write_name(f, path);
		fputc('"', f);
	}
	fputc('\n', f);
}

/* The 11 characters of an itemized change; false for a setattr that is
 * not itemized (see the top of the file). */
static bool
itemize_code(char code[12], const struct ts_item *it)
{
	bool	 created = it->created || reason_is(it, "type");

	memcpy(code, "...........", 12);
	switch (it->type) {
	case TS_TYPE_DIR:	code[1] = 'd'; break;
	case TS_TYPE_SYMLINK:	code[1] = 'L'; break;
	default:		code[1] = 'f'; break;
	}
	switch (it->action) {
	case TS_ITEM_UPLOAD:
	case TS_ITEM_DOWNLOAD:
		code[0] = '>';
		break;
	case TS_ITEM_MKDIR:
	case TS_ITEM_SYMLINK:
		code[0] = 'c';
		break;
	case TS_ITEM_HARDLINK:		/* rsync's 'h': a hard link */
		code[0] = 'h';
		break;
	case TS_ITEM_SETATTR:
		if (reason_is(it, "new") || reason_is(it, "contents"))
			return false;
		code[0] = '.';
		created = false;
		break;
	default:
		assert(!"not an itemized action");
		return false;
	}
	if (created) {
		memset(code + 2, '+', 9);
		return true;
	}
	if (reason_is(it, "hash") || reason_is(it, "target"))
		code[2] = 'c';
	if ((it->attrs & TS_ATTR_SIZE) != 0 || reason_is(it, "size"))
		code[3] = 's';
	if ((it->attrs & TS_ATTR_MTIME) != 0 || reason_is(it, "mtime"))
		code[4] = 't';
	if ((it->attrs & TS_ATTR_MODE) != 0)
		code[5] = 'p';
	if ((it->attrs & TS_ATTR_OWNER) != 0)
		code[6] = 'o';
	if ((it->attrs & TS_ATTR_GROUP) != 0)
		code[7] = 'g';
	if (it->delta)
		code[10] = 'D';
	return true;
}

/* The itemized line of a change done (or planned) on out. */
static void
write_itemized(FILE *f, const struct ts_item *it)
{
	char	 code[12];

	if (it->action == TS_ITEM_DELETE) {
		fputs("*deleting   ", f);	/* "%-11s " as rsync */
		write_path(f, it, true);
		fputc('\n', f);
		return;
	}
	if (!itemize_code(code, it))
		return;
	fputs(code, f);
	fputc(' ', f);
	write_path(f, it, true);
	if (it->type == TS_TYPE_SYMLINK && it->link != NULL) {
		fputs(" -> ", f);
		report_write_name(f, it->link);
	}
	fputc('\n', f);
}

void
report_item(const struct ts_item *it, void *payload)
{
	struct report	*r = payload;
	bool		 failed = it->code != TS_OK ||
	    it->action == TS_ITEM_CONFLICT || it->action == TS_ITEM_SKIP;

	if (it->action == TS_ITEM_CHECK)
		r->saw_check = true;
	if (r->mode == REPORT_JSON)
		report_json_item(r->out, it, r->dry_run);
	/* An interrupted run stops every change still to do: one line for
	 * them all, at the end, says more than a line each. */
	if (it->code == TS_ECANCELED) {
		r->canceled++;
		return;
	}
	/* A server without symlinks fails every one the same way: one
	 * warning at the end says how many and why, not a line each. */
	if (it->code != TS_OK && it->action == TS_ITEM_SYMLINK &&
	    reason_is(it, "unsupported")) {
		const char	*why = it->error != NULL ?
		    strstr(it->error, "the server cannot") : NULL;

		if (r->links_unsupported++ == 0 && why != NULL)
			snprintf(r->links_why, sizeof(r->links_why), "%s", why);
		return;
	}
	if (failed) {
		write_error_line(r->err, it);
		return;
	}
	if (r->mode != REPORT_ITEMIZE)
		return;
	if (it->action == TS_ITEM_CHECK) {
		if (reason_is(it, "match") && !r->verbose)
			return;
		report_write_name(r->out, it->reason != NULL ? it->reason :
		    "check");
		fputc(' ', r->out);
		write_path(r->out, it, true);
		fputc('\n', r->out);
		return;
	}
	write_itemized(r->out, it);
}

uint64_t
report_canceled(const struct report *r)
{
	return r->canceled;
}

/* "12.3 MiB" (binary units), or "512 B". */
static void
human_bytes(char *buf, size_t size, double n, const char *suffix)
{
	static const char *const units[] = {
		"KiB", "MiB", "GiB", "TiB", "PiB", "EiB",
	};
	size_t	 u = 0;

	if (n < 1024) {
		snprintf(buf, size, "%.0f B%s", n, suffix);
		return;
	}
	n /= 1024;
	while (n >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		n /= 1024;
		u++;
	}
	snprintf(buf, size, "%.1f %s%s", n, units[u], suffix);
}

/* The --stats block: rsync's idea, our labels; one "label: value" a line,
 * the values in one column. */
static void
write_stats(struct report *r, const struct ts_summary *s)
{
	FILE		*f = r->out;
	char		 b[64];
	double		 rate;
	bool		 check = r->saw_check || s->checked_match +
	    s->checked_differ + s->checked_missing > 0;

	if (r->dry_run || s->dry_run)
		fputs("dry run: nothing was changed\n", f);
	if (check) {
		fprintf(f, "%-18s%" PRIu64 "\n", "files checked:",
		    s->checked_match + s->checked_differ + s->checked_missing);
		fprintf(f, "%-18s%" PRIu64 "\n", "matched:", s->checked_match);
		fprintf(f, "%-18s%" PRIu64 "\n", "differ:", s->checked_differ);
		fprintf(f, "%-18s%" PRIu64 "\n", "missing:",
		    s->checked_missing);
	} else {
		/* A symlink replaced is a new one: it counts as created. */
		fprintf(f, "%-18s%" PRIu64 "\n", "files scanned:",
		    s->files_scanned);
		fprintf(f, "%-18s%" PRIu64 " (dirs: %" PRIu64 ", links: %"
		    PRIu64 ")\n", "created:", s->files_created +
		    s->dirs_created + s->symlinks, s->dirs_created,
		    s->symlinks);
		fprintf(f, "%-18s%" PRIu64 "\n", "updated:", s->files_updated);
		if (s->files_linked > 0)
			fprintf(f, "%-18s%" PRIu64 "\n", "hard-linked:",
			    s->files_linked);
		if (s->attrs_set > 0)
			fprintf(f, "%-18s%" PRIu64 "\n", "attributes set:",
			    s->attrs_set);
		fprintf(f, "%-18s%" PRIu64 "\n", "deleted:", s->files_deleted);
		if (s->temps_removed > 0)
			fprintf(f, "%-18s%" PRIu64 "\n", s->dry_run ?
			    "temps to remove:" : "temps removed:",
			    s->temps_removed);
		fprintf(f, "%-18s%" PRIu64 "\n", "unchanged:",
		    s->files_unchanged);
		human_bytes(b, sizeof(b), (double)s->bytes_sent, "");
		fprintf(f, "%-18s%s (%" PRIu64 ")\n", s->pull ?
		    "bytes received:" : "bytes sent:", b, s->bytes_sent);
		/* rsync's "Literal data" and "Matched data". */
		if (!s->pull && s->bytes_matched > 0) {
			human_bytes(b, sizeof(b), (double)s->bytes_literal, "");
			fprintf(f, "%-18s%s (%" PRIu64 ")\n", "literal data:", b,
			    s->bytes_literal);
			human_bytes(b, sizeof(b), (double)s->bytes_matched, "");
			fprintf(f, "%-18s%s (%" PRIu64 ")\n", "matched data:", b,
			    s->bytes_matched);
		}
	}
	if (s->errors > 0)
		fprintf(f, "%-18s%" PRIu64 "\n", "errors:", s->errors);
	fprintf(f, "%-18s%.2f s\n", "elapsed:", s->elapsed);
	/* A check or a dry run sends no file: no rate. */
	if (!check && !r->dry_run && !s->dry_run) {
		rate = s->elapsed > 0 ? (double)s->bytes_sent / s->elapsed : 0;
		human_bytes(b, sizeof(b), rate, "/s");
		fprintf(f, "%-18s%s\n", "rate:", b);
	}
	if (s->hash_used != NULL)
		fprintf(f, "%-18s%s %s\n", "hash:", s->hash_used,
		    s->hash_where != NULL && strcmp(s->hash_where,
		    "read-back") == 0 ? "here, on files read back" :
		    "on the server");
}

void
report_warnings(struct report *r)
{
	if (r->links_unsupported > 0)
		fprintf(r->err, "treesync: warning: %" PRIu64 " symlink%s not "
		    "created: %s; --no-links skips symlinks on purpose, -L "
		    "sends the files they point to\n", r->links_unsupported,
		    r->links_unsupported == 1 ? "" : "s",
		    r->links_why[0] != '\0' ? r->links_why :
		    "the server cannot create symlinks");
	r->links_unsupported = 0;		/* said once */
}

void
report_summary(struct report *r, const struct ts_summary *s, int rc,
    const char *errmsg)
{
	static const struct ts_summary	 zero;

	if (s == NULL)
		s = &zero;
	report_warnings(r);
	if (r->mode == REPORT_JSON)
		report_json_summary(r->out, s, rc, errmsg, r->dry_run);
	else if (r->stats)
		write_stats(r, s);
	fflush(r->out);
}

/* Why a snapshot or release is kept or removed (ts_prune_item.reason). */
static void
write_prune_reason(FILE *f, const char *reason, int keep, const char *current)
{
	if (strcmp(reason, "newest") == 0)
		fprintf(f, "one of the newest %d", keep);
	else if (strcmp(reason, "current") == 0)
		fputs(current, f);
	else if (strcmp(reason, "previous") == 0)
		fputs("the one before current", f);
	else if (strcmp(reason, "expired") == 0)
		fprintf(f, "older than the newest %d", keep);
	else if (strcmp(reason, "incomplete") == 0)
		fputs("an upload that did not finish", f);
	else if (strcmp(reason, "stale") == 0)
		fputs("unfinished run, older than the newest snapshot", f);
	else if (strcmp(reason, "in-progress") == 0)
		fputs("unfinished run, not older than the newest snapshot", f);
	else if (strcmp(reason, "removing") == 0)
		fputs("unfinished removal", f);
	else
		report_write_name(f, reason);
}

void
report_prune_line(FILE *f, const struct ts_prune_item *p, int keep,
    const char *current)
{
	fputs(p->keep ? "keep " : p->dry_run ? "would remove " : "remove ", f);
	report_write_name(f, p->name);
	fputs(" (", f);
	write_prune_reason(f, p->reason, keep, current);
	fputs(")\n", f);
}
