/*
 * The --json reports: one JSON object per line, items as the job emits
 * them and a summary last.  The schema is docs/json.md; its promise is that
 * fields are only ever added, so a key here is never renamed or removed.
 * Numbers are written with integer arithmetic: no locale can turn a "."
 * into a ",".
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cli.h"
#include "report.h"

static const char *
action_name(enum ts_item_action a)
{
	switch (a) {
	case TS_ITEM_MKDIR:	return "mkdir";
	case TS_ITEM_UPLOAD:	return "upload";
	case TS_ITEM_DOWNLOAD:	return "download";
	case TS_ITEM_SYMLINK:	return "symlink";
	case TS_ITEM_SETATTR:	return "setattr";
	case TS_ITEM_DELETE:	return "delete";
	case TS_ITEM_CHECK:	return "check";
	case TS_ITEM_CONFLICT:	return "conflict";
	case TS_ITEM_SKIP:	return "skip";
	case TS_ITEM_HARDLINK:	return "hardlink";
	}
	return "unknown";
}

static const char *
type_name(enum ts_item_type t)
{
	switch (t) {
	case TS_TYPE_FILE:	return "file";
	case TS_TYPE_DIR:	return "dir";
	case TS_TYPE_SYMLINK:	return "symlink";
	}
	return "unknown";
}

/* ,"key":"value" with the value escaped; null when value is NULL. */
static void
json_str(FILE *f, const char *key, const char *value)
{
	fprintf(f, ",\"%s\":", key);
	if (value == NULL) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	report_escape(f, value, true);
	fputc('"', f);
}

static void
json_u64(FILE *f, const char *key, uint64_t value)
{
	fprintf(f, ",\"%s\":%" PRIu64, key, value);
}

static void
json_bool(FILE *f, const char *key, bool value)
{
	fprintf(f, ",\"%s\":%s", key, value ? "true" : "false");
}

/* Whole units of x, rounded, 0 for anything not positive, clamped. */
static uint64_t
round_u64(double x)
{
	if (!(x > 0))
		return 0;
	if (x >= 18446744073709551615.0)
		return UINT64_MAX;
	return (uint64_t)(x + 0.5);
}

/*
 * {"type":"item","action":..,"reason":..,"path":..,"item_type":..} and,
 * when they apply, "size" (files), "link" (symlinks), "attrs" (those that
 * differ), "code" and "error" (failures), "dry_run":true (planned only).
 */
void
report_json_item(FILE *f, const struct ts_item *it, bool dry_run)
{
	static const struct {
		unsigned	 bit;
		const char	*name;
	} attrs[] = {
		{ TS_ATTR_SIZE, "size" },
		{ TS_ATTR_MTIME, "mtime" },
		{ TS_ATTR_MODE, "mode" },
		{ TS_ATTR_OWNER, "owner" },
		{ TS_ATTR_GROUP, "group" },
	};
	const char	*sep = "";
	size_t		 i;

	fputs("{\"type\":\"item\"", f);
	json_str(f, "action", action_name(it->action));
	json_str(f, "reason", it->reason);
	json_str(f, "path", it->path != NULL && it->path[0] != '\0' ?
	    it->path : ".");
	if (it->action != TS_ITEM_SKIP) {	/* unread: type unknown */
		json_str(f, "item_type", type_name(it->type));
		if (it->type == TS_TYPE_FILE)
			json_u64(f, "size", it->size);
	}
	if (it->type == TS_TYPE_SYMLINK && it->link != NULL)
		json_str(f, "link", it->link);
	if (it->attrs != 0) {
		fputs(",\"attrs\":[", f);
		for (i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++)
			if ((it->attrs & attrs[i].bit) != 0) {
				fprintf(f, "%s\"%s\"", sep, attrs[i].name);
				sep = ",";
			}
		fputc(']', f);
	}
	if (it->code != TS_OK) {
		fprintf(f, ",\"code\":%d", exitcode_for(it->code));
		json_str(f, "error", it->error != NULL ? it->error : "failed");
	}
	if (it->delta)
		json_bool(f, "delta", true);
	if (dry_run)
		json_bool(f, "dry_run", true);
	fputs("}\n", f);
}

/* The last line: {"type":"summary",...}; see docs/json.md for each key. */
void
report_json_summary(FILE *f, const struct ts_summary *s, int rc,
    const char *errmsg, bool dry_run)
{
	uint64_t	 ms = round_u64(s->elapsed * 1000);

	fputs("{\"type\":\"summary\"", f);
	json_u64(f, "files_scanned", s->files_scanned);
	json_u64(f, "files_uploaded", s->pull ? 0 :
	    s->files_created + s->files_updated);
	json_u64(f, "files_downloaded", s->pull ?
	    s->files_created + s->files_updated : 0);
	json_u64(f, "files_created", s->files_created);
	json_u64(f, "files_updated", s->files_updated);
	json_u64(f, "files_deleted", s->files_deleted);
	json_u64(f, "temps_removed", s->temps_removed);
	json_u64(f, "dirs_created", s->dirs_created);
	json_u64(f, "symlinks", s->symlinks);
	json_u64(f, "attrs_set", s->attrs_set);
	json_u64(f, "files_linked", s->files_linked);
	json_u64(f, "files_unchanged", s->files_unchanged);
	json_u64(f, "bytes_sent", s->bytes_sent);
	json_u64(f, "bytes_literal", s->bytes_literal);
	json_u64(f, "bytes_matched", s->bytes_matched);
	json_u64(f, "errors", s->errors);
	json_u64(f, "matched", s->checked_match);
	json_u64(f, "differed", s->checked_differ);
	json_u64(f, "missing", s->checked_missing);
	fprintf(f, ",\"elapsed\":%" PRIu64 ".%03u", ms / 1000,
	    (unsigned)(ms % 1000));
	dry_run = dry_run || s->dry_run;	/* then no byte was sent */
	json_u64(f, "rate", s->elapsed > 0 && !dry_run ?
	    round_u64((double)s->bytes_sent / s->elapsed) : 0);
	json_bool(f, "dry_run", dry_run);
	json_str(f, "hash", s->hash_used);
	json_str(f, "hash_where", s->hash_used != NULL ? s->hash_where : NULL);
	fprintf(f, ",\"exit_code\":%d", exitcode_for(rc));
	if (errmsg != NULL && errmsg[0] != '\0')
		json_str(f, "error", errmsg);
	fputs("}\n", f);
}

