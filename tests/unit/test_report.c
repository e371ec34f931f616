/*
 * The reporters: itemized lines as rsync prints them, JSON lines that are
 * strict JSON whatever the bytes of a name, the summary keys, the stats
 * block, and one escape for every format.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cli.h"
#include "report.h"

/* --- capture -------------------------------------------------------------- */

/* A report writing into two memory buffers. */
struct cap {
	char		*out, *err;
	size_t		 nout, nerr;
	FILE		*fo, *fe;
	struct report	*r;
};

static void
cap_open(struct cap *c, enum report_mode mode, bool stats, bool verbose,
    bool dry_run)
{
	memset(c, 0, sizeof(*c));
	c->fo = open_memstream(&c->out, &c->nout);
	c->fe = open_memstream(&c->err, &c->nerr);
	assert_non_null(c->fo);
	assert_non_null(c->fe);
	assert_int_equal(report_new(&c->r, mode, stats, verbose, dry_run,
	    c->fo, c->fe), 0);
	assert_non_null(c->r);
}

/* Ends the report; c->out and c->err then hold everything written. */
static void
cap_close(struct cap *c)
{
	report_free(c->r);
	c->r = NULL;
	assert_int_equal(fclose(c->fo), 0);
	assert_int_equal(fclose(c->fe), 0);
}

static void
cap_dispose(struct cap *c)
{
	free(c->out);
	free(c->err);
}

/* What one item alone writes on out (and nothing on err) in mode. */
static void
expect_item(enum report_mode mode, const struct ts_item *it,
    const char *want)
{
	struct cap	 c;

	cap_open(&c, mode, false, false, false);
	report_item(it, c.r);
	cap_close(&c);
	assert_string_equal(c.out, want);
	assert_string_equal(c.err, "");
	cap_dispose(&c);
}

/* What report_write_name makes of s. */
static char *
escaped(const char *s)
{
	char	*buf = NULL;
	size_t	 n = 0;
	FILE	*f = open_memstream(&buf, &n);

	assert_non_null(f);
	report_write_name(f, s);
	assert_int_equal(fclose(f), 0);
	return buf;
}

/* --- a strict JSON checker (RFC 8259), for the lines we write ------------- */

static const char *json_value(const char *p);

static const char *
json_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

/* A string: valid UTF-8, no raw control character, only valid escapes. */
static const char *
json_string(const char *p)
{
	const unsigned char	*u;
	int			 i, n;

	if (*p++ != '"')
		return NULL;
	for (;;) {
		u = (const unsigned char *)p;
		if (*u == '"')
			return p + 1;
		if (*u < 0x20)
			return NULL;
		if (*u == '\\') {
			p++;
			if (*p == 'u') {
				for (i = 1; i <= 4; i++)
					if (strchr("0123456789abcdefABCDEF",
					    p[i]) == NULL || p[i] == '\0')
						return NULL;
				p += 5;
			} else if (*p != '\0' && strchr("\"\\/bfnrt", *p) !=
			    NULL)
				p++;
			else
				return NULL;
			continue;
		}
		if (*u < 0x80)
			n = 0;
		else if (*u >= 0xc2 && *u <= 0xdf)
			n = 1;
		else if (*u >= 0xe0 && *u <= 0xef)
			n = 2;
		else if (*u >= 0xf0 && *u <= 0xf4)
			n = 3;
		else
			return NULL;
		if ((*u == 0xe0 && u[1] < 0xa0) ||
		    (*u == 0xed && u[1] > 0x9f) ||
		    (*u == 0xf0 && u[1] < 0x90) || (*u == 0xf4 && u[1] > 0x8f))
			return NULL;
		for (i = 1; i <= n; i++)
			if (u[i] < 0x80 || u[i] > 0xbf)
				return NULL;
		p += n + 1;
	}
}

static const char *
json_number(const char *p)
{
	const char	*start;

	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (*p >= '0' && *p <= '9')
			p++;
	else
		return NULL;
	if (*p == '.') {
		start = ++p;
		while (*p >= '0' && *p <= '9')
			p++;
		if (p == start)
			return NULL;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		start = p;
		while (*p >= '0' && *p <= '9')
			p++;
		if (p == start)
			return NULL;
	}
	return p;
}

static const char *
json_container(const char *p, char close, bool object)
{
	p = json_ws(p + 1);
	if (*p == close)
		return p + 1;
	for (;;) {
		if (object) {
			if ((p = json_string(json_ws(p))) == NULL)
				return NULL;
			p = json_ws(p);
			if (*p++ != ':')
				return NULL;
		}
		if ((p = json_value(p)) == NULL)
			return NULL;
		p = json_ws(p);
		if (*p == close)
			return p + 1;
		if (*p++ != ',')
			return NULL;
	}
}

static const char *
json_value(const char *p)
{
	p = json_ws(p);
	switch (*p) {
	case '{':	return json_container(p, '}', true);
	case '[':	return json_container(p, ']', false);
	case '"':	return json_string(p);
	case 't':	return strncmp(p, "true", 4) == 0 ? p + 4 : NULL;
	case 'f':	return strncmp(p, "false", 5) == 0 ? p + 5 : NULL;
	case 'n':	return strncmp(p, "null", 4) == 0 ? p + 4 : NULL;
	default:	return json_number(p);
	}
}

/* Every line of text is exactly one JSON object. */
static void
assert_json_lines(const char *text)
{
	const char	*p = text, *end;

	assert_true(*p != '\0');
	while (*p != '\0') {
		assert_int_equal(*p, '{');
		end = json_value(p);
		assert_non_null(end);
		assert_int_equal(*end, '\n');
		p = end + 1;
	}
}

/* --- itemized lines ------------------------------------------------------- */

static void
test_report_itemize_new_file(void **state)
{
	struct ts_item	 it = { .action = TS_ITEM_UPLOAD, .type = TS_TYPE_FILE,
	    .path = "a/b.txt", .reason = "new", .size = 5, .created = true };

	(void)state;
	expect_item(REPORT_ITEMIZE, &it, ">f+++++++++ a/b.txt\n");
}

static void
test_report_itemize_size_and_mtime_update(void **state)
{
	struct ts_item	 it = { .action = TS_ITEM_UPLOAD, .type = TS_TYPE_FILE,
	    .path = "upd.txt", .reason = "size",
	    .attrs = TS_ATTR_SIZE | TS_ATTR_MTIME };

	(void)state;
	expect_item(REPORT_ITEMIZE, &it, ">f.st...... upd.txt\n");
}

