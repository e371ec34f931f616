/*
 * The names of treesync's temporary files, the one place that makes and
 * recognises them:
 *
 *	.<visible>.treesync-tmp.<run>-<random>	(an upload or download)
 *	.<visible>.treesync-old.<run>-<random>	(a file moved aside)
 *
 * <visible> is the final name, cut to keep the whole within 255 bytes;
 * <run> (18 characters of [0-9a-z]) says which run made it: when it
 * started, on which machine (boot and pid namespace) and its pid;
 * <random> is 6 more.  A name is treesync's only when it has exactly this
 * form; anything else, however alike, is a user's file.
 */
#ifndef TS_TEMPNAME_H
#define TS_TEMPNAME_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define TEMPNAME_NAME_MAX	255	/* bytes in one path component */
/* How long a temporary file of a run on another machine is left alone:
 * that run may still be writing it, and its pid cannot be checked. */
#define TEMPNAME_FOREIGN_AGE	(24 * 60 * 60)

enum tempname_kind { TEMPNAME_TMP, TEMPNAME_OLD };

/* What a temporary name says of the run that made it. */
struct tempname_info {
	enum tempname_kind kind;
	time_t		 started;	/* the run's start, its clock */
	uint32_t	 machine;	/* boot and pid namespace, hashed */
	uint32_t	 pid;
};

/*
 * *out = a new temporary name beside path ("dir/name" gives
 * "dir/.name.treesync-tmp.<run>-<random>"), owned by the caller.
 * Returns 0, or -1 when out of memory (*out is NULL).
 */
int	tempname_make(char **out, const char *path, enum tempname_kind kind);

/* Whether base (a last component) has exactly the form above; fills
 * *info when it does (info may be NULL). */
bool	tempname_parse(const char *base, struct tempname_info *info);

/*
 * Whether the run that made a temporary file is over, so the file may be
 * removed: a run of this machine whose pid no longer exists (or this
 * process's own earlier runs are never: they are tracked), or one of
 * another machine that started more than TEMPNAME_FOREIGN_AGE before now.
 */
bool	tempname_is_orphan(const struct tempname_info *info, time_t now);

#endif