/* {"type":"prune","name":..,"action":"keep"|"remove","reason":..} and,
 * when they apply, "dry_run":true and "code"/"error" (a failed removal). */
void
report_json_prune(FILE *f, const struct ts_prune_item *p)
{
	fputs("{\"type\":\"prune\"", f);
	json_str(f, "name", p->name);
	json_str(f, "action", p->keep ? "keep" : "remove");
	json_str(f, "reason", p->reason);
	if (p->dry_run)
		json_bool(f, "dry_run", true);
	if (p->code != TS_OK) {
		fprintf(f, ",\"code\":%d", exitcode_for(p->code));
		json_str(f, "error", p->error != NULL ? p->error : "failed");
	}
	fputs("}\n", f);
}

/*
 * The summary of a backup: the keys of every tree command's summary (so
 * a reader of push summaries reads this one too), then "snapshot",
 * "complete", "link_from", "kept", "removed".  The common part is
 * report_json_summary's line, taken without its closing brace.
 */
void
report_json_backup_summary(FILE *f, const struct ts_backup_result *b,
    int rc, const char *errmsg)
{
	char	*line = NULL;
	size_t	 len = 0;
	FILE	*m;

	if ((m = open_memstream(&line, &len)) == NULL) {
		report_json_summary(f, &b->sum, rc, errmsg, false);
		return;
	}
	report_json_summary(m, &b->sum, rc, errmsg, false);
	if (fclose(m) != 0 || len < 2 || line[len - 2] != '}') {
		free(line);
		report_json_summary(f, &b->sum, rc, errmsg, false);
		return;
	}
	fwrite(line, 1, len - 2, f);
	free(line);
	json_str(f, "snapshot", b->snapshot[0] != '\0' ? b->snapshot : NULL);
	json_bool(f, "complete", b->complete);
	json_str(f, "link_from", b->link_from[0] != '\0' ? b->link_from :
	    NULL);
	json_u64(f, "kept", b->kept);
	json_u64(f, "removed", b->removed);
	fputs("}\n", f);
}

/* One target of a publish or rollback: where, what it did, and its own
 * error; the files it uploaded and linked, the bytes it sent. */
void
report_json_publish_target(FILE *f, const char *target, const char *path,
    const struct ts_publish_result *r)
{
	fputs("{\"type\":\"target\"", f);
	json_str(f, "target", target);
	json_str(f, "release", r->release[0] != '\0' ? r->release : NULL);
	json_str(f, "path", path);
	json_str(f, "previous", r->previous[0] != '\0' ? r->previous : NULL);
	json_bool(f, "uploaded", r->uploaded);
	json_bool(f, "switched", r->switched);
	json_u64(f, "files_uploaded", r->sum.files_created +
	    r->sum.files_updated);
	json_u64(f, "files_linked", r->sum.files_linked);
	json_u64(f, "bytes_sent", r->sum.bytes_sent);
	json_u64(f, "kept", r->kept);
	json_u64(f, "removed", r->removed);
	fprintf(f, ",\"exit_code\":%d", exitcode_for(r->code));
	if (r->error[0] != '\0')
		json_str(f, "error", r->error);
	fputs("}\n", f);
}

/* One release of publish --list; "date" in UTC, ISO 8601. */
void
report_json_release(FILE *f, const char *target, const struct ts_release *r)
{
	struct tm	 tm;
	time_t		 t = (time_t)r->mtime;
	char		 date[32] = "";

	if (gmtime_r(&t, &tm) != NULL)
		strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", &tm);
	fputs("{\"type\":\"release\"", f);
	json_str(f, "target", target);
	json_str(f, "name", r->name);
	json_str(f, "date", date);
	json_u64(f, "size", r->size);
	json_u64(f, "files", r->files);
	json_bool(f, "current", r->current);
	json_bool(f, "complete", r->complete);
	fputs("}\n", f);
}

/*
 * The summary of a publish: report_json_summary's keys (the uploads of
 * every target together), then "release", "path" (the release on the
 * first target), "targets" and "switched" (how many).
 */
void
report_json_publish_summary(FILE *f, const struct ts_summary *sum, int rc,
    const char *errmsg, const char *release, const char *path,
    size_t targets, size_t switched)
{
	char	*line = NULL;
	size_t	 len = 0;
	FILE	*m;

	if ((m = open_memstream(&line, &len)) == NULL) {
		report_json_summary(f, sum, rc, errmsg, false);
		return;
	}
	report_json_summary(m, sum, rc, errmsg, false);
	if (fclose(m) != 0 || len < 2 || line[len - 2] != '}') {
		free(line);
		report_json_summary(f, sum, rc, errmsg, false);
		return;
	}
	fwrite(line, 1, len - 2, f);
	free(line);
	json_str(f, "release", release);
	json_str(f, "path", path);
	json_u64(f, "targets", targets);
	json_u64(f, "switched", switched);
	fputs("}\n", f);
}