static void
test_report_itemize_mtime_update(void **state)
{
	struct ts_item	 it = { .action = TS_ITEM_UPLOAD, .type = TS_TYPE_FILE,
	    .path = "keep.txt", .reason = "mtime", .attrs = TS_ATTR_MTIME };

	(void)state;
	expect_item(REPORT_ITEMIZE, &it, ">f..t...... keep.txt\n");
}

/* A reason alone sets its letter, even when the job left attrs empty. */
static void
test_report_itemize_reason_without_attrs(void **state)
{
	struct ts_item	 it = { .action = TS_ITEM_UPLOAD, .type = TS_TYPE_FILE,
	    .path = "a", .reason = "size" };

	(void)state;
	expect_item(REPORT_ITEMIZE, &it, ">f.s....... a\n");
}

/* -c, same size and mtime, other content: rsync's "c" alone. */
static void
test_report_itemize_hash_update(void **state)
{
	struct ts_item	 it = { .action = TS_ITEM_UPLOAD, .type = TS_TYPE_FILE,
	    .path = "sub/h.txt", .reason = "hash" };

	(void)state;
	expect_item(REPORT_ITEMIZE, &it, ">fc........ sub/h.txt\n");
}

/* -c, other content and another mtime (same size, or it wouldn't be
 * hashed). */
static void
test_report_itemize_hash_and_mtime_update(void **state)
{
	struct ts_item	 it = { .action = TS_ITEM_UPLOAD, .type = TS_TYPE_FILE,
	    .path = "h", .reason = "hash", .attrs = TS_ATTR_MTIME };

	(void)state;
	expect_item(REPORT_ITEMIZE, &it, ">fc.t...... h\n");
}

/* Every letter the job sets shows, hash or not (the planner hashes only
 * files of equal size, so it never sends "hash" with TS_ATTR_SIZE). */
static void
test_report_itemize_hash_with_every_attr(void **state)
{
	struct ts_item	 it = { .action = TS_ITEM_UPLOAD, .type = TS_TYPE_FILE,
	    .path = "h", .reason = "hash",
	    .attrs = TS_ATTR_SIZE | TS_ATTR_MTIME | TS_ATTR_MODE };

	(void)state;
	expect_item(REPORT_ITEMIZE, &it, ">fcstp..... h\n");
}

static void
test_report_itemize_download(void **state)
{
	struct ts_item	 it = { .action = TS_ITEM_DOWNLOAD,
	    .type = TS_TYPE_FILE, .path = "d.txt", .reason = "new",
	    .created = true };

	(void)state;
	expect_item(REPORT_ITEMIZE, &it, ">f+++++++++ d.txt\n");
}

/* A type change: the old entry was deleted, this one is new. */
static void
test_report_itemize_type_change_is_new(void **state)
{
	struct ts_item	 it = { .action = TS_ITEM_UPLOAD, .type = TS_TYPE_FILE,
	    .path = "was-dir", .reason = "type" };

	(void)state;
	expect_item(REPORT_ITEMIZE, &it, ">f+++++++++ was-dir\n");
}

static void
test_report_itemize_setattr_mtime(void **state)
{
	struct ts_item	 it = { .action = TS_ITEM_SETATTR, .type = TS_TYPE_FILE,
	    .path = "a.txt", .reason = "attrs", .attrs = TS_ATTR_MTIME };

	(void)state;
	expect_item(REPORT_ITEMIZE, &it, ".f..t...... a.txt\n");
}

static void
test_report_itemize_setattr_mode(void **state)
{
	struct ts_item	 it = { .action = TS_ITEM_SETATTR, .type = TS_TYPE_FILE,
	    .path = "sub/s.txt", .reason = "attrs", .attrs = TS_ATTR_MODE };

	(void)state;
	expect_item(REPORT_ITEMIZE, &it, ".f...p..... sub/s.txt\n");
}

static void
test_report_itemize_setattr_dir(void **state)
{
	struct ts_item	 it = { .action = TS_ITEM_SETATTR, .type = TS_TYPE_DIR,
	    .path = "dir", .reason = "attrs",
	    .attrs = TS_ATTR_MTIME | TS_ATTR_MODE };

	(void)state;
	expect_item(REPORT_ITEMIZE, &it, ".d..tp..... dir/\n");
}

/* A directory's mtime put back after its creation or after changes inside
 * it is no change of its own: rsync doesn't itemize it. */
static void
test_report_itemize_setattr_new_or_contents_hidden(void **state)
{
	struct ts_item	 n = { .action = TS_ITEM_SETATTR, .type = TS_TYPE_DIR,
	    .path = "d", .reason = "new", .attrs = TS_ATTR_MTIME };
	struct ts_item	 c = { .action = TS_ITEM_SETATTR, .type = TS_TYPE_DIR,
	    .path = "d", .reason = "contents", .attrs = TS_ATTR_MTIME };

	(void)state;
	expect_item(REPORT_ITEMIZE, &n, "");
	expect_item(REPORT_ITEMIZE, &c, "");
}

static void
test_report_itemize_new_dir(void **state)
{
	struct ts_item	 it = { .action = TS_ITEM_MKDIR, .type = TS_TYPE_DIR,
	    .path = "sub1/sub2", .reason = "new", .created = true };

	(void)state;
	expect_item(REPORT_ITEMIZE, &it, "cd+++++++++ sub1/sub2/\n");
}

/* The root has an empty path: "./", as rsync prints it. */
static void
test_report_itemize_root_dir(void **state)
{
	struct ts_item	 it = { .action = TS_ITEM_MKDIR, .type = TS_TYPE_DIR,
	    .path = "", .reason = "new", .created = true };

	(void)state;
	expect_item(REPORT_ITEMIZE, &it, "cd+++++++++ ./\n");
}

static void
test_report_itemize_new_symlink(void **state)
{
	struct ts_item	 it = { .action = TS_ITEM_SYMLINK,
	    .type = TS_TYPE_SYMLINK, .path = "ln", .reason = "new",
	    .link = "keep.txt", .created = true };

	(void)state;
	expect_item(REPORT_ITEMIZE, &it, "cL+++++++++ ln -> keep.txt\n");
}

