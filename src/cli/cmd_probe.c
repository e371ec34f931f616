/*
 * treesync probe TARGET: what the server can do, as a table for people or
 * one JSON object (--json), and for each thing missing, what treesync
 * does instead.  The lines are explained in docs/servers.md.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "report.h"

static const char *
tri(int v, const char *yes, const char *no)
{
	return v == TS_PROBE_YES ? yes : v == TS_PROBE_NO ? no : "unknown";
}

/* "12.3 MiB" (binary units). */
static void
bytes_str(char *buf, size_t size, double n)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB",
	    "PiB" };
	size_t	 u = 0;

	while (n >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		n /= 1024;
		u++;
	}
	snprintf(buf, size, u == 0 ? "%.0f %s" : "%.1f %s", n, units[u]);
}

static void
limit_str(char *buf, size_t size, uint64_t v)
{
	if (v == 0)
		snprintf(buf, size, "none stated");
	else
		snprintf(buf, size, "%" PRIu64, v);
}

/* One line per thing missing: what treesync does instead. */
static int
write_instead(FILE *f, const struct ts_probe *p)
{
	size_t	 i;
	int	 n = 0;

	for (i = 0; i < p->next; i++)
		if (!p->ext[i].offered && p->ext[i].used &&
		    p->ext[i].without != NULL) {
			fprintf(f, "  no %s: %s\n", p->ext[i].name,
			    p->ext[i].without);
			n++;
		}
	if (p->conns_open < p->conns_wanted) {
		fprintf(f, "  %d of %d connections: -j above %d works over the "
		    "%d the server takes\n", p->conns_open, p->conns_wanted,
		    p->conns_open, p->conns_open);
		n++;
	}
	if (p->exec == TS_PROBE_NO) {
		fputs("  no commands: hashes (check, -c, --verify=hash) are "
		    "computed here from files read back over SFTP\n", f);
		n++;
	} else if (p->exec == TS_PROBE_YES && p->xxhsum != TS_PROBE_YES &&
	    p->sha256sum == TS_PROBE_YES) {
		fputs("  no xxhsum: hashes on the server are SHA-256 "
		    "(sha256sum)\n", f);
		n++;
	} else if (p->exec == TS_PROBE_YES && p->xxhsum != TS_PROBE_YES) {
		fputs("  no sha256sum or xxhsum: files are read back over SFTP "
		    "to hash them\n", f);
		n++;
	}
	if (p->symlinks == TS_PROBE_NO) {
		fputs("  no symlinks: symlinks are not created, with one "
		    "warning for all (exit 23); --no-links skips them on "
		    "purpose, -L sends what they point to\n", f);
		n++;
	} else if (p->symlink_guess_right == TS_PROBE_NO) {
		fputs("  SYMLINK order not the one guessed first: each push "
		    "that makes symlinks finds it with a test link first (a "
		    "few round trips)\n", f);
		n++;
	}
	if (p->setstat_mtime == TS_PROBE_NO) {
		fputs("  mtimes not kept: files look changed on every run; "
		    "-c compares them by hash instead\n", f);
		n++;
	}
	if (p->case_insensitive == TS_PROBE_YES) {
		fputs("  names differing only in case are one name here: "
		    "push reports such local names as a clash and sends the "
		    "first only, never one over the other\n", f);
		n++;
	}
	if (p->statvfs != TS_PROBE_YES) {
		fputs("  no statvfs: free space is not known before a "
		    "run\n", f);
		n++;
	}
	return n;
}

