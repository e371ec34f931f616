/*
 * Backup's rules (backup.h): what a snapshot's name looks like, what a
 * name in ROOT is, and which snapshots a rotation keeps.  Pure: no
 * socket, file or clock; backup.c runs a backup by them.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "backup.h"
#include "tempname.h"

/* --- names and decisions (pure) ------------------------------------- */

static bool
all_digits(const char *s, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static int
num(const char *s, size_t n)
{
	int	 v = 0;

	while (n-- > 0)
		v = v * 10 + (*s++ - '0');
	return v;
}

/* "YYYYMMDD": a real calendar date. */
static bool
date_valid(const char *s)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	int	 y, m, d, max;

	if (!all_digits(s, 8))
		return false;
	y = num(s, 4);
	m = num(s + 4, 2);
	d = num(s + 6, 2);
	if (y < 1900 || m < 1 || m > 12 || d < 1)
		return false;
	max = mdays[m - 1];
	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		max = 29;
	return d <= max;
}

/* "HHMMSS": a time of day. */
static bool
time_valid(const char *s)
{
	return all_digits(s, 6) && num(s, 2) < 24 && num(s + 2, 2) < 60 &&
	    num(s + 4, 2) < 60;
}

bool
backup_stamp_valid(const char *s)
{
	return strlen(s) == BACKUP_STAMP_LEN && s[8] == '-' && date_valid(s) &&
	    time_valid(s + 9);
}

/* A complete snapshot's name of n bytes at s: "YYYYMMDD[-HHMMSS]". */
static bool
snapshot_name_valid(const char *s, size_t n)
{
	if (n == 8)
		return date_valid(s);
	return n == BACKUP_STAMP_LEN && s[8] == '-' && date_valid(s) &&
	    time_valid(s + 9);
}

enum backup_kind
backup_name_kind(const char *name, char stamp[BACKUP_STAMP_LEN + 1])
{
	size_t		 n = strlen(name), k;

	stamp[0] = '\0';
	if (snapshot_name_valid(name, n)) {
		memcpy(stamp, name, n + 1);
		return BACKUP_COMPLETE;
	}
	if (name[0] != '.')
		return BACKUP_FOREIGN;
	if (tempname_marked(name, TEMPNAME_IN_PROGRESS, &k) &&
	    k == BACKUP_STAMP_LEN && snapshot_name_valid(name + 1, k)) {
		memcpy(stamp, name + 1, BACKUP_STAMP_LEN);
		stamp[BACKUP_STAMP_LEN] = '\0';
		return BACKUP_IN_PROGRESS;
	}
	if (tempname_marked(name, TEMPNAME_REMOVING, &k) &&
	    snapshot_name_valid(name + 1, k)) {
		memcpy(stamp, name + 1, k);
		stamp[k] = '\0';
		return BACKUP_REMOVING;
	}
	return BACKUP_FOREIGN;
}

bool
backup_leftover_older(const char *stamp, const char *snap)
{
	if (strlen(snap) == 8)
		return strncmp(stamp, snap, 8) <= 0;
	return strcmp(stamp, snap) < 0;
}

/* Oldest first; at equal stamps, leftovers before the complete one. */
static int
snap_cmp(const void *a, const void *b)
{
	const struct backup_snap *x = a, *y = b;
	int			 c = strcmp(x->stamp, y->stamp);

	if (c != 0)
		return c;
	if ((x->kind == BACKUP_COMPLETE) != (y->kind == BACKUP_COMPLETE))
		return x->kind == BACKUP_COMPLETE ? 1 : -1;
	return strcmp(x->name, y->name);
}

void
backup_prune_plan(struct backup_snap *v, size_t n, size_t keep,
    const char *current)
{
	const struct backup_snap *newest = NULL;
	size_t			 i, seen = 0;

	if (n > 1)
		qsort(v, n, sizeof(*v), snap_cmp);
	/* Complete snapshots, newest first: the first `keep` stay.  Their
	 * names sort as their stamps do ("20261101" < "20261101-140000"). */
	for (i = n; i-- > 0; ) {
		if (v[i].kind != BACKUP_COMPLETE)
			continue;
		if (newest == NULL)
			newest = &v[i];
		if (seen++ < keep) {
			v[i].keep = true;
			v[i].reason = "newest";
		} else if (current != NULL && strcmp(v[i].name, current) == 0) {
			v[i].keep = true;
			v[i].reason = "current";
		} else {
			v[i].keep = false;
			v[i].reason = "expired";
		}
	}
	for (i = 0; i < n; i++) {
		switch (v[i].kind) {
		case BACKUP_IN_PROGRESS:
			v[i].keep = newest == NULL ||
			    !backup_leftover_older(v[i].stamp, newest->stamp);
			v[i].reason = v[i].keep ? "in-progress" : "stale";
			break;
		case BACKUP_REMOVING:
			v[i].keep = false;
			v[i].reason = "removing";
			break;
		default:
			break;
		}
	}
}