/* rsync's "c" on a symlink: its value (the target) changed. */
static void
test_report_itemize_changed_symlink(void **state)
{
	struct ts_item	 it = { .action = TS_ITEM_SYMLINK,
	    .type = TS_TYPE_SYMLINK, .path = "link-to-file",
	    .reason = "target", .link = "sub1/file-b.txt" };

	(void)state;
	expect_item(REPORT_ITEMIZE, &it,
	    "cLc........ link-to-file -> sub1/file-b.txt\n");
}

static void
test_report_itemize_delete_file(void **state)
{
	struct ts_item	 it = { .action = TS_ITEM_DELETE, .type = TS_TYPE_FILE,
	    .path = "x", .reason = "gone", .size = 10 };

	(void)state;
	expect_item(REPORT_ITEMIZE, &it, "*deleting   x\n");
}

static void
test_report_itemize_delete_dir(void **state)
{
	struct ts_item	 it = { .action = TS_ITEM_DELETE, .type = TS_TYPE_DIR,
	    .path = "old/dir", .reason = "gone" };

	(void)state;
	expect_item(REPORT_ITEMIZE, &it, "*deleting   old/dir/\n");
}

static void
test_report_itemize_delete_symlink(void **state)
{
	struct ts_item	 it = { .action = TS_ITEM_DELETE,
	    .type = TS_TYPE_SYMLINK, .path = "l", .reason = "gone",
	    .link = "t" };

	(void)state;
	expect_item(REPORT_ITEMIZE, &it, "*deleting   l\n");
}

/* A failed item: nothing on out, its error on err; the error names the
 * path already, so it isn't added again. */
static void
test_report_itemize_failure_to_err(void **state)
{
	struct ts_item	 it = { .action = TS_ITEM_UPLOAD, .type = TS_TYPE_FILE,
	    .path = "d/b", .reason = "new", .created = true,
	    .code = TS_EREMOTE,
	    .error = "rename \"/srv/d/.b.tmp\" to \"/srv/d/b\": denied" };
	struct cap	 c;

	(void)state;
	cap_open(&c, REPORT_ITEMIZE, false, false, false);
	report_item(&it, c.r);
	cap_close(&c);
	assert_string_equal(c.out, "");
	assert_string_equal(c.err, "treesync: rename \"/srv/d/.b.tmp\" to "
	    "\"/srv/d/b\": denied\n");
	cap_dispose(&c);
}

/* Symlinks a server cannot create: no line each, one warning at the end
 * with how many and why, in every mode. */
static void
test_report_unsupported_symlinks_one_warning(void **state)
{
	struct ts_item	 it = { .action = TS_ITEM_SYMLINK,
	    .type = TS_TYPE_SYMLINK, .path = "l1", .reason = "unsupported",
	    .link = "t", .created = true, .code = TS_EREMOTE,
	    .error = "symlink \"/srv/l1\": the server cannot create symlinks "
	    "(operation unsupported)" };
	enum report_mode modes[] = { REPORT_ITEMIZE, REPORT_QUIET };
	struct cap	 c;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		cap_open(&c, modes[i], false, false, false);
		report_item(&it, c.r);
		it.path = "d/l2";
		report_item(&it, c.r);
		it.path = "l1";
		report_summary(c.r, NULL, TS_EPARTIAL, NULL);
		cap_close(&c);
		assert_string_equal(c.out, "");
		assert_string_equal(c.err, "treesync: warning: 2 symlinks not "
		    "created: the server cannot create symlinks (operation "
		    "unsupported); --no-links skips symlinks on purpose, -L "
		    "sends the files they point to\n");
		cap_dispose(&c);
	}
}

/* An error that doesn't name the path gets it appended, quoted. */
static void
test_report_itemize_failure_adds_path(void **state)
{
	struct ts_item	 it = { .action = TS_ITEM_DELETE, .type = TS_TYPE_FILE,
	    .path = "b", .reason = "gone", .code = TS_EACCES,
	    .error = "remove \"/srv/bb\": permission denied" };
	struct cap	 c;

	(void)state;
	cap_open(&c, REPORT_ITEMIZE, false, false, false);
	report_item(&it, c.r);
	cap_close(&c);
	assert_string_equal(c.out, "");
	assert_string_equal(c.err, "treesync: remove \"/srv/bb\": permission "
	    "denied \"b\"\n");
	cap_dispose(&c);
}

static void
test_report_itemize_conflict_to_err(void **state)
{
	struct ts_item	 it = { .action = TS_ITEM_CONFLICT,
	    .type = TS_TYPE_FILE, .path = "dir", .reason = "not-empty",
	    .code = TS_EREMOTE,
	    .error = "cannot replace \"dir\": a non-empty directory is in "
	    "the way (use --delete)" };
	struct ts_item	 bare = { .action = TS_ITEM_CONFLICT,
	    .type = TS_TYPE_FILE, .path = "e", .reason = "protected" };
	struct cap	 c;

	(void)state;
	cap_open(&c, REPORT_ITEMIZE, false, false, false);
	report_item(&it, c.r);
	report_item(&bare, c.r);
	cap_close(&c);
	assert_string_equal(c.out, "");
	assert_string_equal(c.err, "treesync: cannot replace \"dir\": a "
	    "non-empty directory is in the way (use --delete)\n"
	    "treesync: protected \"e\"\n");
	cap_dispose(&c);
}

static void
test_report_itemize_skip_to_err(void **state)
{
	struct ts_item	 bad = { .action = TS_ITEM_SKIP, .path = "locked",
	    .reason = "unreadable", .code = TS_ELOCAL,
	    .error = "open \"/home/u/src/locked\": permission denied" };
	struct ts_item	 fifo = { .action = TS_ITEM_SKIP, .path = "fifo",
	    .reason = "special" };
	struct cap	 c;

	(void)state;
	cap_open(&c, REPORT_ITEMIZE, false, false, false);
	report_item(&bad, c.r);
	report_item(&fifo, c.r);
	cap_close(&c);
	assert_string_equal(c.out, "");
	assert_string_equal(c.err, "treesync: open \"/home/u/src/locked\": "
	    "permission denied\ntreesync: skipping \"fifo\": special\n");
	cap_dispose(&c);
}