static void
write_human(FILE *f, const struct ts_probe *p, const char *path,
    const struct cli *o)
{
	char	 a[64], b[64], c[64], d[64];
	size_t	 i;

	fputs("server\n", f);
	fprintf(f, "  %-26s %s\n", "ssh version", p->server_version[0] != '\0' ?
	    p->server_version : "not known: the system's ssh does not say "
	    "(--transport libssh2 does)");
	fprintf(f, "  %-26s %s (%s, %s, %s, %s)\n", "transport", p->transport,
	    p->kex, p->hostkey, p->cipher, p->mac);
	fprintf(f, "  %-26s %s\n", "authentication", p->auth);
	fprintf(f, "  %-26s %.2f ms\n", "round trip", p->rtt_ms);
	fprintf(f, "  %-26s %d of %d held at once%s%s\n", "connections",
	    p->conns_open, p->conns_wanted, p->conns_error[0] != '\0' ?
	    ": " : "", p->conns_error);

	fputs("sftp\n", f);
	fprintf(f, "  %-26s %u\n", "version", p->sftp_version);
	fprintf(f, "  %-26s %s\n", "extensions offered",
	    p->extensions[0] != '\0' ? p->extensions : "none");
	for (i = 0; i < p->next; i++)
		fprintf(f, "  %-26s %s; %s%s\n", p->ext[i].name,
		    p->ext[i].offered ? "offered" : "not offered",
		    p->ext[i].used ? "used: " : "unused: ", p->ext[i].use);
	if (p->limits_stated) {
		limit_str(a, sizeof(a), p->max_packet);
		limit_str(b, sizeof(b), p->max_read);
		limit_str(c, sizeof(c), p->max_write);
		limit_str(d, sizeof(d), p->max_handles);
		fprintf(f, "  %-26s packet %s, read %s, write %s, open files "
		    "%s\n", "limits", a, b, c, d);
	} else
		fprintf(f, "  %-26s none stated\n", "limits");
	fprintf(f, "  %-26s read %" PRIu32 ", write %" PRIu32 ", %" PRIu32
	    " files open per connection\n", "treesync uses", p->use_read,
	    p->use_write, p->use_handles);

	fputs("commands\n", f);
	fprintf(f, "  %-26s %s\n", "runs commands", tri(p->exec, "yes", "no"));
	fprintf(f, "  %-26s %s\n", "sha256sum", tri(p->sha256sum, "yes", "no"));
	fprintf(f, "  %-26s %s\n", "xxhsum", tri(p->xxhsum, "yes", "no"));

	fputs("measured\n", f);
	if (p->statvfs == TS_PROBE_YES) {
		bytes_str(a, sizeof(a), (double)p->free_bytes);
		bytes_str(b, sizeof(b), (double)p->total_bytes);
		fprintf(f, "  %-26s %s of %s\n", "free space", a, b);
	} else
		fprintf(f, "  %-26s unknown (no statvfs)\n", "free space");
	if (o->no_write)
		fprintf(f, "  %-26s not measured (--no-write)\n", "behaviour");
	else {
		if (p->symlinks == TS_PROBE_YES)
			fprintf(f, "  %-26s yes, %s order (%s); first guess: "
			    "%s\n", "symlinks", strcmp(p->symlink_order,
			    "draft-02") == 0 ? "draft-02's" : "OpenSSH's",
			    strcmp(p->symlink_order, "draft-02") == 0 ?
			    "linkpath, targetpath" : "targetpath, linkpath",
			    tri(p->symlink_guess_right, "right", "wrong"));
		else
			fprintf(f, "  %-26s %s\n", "symlinks",
			    tri(p->symlinks, "yes", "no"));
		fprintf(f, "  %-26s %s\n", "setstat keeps mtime",
		    tri(p->setstat_mtime, "yes", "no"));
		fprintf(f, "  %-26s %s\n", "names", tri(p->case_insensitive,
		    "case-insensitive", "case-sensitive"));
		fprintf(f, "  %-26s %s\n", "rename replaces",
		    tri(p->rename_replaces, "yes", "no (as draft-02 says)"));
		if (p->measure_error[0] != '\0')
			fprintf(f, "  %-26s %s\n", "could not measure",
			    p->measure_error);
	}
	if (p->speed_bytes > 0) {
		bytes_str(a, sizeof(a), (double)p->speed_bytes);
		bytes_str(b, sizeof(b), p->up_bytes_per_s);
		bytes_str(c, sizeof(c), p->down_bytes_per_s);
		fprintf(f, "  %-26s %s/s (%s sample)\n", "upload", b, a);
		fprintf(f, "  %-26s %s/s (%s sample)\n", "download", c, a);
	}
	fputs("what treesync does instead\n", f);
	if (write_instead(f, p) == 0)
		fputs("  nothing is missing\n", f);
	(void)path;
}

static void
json_str(FILE *f, const char *key, const char *v, bool comma)
{
	fprintf(f, "\"%s\":", key);
	if (v == NULL)
		fputs("null", f);
	else {
		fputc('"', f);
		report_escape(f, v, true);
		fputc('"', f);
	}
	if (comma)
		fputc(',', f);
}

static void
json_tri(FILE *f, const char *key, int v)
{
	fprintf(f, "\"%s\":%s,", key, v == TS_PROBE_YES ? "true" :
	    v == TS_PROBE_NO ? "false" : "null");
}

