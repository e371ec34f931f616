/*
 * The names of treesync's temporary files, the one place that makes and
 * recognises them:
 *
 *	.<visible>.treesync-tmp.<run>-<random>	(an upload or download)
 *	.<visible>.treesync-old.<run>-<random>	(a file moved aside)
 *	.<visible>.treesync-prt.<key>		(an upload kept to resume)
 *
 * A directory named like an upload is a new directory a push is building
 * (stage.h).
 *
 * <visible> is the final name, cut to keep the whole within 255 bytes;
 * <run> (18 characters of [0-9a-z]) says which run made it: when it
 * started, on which machine (boot and pid namespace) and its pid;
 * <random> is 6 more.  A name is treesync's only when it has exactly this
 * form; anything else, however alike, is a user's file.
 *
 * Whole trees being built or removed beside their final names (backup's
 * snapshots, publish's releases) are marked the same way, here too:
 *
 *	.<name>.in-progress	.<name>.removing
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

enum tempname_kind { TEMPNAME_TMP, TEMPNAME_OLD, TEMPNAME_PART };

/* A partial upload's name carries no run: its key, the first
 * TEMPNAME_KEY_LEN hex digits of a SHA-256 that says what it was for (of
 * its content, or of its source's path, size and mtime: act.c), in
 * the run's and random part's place (hex digits are base-36 digits). */
#define TEMPNAME_KEY_LEN	24

/* The marks of trees being built or removed (see above). */
enum tempname_mark { TEMPNAME_IN_PROGRESS, TEMPNAME_REMOVING };

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

/* *out = the name beside path of a partial upload of content key (at
 * least TEMPNAME_KEY_LEN hex digits), owned by the caller; -1 when out
 * of memory. */
int	tempname_make_part(char **out, const char *path, const char *key);

/* The visible name in temporary name base (the final name, maybe cut):
 * *start and *len; false when base is no temporary name. */
bool	tempname_visible(const char *base, const char **start, size_t *len);

/* The name of tree name marked m (".name.in-progress"), owned by the
 * caller; NULL when out of memory. */
char	*tempname_mark(const char *name, enum tempname_mark m);
/* Whether entry is a non-empty name marked m; *len is that name's
 * length (it starts at entry + 1). */
bool	tempname_marked(const char *entry, enum tempname_mark m, size_t *len);

/* Whether base (a last component) has exactly the form above; fills
 * *info when it does (info may be NULL).  Of a TEMPNAME_PART, only kind
 * is meaningful: whether it may go depends on its age and its source
 * (see job.c), and tempname_part_key() reads its key. */
bool	tempname_parse(const char *base, struct tempname_info *info);
/* The key of a partial upload's name base (TEMPNAME_KEY_LEN hex digits,
 * into key[TEMPNAME_KEY_LEN + 1]); false for any other name. */
bool	tempname_part_key(const char *base, char *key);

/*
 * Whether the run that made a temporary file is over, so the file may be
 * removed: a run of this machine whose pid no longer exists (or this
 * process's own earlier runs are never: they are tracked), or one of
 * another machine that started more than TEMPNAME_FOREIGN_AGE before now.
 */
bool	tempname_is_orphan(const struct tempname_info *info, time_t now);

#endif