/* A name in an error line is escaped too: one error, one line. */
static void
test_report_error_line_escapes_names(void **state)
{
	struct ts_item	 it = { .action = TS_ITEM_UPLOAD, .type = TS_TYPE_FILE,
	    .path = "a\nb", .reason = "new", .code = TS_ELOCAL,
	    .error = "read \"/src/a\nb\": input/output error" };
	struct cap	 c;

	(void)state;
	cap_open(&c, REPORT_QUIET, false, false, false);
	report_item(&it, c.r);
	cap_close(&c);
	assert_string_equal(c.err,
	    "treesync: read \"/src/a\\nb\": input/output error\n");
	cap_dispose(&c);
}

static void
test_report_check_lines(void **state)
{
	struct ts_item	 it = { .action = TS_ITEM_CHECK, .type = TS_TYPE_FILE };
	struct cap	 c;
	static const char *const reasons[] = {
		"match", "differ", "missing-remote", "missing-local",
	};
	size_t		 i;

	(void)state;
	cap_open(&c, REPORT_ITEMIZE, false, false, false);
	for (i = 0; i < 4; i++) {
		it.reason = reasons[i];
		it.path = "sub/f";
		report_item(&it, c.r);
	}
	cap_close(&c);
	assert_string_equal(c.out, "differ sub/f\nmissing-remote sub/f\n"
	    "missing-local sub/f\n");
	assert_string_equal(c.err, "");
	cap_dispose(&c);
}

static void
test_report_check_verbose_lists_matches(void **state)
{
	struct ts_item	 it = { .action = TS_ITEM_CHECK, .type = TS_TYPE_FILE,
	    .path = "top.txt", .reason = "match" };
	struct cap	 c;

	(void)state;
	cap_open(&c, REPORT_ITEMIZE, false, true, false);
	report_item(&it, c.r);
	cap_close(&c);
	assert_string_equal(c.out, "match top.txt\n");
	cap_dispose(&c);
}

static void
test_report_quiet_prints_no_items(void **state)
{
	struct ts_item	 ok = { .action = TS_ITEM_UPLOAD, .type = TS_TYPE_FILE,
	    .path = "a", .reason = "new", .created = true };
	struct ts_item	 differ = { .action = TS_ITEM_CHECK,
	    .type = TS_TYPE_FILE, .path = "b", .reason = "differ" };
	struct ts_item	 bad = { .action = TS_ITEM_UPLOAD, .type = TS_TYPE_FILE,
	    .path = "c", .reason = "new", .code = TS_EREMOTE,
	    .error = "write \"/srv/c\": no space left on device" };
	struct ts_summary s = { .files_created = 1 };
	struct cap	 c;

	(void)state;
	cap_open(&c, REPORT_QUIET, false, true, false);
	report_item(&ok, c.r);
	report_item(&differ, c.r);
	report_item(&bad, c.r);
	report_summary(c.r, &s, TS_EPARTIAL, "1 of the changes failed");
	cap_close(&c);
	assert_string_equal(c.out, "");
	assert_string_equal(c.err,
	    "treesync: write \"/srv/c\": no space left on device\n");
	cap_dispose(&c);
}

/* --- stats ---------------------------------------------------------------- */

static void
test_report_stats_block(void **state)
{
	struct ts_summary s = { .files_scanned = 1234, .files_created = 7,
	    .files_updated = 5, .dirs_created = 2, .symlinks = 1,
	    .files_unchanged = 1219, .bytes_sent = 12901234,
	    .elapsed = 1.23, .hash_used = "sha256", .hash_where = "server" };
	struct cap	 c;

	(void)state;
	cap_open(&c, REPORT_ITEMIZE, true, false, false);
	report_summary(c.r, &s, 0, NULL);
	cap_close(&c);
	assert_string_equal(c.out,
	    "files scanned:    1234\n"
	    "created:          10 (dirs: 2, links: 1)\n"
	    "updated:          5\n"
	    "deleted:          0\n"
	    "unchanged:        1219\n"
	    "bytes sent:       12.3 MiB (12901234)\n"
	    "elapsed:          1.23 s\n"
	    "rate:             10.0 MiB/s\n"
	    "hash:             sha256 on the server\n");
	assert_string_equal(c.err, "");
	cap_dispose(&c);
}

static void
test_report_stats_dry_run_first_line(void **state)
{
	struct ts_summary s = { .files_scanned = 3, .files_created = 3,
	    .bytes_sent = 100, .attrs_set = 1, .errors = 2, .dry_run = true };
	struct cap	 c;

	(void)state;
	cap_open(&c, REPORT_QUIET, true, false, true);
	report_summary(c.r, &s, TS_EPARTIAL, "2 of the changes failed");
	cap_close(&c);
	assert_string_equal(c.out,
	    "dry run: nothing was changed\n"
	    "files scanned:    3\n"
	    "created:          3 (dirs: 0, links: 0)\n"
	    "updated:          0\n"
	    "attributes set:   1\n"
	    "deleted:          0\n"
	    "unchanged:        0\n"
	    "bytes sent:       100 B (100)\n"
	    "errors:           2\n"
	    "elapsed:          0.00 s\n");
	assert_string_equal(c.err, "");	/* the caller says errmsg */
	cap_dispose(&c);
}

static void
test_report_stats_check(void **state)
{
	struct ts_item	 it = { .action = TS_ITEM_CHECK, .type = TS_TYPE_FILE,
	    .path = "f", .reason = "differ" };
	struct ts_summary s = { .checked_match = 10, .checked_differ = 1,
	    .checked_missing = 2, .elapsed = 0.5, .hash_used = "xxh128",
	    .hash_where = "read-back" };
	struct cap	 c;

	(void)state;
	cap_open(&c, REPORT_ITEMIZE, true, false, false);
	report_item(&it, c.r);
	report_summary(c.r, &s, TS_EDIFFER, "1 file differs");
	cap_close(&c);
	assert_string_equal(c.out,
	    "differ f\n"
	    "files checked:    13\n"
	    "matched:          10\n"
	    "differ:           1\n"
	    "missing:          2\n"
	    "elapsed:          0.50 s\n"
	    "hash:             xxh128 here, on files read back\n");
	cap_dispose(&c);
}