static void
write_json(FILE *f, const struct ts_probe *p)
{
	size_t	 i;

	fputs("{\"type\":\"probe\",", f);
	json_str(f, "ssh_version", p->server_version[0] != '\0' ?
	    p->server_version : NULL, true);
	json_str(f, "transport", p->transport, true);
	json_str(f, "kex", p->kex, true);
	json_str(f, "hostkey", p->hostkey, true);
	json_str(f, "cipher", p->cipher, true);
	json_str(f, "mac", p->mac, true);
	json_str(f, "auth", p->auth, true);
	fprintf(f, "\"rtt_ms\":%.3f,\"connections_wanted\":%d,"
	    "\"connections_open\":%d,", p->rtt_ms, p->conns_wanted,
	    p->conns_open);
	json_str(f, "connections_error", p->conns_error[0] != '\0' ?
	    p->conns_error : NULL, true);
	fprintf(f, "\"sftp_version\":%u,\"extensions_offered\":[",
	    p->sftp_version);
	{
		const char	*s = p->extensions, *e;
		bool		 first = true;

		while (*s != '\0') {
			char	 name[128];
			size_t	 n;

			e = strchr(s, ',');
			n = e != NULL ? (size_t)(e - s) : strlen(s);
			snprintf(name, sizeof(name), "%.*s", (int)n, s);
			fputs(first ? "\"" : ",\"", f);
			report_escape(f, name, true);
			fputc('"', f);
			first = false;
			s += n;
			if (*s == ',')
				s++;
		}
	}
	fputs("],\"extensions\":[", f);
	for (i = 0; i < p->next; i++) {
		fputs(i > 0 ? ",{" : "{", f);
		json_str(f, "name", p->ext[i].name, true);
		fprintf(f, "\"offered\":%s,\"used\":%s,", p->ext[i].offered ?
		    "true" : "false", p->ext[i].used ? "true" : "false");
		json_str(f, "use", p->ext[i].use, true);
		json_str(f, "without", p->ext[i].without, false);
		fputc('}', f);
	}
	fputs("],\"limits\":", f);
	if (p->limits_stated)
		fprintf(f, "{\"max_packet\":%" PRIu64 ",\"max_read\":%" PRIu64
		    ",\"max_write\":%" PRIu64 ",\"max_open_handles\":%" PRIu64
		    "},", p->max_packet, p->max_read, p->max_write,
		    p->max_handles);
	else
		fputs("null,", f);
	fprintf(f, "\"uses\":{\"read\":%" PRIu32 ",\"write\":%" PRIu32
	    ",\"open_files\":%" PRIu32 "},", p->use_read, p->use_write,
	    p->use_handles);
	json_tri(f, "exec", p->exec);
	json_tri(f, "sha256sum", p->sha256sum);
	json_tri(f, "xxhsum", p->xxhsum);
	json_tri(f, "statvfs", p->statvfs);
	if (p->statvfs == TS_PROBE_YES)
		fprintf(f, "\"free_bytes\":%" PRIu64 ",\"total_bytes\":%" PRIu64
		    ",", p->free_bytes, p->total_bytes);
	json_tri(f, "symlinks", p->symlinks);
	json_str(f, "symlink_order", p->symlink_order, true);
	json_tri(f, "symlink_guess_right", p->symlink_guess_right);
	json_tri(f, "setstat_keeps_mtime", p->setstat_mtime);
	json_tri(f, "case_insensitive", p->case_insensitive);
	json_tri(f, "rename_replaces", p->rename_replaces);
	json_str(f, "measure_error", p->measure_error[0] != '\0' ?
	    p->measure_error : NULL, true);
	if (p->speed_bytes > 0)
		fprintf(f, "\"speed_bytes\":%" PRIu64 ",\"upload_bytes_per_s\":"
		    "%.0f,\"download_bytes_per_s\":%.0f,", p->speed_bytes,
		    p->up_bytes_per_s, p->down_bytes_per_s);
	fputs("\"instead\":[", f);
	{
		/* The same lines as the table's last block. */
		char	*buf = NULL, *line, *save = NULL;
		size_t	 len = 0;
		FILE	*m = open_memstream(&buf, &len);
		bool	 first = true;

		if (m != NULL) {
			write_instead(m, p);
			fclose(m);
			for (line = strtok_r(buf, "\n", &save); line != NULL;
			    line = strtok_r(NULL, "\n", &save)) {
				fputs(first ? "\"" : ",\"", f);
				report_escape(f, line + 2, true);
				fputc('"', f);
				first = false;
			}
			free(buf);
		}
	}
	fputs("]}\n", f);
}

int
cmd_probe(const struct cli *o)
{
	struct ts_probe_opts po = TS_PROBE_OPTS_INIT;
	struct ts_error	 err = { 0 };
	struct ts_probe	 p;
	struct ts_conn	*c;
	int		 rc;

	if (o->nargs != 1) {
		fputs("usage: treesync probe [--no-write] [--speed] [--json] "
		    "[-j N] [user@]host:path\n", stderr);
		return 2;
	}
	if (o->speed && o->no_write) {
		fputs("treesync: --speed writes a sample: not with "
		    "--no-write\n", stderr);
		return 2;
	}
	po.write = !o->no_write;
	po.speed = o->speed;
	po.jobs = o->sync.jobs;
	if ((c = cli_connect(o, o->args[0], 0, &rc)) == NULL)
		return rc;
	rc = ts_probe(&p, c, ts_conn_path(c), &po, &err);
	if (rc != 0) {
		rc = cli_fail(&err);
		ts_conn_free(c);
		return rc;
	}
	if (o->json)
		write_json(stdout, &p);
	else
		write_human(stdout, &p, ts_conn_path(c), o);
	fflush(stdout);
	ts_conn_free(c);
	return 0;
}
