/*
 * Entry lists: every file, directory and symlink of one tree, sorted so a
 * directory comes right before its contents.  Both walkers fill one; the
 * planner merges two.
 *
 * Memory: an array of 56-byte struct entry plus an arena holding the path
 * and link strings (and the few hashes computed).  Measured with 1,000,000
 * entries, paths 59 bytes long on average (test_entries.c; RSS with
 * bench/entries_mem.c): 109 bytes per entry all-in, up to about 130
 * counting the array's growth slack (1.5x, reserved but not touched),
 * against a target of 200.
 */
#ifndef TS_ENTRIES_H
#define TS_ENTRIES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "treesync.h"

enum entry_type {
	ENTRY_FILE,			/* a regular file */
	ENTRY_DIR,
	ENTRY_SYMLINK,
};

#define ENTRY_HASH_MAX		32	/* SHA-256; XXH3-128 uses 16 */

/* A content hash, stored only for the entries that got one. */
struct entry_hash {
	uint8_t		 len;		/* bytes used in bytes[] */
	uint8_t		 bytes[ENTRY_HASH_MAX];
};

/* flags */
#define ENTRY_INCOMPLETE	0x01	/* a dir whose listing had errors: the
					 * planner deletes nothing directly in
					 * it (see plan.h) */

struct entry {
	const char	*path;		/* "a/b.txt": from the root */
	const char	*link;		/* symlink target; NULL otherwise */
	const struct entry_hash *hash;	/* NULL until entries_set_hash() */
	uint64_t	 size;		/* bytes; for a symlink, its length */
	uint64_t	 ino;		/* local file: its inode, to check that
					 * what is opened later is what the
					 * walk saw; 0 when unknown */
	int64_t		 mtime_ns;	/* since the epoch */
	uint16_t	 mode;		/* permission bits only (07777) */
	uint8_t		 type;		/* enum entry_type */
	uint8_t		 flags;		/* ENTRY_* */
};

struct entries_chunk;

struct entries {
	struct entry	*v;		/* v[0..n) */
	size_t		 n, cap;
	struct entries_chunk *chunks;	/* arena for strings and hashes */
	bool		 sorted;	/* set by entries_sort, reset by add */
	bool		 incomplete_root; /* the root's listing had errors */
};

#define ENTRIES_MAX		100000000	/* entries in one list */

void	entries_init(struct entries *l);
void	entries_dispose(struct entries *l);	/* zeroed or NULL is fine */

/*
 * Appends an entry, copying path and link into the list.  path must be
 * relative and clean: no leading or trailing '/', no empty, "." or ".."
 * component (TS_EINVAL otherwise, as a server could send such names).
 * link is required for ENTRY_SYMLINK and ignored for other types; mode is
 * masked to 07777.  Pointers to entries stay valid until the next add.
 */
int	entries_add(struct entries *l, const char *path, enum entry_type type,
	    uint64_t size, int64_t mtime_ns, uint32_t mode, const char *link,
	    struct ts_error *err);

/*
 * Sorts by entries_path_cmp.  Two entries with the same path are an error
 * (TS_ERROR, "duplicate entry \"x\""): the planner relies on unique paths.
 */
int	entries_sort(struct entries *l, struct ts_error *err);

/*
 * The order of the lists: paths compared component by component, each
 * component byte-wise (unsigned).  Equivalently, byte-wise with '/' below
 * every other byte, so "a" < "a/b" < "a/z" < "a b" < "a.txt" and a
 * directory's contents follow it, contiguous.  Returns <0, 0 or >0.
 */
int	entries_path_cmp(const char *a, const char *b);

/* Whether path lies inside directory dir ("a/b" is under "a"). */
bool	entries_is_under(const char *path, const char *dir);

/* Binary search in a sorted list; the entry is borrowed, or NULL. */
const struct entry *entries_find(const struct entries *l, const char *path);

/*
 * Records a hash for e, an entry of l (e.g. from a plan's ACT_NEED_HASH).
 * len is at most ENTRY_HASH_MAX.  Not thread-safe: call it from the thread
 * that owns the list.
 */
int	entries_set_hash(struct entries *l, const struct entry *e,
	    const uint8_t *hash, size_t len, struct ts_error *err);

/* Bytes the list holds on the heap: array capacity plus arena chunks. */
size_t	entries_mem_usage(const struct entries *l);

#endif