static void
test_report_stats_bytes_received_for_downloads(void **state)
{
	struct ts_item	 it = { .action = TS_ITEM_DOWNLOAD,
	    .type = TS_TYPE_FILE, .path = "f", .reason = "new",
	    .created = true, .size = 3 * 1024 * 1024 };
	struct ts_summary s = { .files_created = 1,
	    .bytes_sent = 3 * 1024 * 1024, .elapsed = 2, .pull = true };
	struct cap	 c;

	(void)state;
	cap_open(&c, REPORT_QUIET, true, false, false);
	report_item(&it, c.r);
	report_summary(c.r, &s, 0, NULL);
	cap_close(&c);
	assert_non_null(strstr(c.out,
	    "\nbytes received:   3.0 MiB (3145728)\n"));
	assert_non_null(strstr(c.out, "\nrate:             1.5 MiB/s\n"));
	cap_dispose(&c);
}

static void
test_report_no_stats_without_the_option(void **state)
{
	struct ts_summary s = { .files_scanned = 3 };
	struct cap	 c;

	(void)state;
	cap_open(&c, REPORT_ITEMIZE, false, false, false);
	report_summary(c.r, &s, 0, NULL);
	report_summary(c.r, NULL, 0, NULL);
	cap_close(&c);
	assert_string_equal(c.out, "");
	cap_dispose(&c);
}

/* --- JSON lines ----------------------------------------------------------- */

/* One item's JSON line in a run with dry_run as given: exactly want, and
 * strict JSON. */
static void
expect_json(const struct ts_item *it, bool dry_run, const char *want)
{
	struct cap	 c;

	cap_open(&c, REPORT_JSON, false, false, dry_run);
	report_item(it, c.r);
	cap_close(&c);
	assert_string_equal(c.out, want);
	assert_json_lines(c.out);
	cap_dispose(&c);
}

static void
test_report_json_upload(void **state)
{
	struct ts_item	 it = { .action = TS_ITEM_UPLOAD, .type = TS_TYPE_FILE,
	    .path = "a/b.txt", .reason = "size", .size = 123,
	    .attrs = TS_ATTR_SIZE | TS_ATTR_MTIME };

	(void)state;
	expect_json(&it, false, "{\"type\":\"item\",\"action\":\"upload\","
	    "\"reason\":\"size\",\"path\":\"a/b.txt\",\"item_type\":\"file\","
	    "\"size\":123,\"attrs\":[\"size\",\"mtime\"]}\n");
}

static void
test_report_json_upload_new_dry_run(void **state)
{
	struct ts_item	 it = { .action = TS_ITEM_UPLOAD, .type = TS_TYPE_FILE,
	    .path = "n", .reason = "new", .size = 0, .created = true };

	(void)state;
	expect_json(&it, true, "{\"type\":\"item\",\"action\":\"upload\","
	    "\"reason\":\"new\",\"path\":\"n\",\"item_type\":\"file\","
	    "\"size\":0,\"dry_run\":true}\n");
}

static void
test_report_json_download(void **state)
{
	struct ts_item	 it = { .action = TS_ITEM_DOWNLOAD,
	    .type = TS_TYPE_FILE, .path = "d", .reason = "mtime", .size = 9,
	    .attrs = TS_ATTR_MTIME };

	(void)state;
	expect_json(&it, false, "{\"type\":\"item\",\"action\":\"download\","
	    "\"reason\":\"mtime\",\"path\":\"d\",\"item_type\":\"file\","
	    "\"size\":9,\"attrs\":[\"mtime\"]}\n");
}

static void
test_report_json_mkdir(void **state)
{
	struct ts_item	 it = { .action = TS_ITEM_MKDIR, .type = TS_TYPE_DIR,
	    .path = "newdir", .reason = "new", .created = true };

	(void)state;
	expect_json(&it, false, "{\"type\":\"item\",\"action\":\"mkdir\","
	    "\"reason\":\"new\",\"path\":\"newdir\",\"item_type\":\"dir\"}\n");
}

static void
test_report_json_mkdir_root(void **state)
{
	struct ts_item	 it = { .action = TS_ITEM_MKDIR, .type = TS_TYPE_DIR,
	    .path = "", .reason = "new", .created = true };

	(void)state;
	expect_json(&it, false, "{\"type\":\"item\",\"action\":\"mkdir\","
	    "\"reason\":\"new\",\"path\":\".\",\"item_type\":\"dir\"}\n");
}

static void
test_report_json_symlink(void **state)
{
	struct ts_item	 it = { .action = TS_ITEM_SYMLINK,
	    .type = TS_TYPE_SYMLINK, .path = "ln", .reason = "target",
	    .link = "../a \"b\"" };

	(void)state;
	expect_json(&it, false, "{\"type\":\"item\",\"action\":\"symlink\","
	    "\"reason\":\"target\",\"path\":\"ln\",\"item_type\":\"symlink\","
	    "\"link\":\"../a \\\"b\\\"\"}\n");
}

static void
test_report_json_setattr(void **state)
{
	struct ts_item	 it = { .action = TS_ITEM_SETATTR, .type = TS_TYPE_DIR,
	    .path = "d", .reason = "attrs",
	    .attrs = TS_ATTR_MTIME | TS_ATTR_MODE };

	(void)state;
	expect_json(&it, false, "{\"type\":\"item\",\"action\":\"setattr\","
	    "\"reason\":\"attrs\",\"path\":\"d\",\"item_type\":\"dir\","
	    "\"attrs\":[\"mtime\",\"mode\"]}\n");
}

/* Unlike the itemized lines, JSON lists every setattr. */
static void
test_report_json_setattr_contents(void **state)
{
	struct ts_item	 it = { .action = TS_ITEM_SETATTR, .type = TS_TYPE_DIR,
	    .path = "d", .reason = "contents", .attrs = TS_ATTR_MTIME };

	(void)state;
	expect_json(&it, false, "{\"type\":\"item\",\"action\":\"setattr\","
	    "\"reason\":\"contents\",\"path\":\"d\",\"item_type\":\"dir\","
	    "\"attrs\":[\"mtime\"]}\n");
}

static void
test_report_json_delete(void **state)
{
	struct ts_item	 it = { .action = TS_ITEM_DELETE, .type = TS_TYPE_FILE,
	    .path = "gone.txt", .reason = "gone", .size = 7 };

	(void)state;
	expect_json(&it, false, "{\"type\":\"item\",\"action\":\"delete\","
	    "\"reason\":\"gone\",\"path\":\"gone.txt\",\"item_type\":\"file\","
	    "\"size\":7}\n");
}

static void
test_report_json_check(void **state)
{
	struct ts_item	 it = { .action = TS_ITEM_CHECK, .type = TS_TYPE_FILE,
	    .path = "m", .reason = "match", .size = 1 };

	(void)state;
	expect_json(&it, false, "{\"type\":\"item\",\"action\":\"check\","
	    "\"reason\":\"match\",\"path\":\"m\",\"item_type\":\"file\","
	    "\"size\":1}\n");
}

/* A failure: the item with "code" (the exit code it maps to) and "error"
 * on out, and the error line on err as well. */
static void
test_report_json_failure(void **state)
{
	struct ts_item	 it = { .action = TS_ITEM_UPLOAD, .type = TS_TYPE_FILE,
	    .path = "f", .reason = "new", .size = 2, .created = true,
	    .code = TS_EVERIFY, .error = "\"/srv/f\": 1 bytes on the server, "
	    "2 sent" };
	struct cap	 c;

	(void)state;
	cap_open(&c, REPORT_JSON, false, false, false);
	report_item(&it, c.r);
	cap_close(&c);
	assert_string_equal(c.out, "{\"type\":\"item\",\"action\":\"upload\","
	    "\"reason\":\"new\",\"path\":\"f\",\"item_type\":\"file\","
	    "\"size\":2,\"code\":9,\"error\":\"\\\"/srv/f\\\": 1 bytes on the "
	    "server, 2 sent\"}\n");
	assert_json_lines(c.out);
	assert_string_equal(c.err,
	    "treesync: \"/srv/f\": 1 bytes on the server, 2 sent\n");
	cap_dispose(&c);
}

static void
test_report_json_conflict(void **state)
{
	struct ts_item	 it = { .action = TS_ITEM_CONFLICT,
	    .type = TS_TYPE_FILE, .path = "x", .reason = "not-empty",
	    .code = TS_EREMOTE,
	    .error = "cannot replace \"x\": a non-empty directory is in the "
	    "way (use --delete)" };
	struct cap	 c;

	(void)state;
	cap_open(&c, REPORT_JSON, false, false, false);
	report_item(&it, c.r);
	cap_close(&c);
	assert_string_equal(c.out, "{\"type\":\"item\",\"action\":\"conflict\","
	    "\"reason\":\"not-empty\",\"path\":\"x\",\"item_type\":\"file\","
	    "\"size\":0,\"code\":4,\"error\":\"cannot replace \\\"x\\\": a "
	    "non-empty directory is in the way (use --delete)\"}\n");
	assert_json_lines(c.out);
	cap_dispose(&c);
}

/* A skipped entry was never read: no item_type, no size. */
static void
test_report_json_skip(void **state)
{
	struct ts_item	 it = { .action = TS_ITEM_SKIP, .path = "locked",
	    .reason = "unreadable", .code = TS_ELOCAL,
	    .error = "open \"/l/locked\": permission denied" };
	struct cap	 c;

	(void)state;
	cap_open(&c, REPORT_JSON, false, false, false);
	report_item(&it, c.r);
	cap_close(&c);
	assert_string_equal(c.out, "{\"type\":\"item\",\"action\":\"skip\","
	    "\"reason\":\"unreadable\",\"path\":\"locked\",\"code\":3,"
	    "\"error\":\"open \\\"/l/locked\\\": permission denied\"}\n");
	assert_json_lines(c.out);
	cap_dispose(&c);
}

/* --- escaping ------------------------------------------------------------- */

/* The JSON path of an upload of name, as written between the quotes. */
static char *
json_path_of(const char *name)
{
	struct ts_item	 it = { .action = TS_ITEM_MKDIR, .type = TS_TYPE_DIR,
	    .path = name, .reason = "new", .created = true };
	struct cap	 c;
	const char	*start, *end;
	char		*path;

	cap_open(&c, REPORT_JSON, false, false, false);
	report_item(&it, c.r);
	cap_close(&c);
	assert_json_lines(c.out);
	start = strstr(c.out, ",\"path\":\"");
	end = strstr(c.out, "\",\"item_type\":");
	assert_non_null(start);
	assert_non_null(end);
	start += strlen(",\"path\":\"");
	path = strndup(start, (size_t)(end - start));
	assert_non_null(path);
	cap_dispose(&c);
	return path;
}

static void
expect_json_path(const char *name, const char *want)
{
	char	*got = json_path_of(name);

	assert_string_equal(got, want);
	free(got);
}

static void
test_report_json_escapes_quotes_and_backslash(void **state)
{
	(void)state;
	expect_json_path("say \"hi\".txt", "say \\\"hi\\\".txt");
	expect_json_path("back\\slash", "back\\\\slash");
	expect_json_path("a/b c:d's", "a/b c:d's");
}

static void
test_report_json_escapes_controls(void **state)
{
	(void)state;
	expect_json_path("new\nline", "new\\nline");
	expect_json_path("cr\rtab\t", "cr\\rtab\\t");
	expect_json_path("\x01\x1b[31m\x7f", "\\u0001\\u001b[31m\\u007f");
	expect_json_path("c1\xc2\x85\xc2\x9b", "c1\\u0085\\u009b");
}

static void
test_report_json_keeps_utf8(void **state)
{
	(void)state;
	expect_json_path("\xc3\xa9t\xc3\xa9-\xe6\x97\xa5\xe6\x9c\xac.txt",
	    "\xc3\xa9t\xc3\xa9-\xe6\x97\xa5\xe6\x9c\xac.txt");
	expect_json_path(
	    "nbsp\xc2\xa0 emoji\xf0\x9f\x98\x80 max\xf4\x8f\xbf\xbf",
	    "nbsp\xc2\xa0 emoji\xf0\x9f\x98\x80 max\xf4\x8f\xbf\xbf");
}

/* Each byte that is not part of valid UTF-8 is \u00XX of the byte (read
 * as Latin-1), and the text after it decodes as usual. */
static void
test_report_json_escapes_invalid_utf8(void **state)
{
	(void)state;
	expect_json_path("caf\xe9.txt", "caf\\u00e9.txt");	/* Latin-1 */
	expect_json_path("\x80x\xbf", "\\u0080x\\u00bf");	/* stray */
	expect_json_path("\xc0\xaf", "\\u00c0\\u00af");		/* overlong */
	expect_json_path("\xe0\x80\xaf", "\\u00e0\\u0080\\u00af");
	expect_json_path("\xed\xa0\x80", "\\u00ed\\u00a0\\u0080"); /* UTF-16 */
	expect_json_path("\xf4\x90\x80\x80", "\\u00f4\\u0090\\u0080\\u0080");
	expect_json_path("\xf5\xff\xfe", "\\u00f5\\u00ff\\u00fe");
	expect_json_path("cut\xe6\x97", "cut\\u00e6\\u0097");	/* truncated */
	expect_json_path("\xe6\x97\xe6\x97\xa5", "\\u00e6\\u0097\xe6\x97\xa5");
}

/* The human escapes are the JSON ones but for the quote. */
static void
test_report_write_name_escapes(void **state)
{
	static const struct {
		const char	*in, *out;
	} cases[] = {
		{ "plain name.txt", "plain name.txt" },
		{ "say \"hi\"", "say \"hi\"" },
		{ "back\\slash", "back\\\\slash" },
		{ "new\nline\r\t", "new\\nline\\r\\t" },
		{ "\x01\x1b\x7f", "\\u0001\\u001b\\u007f" },
		{ "caf\xe9", "caf\\u00e9" },
		{ "\xc3\xa9-\xe6\x97\xa5", "\xc3\xa9-\xe6\x97\xa5" },
		{ "-rf", "-rf" },
		{ "", "" },
	};
	size_t	 i;
	char	*got;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		got = escaped(cases[i].in);
		assert_string_equal(got, cases[i].out);
		free(got);
	}
}

/* ls and stat print names with cli_print_name: the same escapes. */
static void
test_report_cli_print_name_is_report_escape(void **state)
{
	const char	*name = "a\nb\\c\x01\xff \xc3\xa9\"";
	char		*buf = NULL, *want;
	size_t		 n = 0;
	FILE		*f;

	(void)state;
	f = open_memstream(&buf, &n);
	assert_non_null(f);
	cli_print_name(f, name);
	assert_int_equal(fclose(f), 0);
	want = escaped(name);
	assert_string_equal(buf, want);
	free(buf);
	free(want);
}

/* A name with a newline (and other escapes, but no quote) reads the same
 * in the itemized line and in the JSON path, and stays on one line. */
static void
test_report_name_reads_the_same_in_both_formats(void **state)
{
	const char	*name = "dir/new\nline\t\\x\x1b\xe9 \xc3\xa9.txt";
	struct ts_item	 it = { .action = TS_ITEM_MKDIR, .type = TS_TYPE_DIR,
	    .path = name, .reason = "new", .created = true };
	struct cap	 c;
	char		*json, want[256];

	(void)state;
	cap_open(&c, REPORT_ITEMIZE, false, false, false);
	report_item(&it, c.r);
	cap_close(&c);
	json = json_path_of(name);
	snprintf(want, sizeof(want), "cd+++++++++ %s/\n", json);
	assert_string_equal(c.out, want);
	assert_string_equal(json,
	    "dir/new\\nline\\t\\\\x\\u001b\\u00e9 \xc3\xa9.txt");
	assert_ptr_equal(strchr(c.out, '\n'), c.out + strlen(c.out) - 1);
	free(json);
	cap_dispose(&c);
}

/* --- the JSON summary ----------------------------------------------------- */

static void
test_report_json_summary_keys(void **state)
{
	struct ts_summary s = { .files_scanned = 1234, .files_created = 7,
	    .files_updated = 5, .files_deleted = 3, .dirs_created = 2,
	    .symlinks = 1, .attrs_set = 4, .files_unchanged = 1219,
	    .bytes_sent = 12901234, .errors = 0, .elapsed = 1.2346,
	    .hash_used = "sha256", .hash_where = "server" };
	struct cap	 c;

	(void)state;
	cap_open(&c, REPORT_JSON, true, false, false);
	report_summary(c.r, &s, 0, NULL);
	cap_close(&c);
	assert_string_equal(c.out, "{\"type\":\"summary\","
	    "\"files_scanned\":1234,\"files_uploaded\":12,\"files_downloaded\":0,"
	    "\"files_created\":7,\"files_updated\":5,\"files_deleted\":3,"
	    "\"temps_removed\":0,"
	    "\"dirs_created\":2,\"symlinks\":1,\"attrs_set\":4,\"files_linked\":0,"
	    "\"files_unchanged\":1219,\"bytes_sent\":12901234,"
	    "\"bytes_literal\":0,\"bytes_matched\":0,\"errors\":0,"
	    "\"matched\":0,\"differed\":0,\"missing\":0,"
	    "\"elapsed\":1.235,\"rate\":10449728,\"dry_run\":false,"
	    "\"hash\":\"sha256\",\"hash_where\":\"server\",\"exit_code\":0}\n");
	assert_json_lines(c.out);
	assert_string_equal(c.err, "");
	cap_dispose(&c);
}

/* A failed run: the exit code as the process exits, and the error. */
static void
test_report_json_summary_error(void **state)
{
	struct ts_summary s = { .checked_match = 10, .checked_differ = 1,
	    .checked_missing = 2, .elapsed = 0.0004 };
	struct cap	 c;

	(void)state;
	cap_open(&c, REPORT_JSON, false, false, true);
	report_summary(c.r, &s, TS_EDIFFER, "1 file differs, 2 \"missing\"");
	cap_close(&c);
	assert_string_equal(c.out, "{\"type\":\"summary\","
	    "\"files_scanned\":0,\"files_uploaded\":0,"
	    "\"files_downloaded\":0,\"files_created\":0,"
	    "\"files_updated\":0,\"files_deleted\":0,\"temps_removed\":0,"
	    "\"dirs_created\":0,\"symlinks\":0,\"attrs_set\":0,"
	    "\"files_linked\":0,\"files_unchanged\":0,\"bytes_sent\":0,"
	    "\"bytes_literal\":0,\"bytes_matched\":0,\"errors\":0,"
	    "\"matched\":10,\"differed\":1,\"missing\":2,"
	    "\"elapsed\":0.000,\"rate\":0,\"dry_run\":true,"
	    "\"hash\":null,\"hash_where\":null,\"exit_code\":24,"
	    "\"error\":\"1 file differs, 2 \\\"missing\\\"\"}\n");
	assert_json_lines(c.out);
	assert_string_equal(c.err, "");
	cap_dispose(&c);
}

/* A dry run sent nothing: its rate is 0, whatever bytes_sent says. */
static void
test_report_json_summary_dry_run_rate(void **state)
{
	struct ts_summary s = { .files_created = 1, .bytes_sent = 1000,
	    .elapsed = 2 };
	struct cap	 c;

	(void)state;
	cap_open(&c, REPORT_JSON, false, false, true);
	report_summary(c.r, &s, 0, NULL);
	cap_close(&c);
	assert_json_lines(c.out);
	assert_non_null(strstr(c.out, ",\"bytes_sent\":1000,"));
	assert_non_null(strstr(c.out, ",\"elapsed\":2.000,\"rate\":0,"
	    "\"dry_run\":true,"));
	cap_dispose(&c);
}

/* In JSON mode out holds JSON lines and nothing else, the summary last,
 * whatever the items and options (stats, verbose). */
static void
test_report_json_only_json_on_out(void **state)
{
	struct ts_item	 items[] = {
		{ .action = TS_ITEM_MKDIR, .type = TS_TYPE_DIR, .path = "d",
		    .reason = "new", .created = true },
		{ .action = TS_ITEM_UPLOAD, .type = TS_TYPE_FILE,
		    .path = "d/\xff\n\"", .reason = "new", .created = true },
		{ .action = TS_ITEM_CHECK, .type = TS_TYPE_FILE, .path = "m",
		    .reason = "match" },
		{ .action = TS_ITEM_SKIP, .path = "s", .reason = "unreadable",
		    .code = TS_ELOCAL, .error = "bad\x01\xfe" },
		{ .action = TS_ITEM_DELETE, .type = TS_TYPE_SYMLINK,
		    .path = "l", .reason = "excluded", .link = "\t" },
	};
	struct ts_summary s = { .files_created = 1, .elapsed = 3 };
	struct cap	 c;
	size_t		 i, lines = 0;
	const char	*p, *last;

	(void)state;
	cap_open(&c, REPORT_JSON, true, true, false);
	for (i = 0; i < sizeof(items) / sizeof(items[0]); i++)
		report_item(&items[i], c.r);
	report_summary(c.r, &s, TS_EPARTIAL, "1 of the changes failed");
	cap_close(&c);
	assert_json_lines(c.out);
	for (p = c.out; *p != '\0'; p++)
		if (*p == '\n')
			lines++;
	assert_int_equal(lines, 6);
	last = c.out + strlen(c.out) - 1;
	while (last > c.out && last[-1] != '\n')
		last--;
	assert_true(strncmp(last, "{\"type\":\"summary\"", 17) == 0);
	assert_non_null(strstr(last, "\"exit_code\":23"));
	assert_string_equal(c.err, "treesync: bad\\u0001\\u00fe \"s\"\n");
	cap_dispose(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_report_itemize_new_file),
		cmocka_unit_test(test_report_unsupported_symlinks_one_warning),
		cmocka_unit_test(test_report_itemize_size_and_mtime_update),
		cmocka_unit_test(test_report_itemize_mtime_update),
		cmocka_unit_test(test_report_itemize_reason_without_attrs),
		cmocka_unit_test(test_report_itemize_hash_update),
		cmocka_unit_test(test_report_itemize_hash_and_mtime_update),
		cmocka_unit_test(test_report_itemize_hash_with_every_attr),
		cmocka_unit_test(test_report_itemize_download),
		cmocka_unit_test(test_report_itemize_type_change_is_new),
		cmocka_unit_test(test_report_itemize_setattr_mtime),
		cmocka_unit_test(test_report_itemize_setattr_mode),
		cmocka_unit_test(test_report_itemize_setattr_dir),
		cmocka_unit_test(
		    test_report_itemize_setattr_new_or_contents_hidden),
		cmocka_unit_test(test_report_itemize_new_dir),
		cmocka_unit_test(test_report_itemize_root_dir),
		cmocka_unit_test(test_report_itemize_new_symlink),
		cmocka_unit_test(test_report_itemize_changed_symlink),
		cmocka_unit_test(test_report_itemize_delete_file),
		cmocka_unit_test(test_report_itemize_delete_dir),
		cmocka_unit_test(test_report_itemize_delete_symlink),
		cmocka_unit_test(test_report_itemize_failure_to_err),
		cmocka_unit_test(test_report_itemize_failure_adds_path),
		cmocka_unit_test(test_report_itemize_conflict_to_err),
		cmocka_unit_test(test_report_itemize_skip_to_err),
		cmocka_unit_test(test_report_error_line_escapes_names),
		cmocka_unit_test(test_report_check_lines),
		cmocka_unit_test(test_report_check_verbose_lists_matches),
		cmocka_unit_test(test_report_quiet_prints_no_items),
		cmocka_unit_test(test_report_stats_block),
		cmocka_unit_test(test_report_stats_dry_run_first_line),
		cmocka_unit_test(test_report_stats_check),
		cmocka_unit_test(
		    test_report_stats_bytes_received_for_downloads),
		cmocka_unit_test(test_report_no_stats_without_the_option),
		cmocka_unit_test(test_report_json_upload),
		cmocka_unit_test(test_report_json_upload_new_dry_run),
		cmocka_unit_test(test_report_json_download),
		cmocka_unit_test(test_report_json_mkdir),
		cmocka_unit_test(test_report_json_mkdir_root),
		cmocka_unit_test(test_report_json_symlink),
		cmocka_unit_test(test_report_json_setattr),
		cmocka_unit_test(test_report_json_setattr_contents),
		cmocka_unit_test(test_report_json_delete),
		cmocka_unit_test(test_report_json_check),
		cmocka_unit_test(test_report_json_failure),
		cmocka_unit_test(test_report_json_conflict),
		cmocka_unit_test(test_report_json_skip),
		cmocka_unit_test(test_report_json_escapes_quotes_and_backslash),
		cmocka_unit_test(test_report_json_escapes_controls),
		cmocka_unit_test(test_report_json_keeps_utf8),
		cmocka_unit_test(test_report_json_escapes_invalid_utf8),
		cmocka_unit_test(test_report_write_name_escapes),
		cmocka_unit_test(test_report_cli_print_name_is_report_escape),
		cmocka_unit_test(
		    test_report_name_reads_the_same_in_both_formats),
		cmocka_unit_test(test_report_json_summary_keys),
		cmocka_unit_test(test_report_json_summary_error),
		cmocka_unit_test(test_report_json_summary_dry_run_rate),
		cmocka_unit_test(test_report_json_only_json_on_out),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
