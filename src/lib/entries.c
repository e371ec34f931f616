#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "entries.h"
#include "error.h"

/*
 * The arena: strings and hashes are never freed one by one, so they are
 * carved from big chunks (one malloc per 256 KiB instead of one per path,
 * saving malloc's per-block overhead) and entries point into them.  Chunks
 * never move, so the pointers stay valid while the entry array grows.
 */
#define CHUNK_SIZE	(256 * 1024)

struct entries_chunk {
	struct entries_chunk *next;
	size_t		 used, size;
	char		 data[];
};

void
entries_init(struct entries *l)
{
	memset(l, 0, sizeof(*l));
}

void
entries_dispose(struct entries *l)
{
	struct entries_chunk *c, *next;

	if (l == NULL)
		return;
	for (c = l->chunks; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	free(l->v);
	entries_init(l);
}

/* Returns n bytes from the arena, or NULL when out of memory. */
static void *
arena_alloc(struct entries *l, size_t n)
{
	struct entries_chunk *c = l->chunks;
	size_t		 size;

	if (c == NULL || c->size - c->used < n) {
		/* A rare big string gets a chunk of its own, placed second
		 * so the current chunk keeps filling. */
		size = n > CHUNK_SIZE / 4 ? n : CHUNK_SIZE;
		if ((c = malloc(sizeof(*c) + size)) == NULL)
			return NULL;
		c->used = 0;
		c->size = size;
		if (size != CHUNK_SIZE && l->chunks != NULL) {
			c->next = l->chunks->next;
			l->chunks->next = c;
		} else {
			c->next = l->chunks;
			l->chunks = c;
		}
	}
	c->used += n;
	return c->data + c->used - n;
}

static const char *
arena_strdup(struct entries *l, const char *s)
{
	size_t	 n = strlen(s) + 1;
	char	*p;

	if ((p = arena_alloc(l, n)) != NULL)
		memcpy(p, s, n);
	return p;
}

/* Whether path is relative and clean: "a/b", not "/a", "a/", "a//b",
 * "./a" or "a/../b". */
static bool
path_ok(const char *path)
{
	const char	*p = path, *end;
	size_t		 n;

	if (*p == '\0')
		return false;
	for (;;) {
		end = strchr(p, '/');
		n = end != NULL ? (size_t)(end - p) : strlen(p);
		if (n == 0 || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		if (end == NULL)
			return true;
		p = end + 1;
	}
}

int
entries_add(struct entries *l, const char *path, enum entry_type type,
    uint64_t size, int64_t mtime_ns, uint32_t mode, const char *link,
    struct ts_error *err)
{
	struct entry	*e, *v;
	size_t		 cap;

	assert(type == ENTRY_FILE || type == ENTRY_DIR ||
	    type == ENTRY_SYMLINK);
	assert(type != ENTRY_SYMLINK || link != NULL);
	if (!path_ok(path))
		return error_set(err, TS_EINVAL, "bad entry path \"%s\"", path);
	if (l->n == l->cap) {
		if (l->cap >= ENTRIES_MAX)
			return error_set(err, TS_ERROR, "more than %d entries",
			    ENTRIES_MAX);
		/* 1.5x, not 2x: the slack is up to a third, not half. */
		cap = l->cap < 1024 ? 1024 : l->cap + l->cap / 2;
		if (cap > ENTRIES_MAX)
			cap = ENTRIES_MAX;
		if ((v = realloc(l->v, cap * sizeof(*v))) == NULL)
			return error_set(err, TS_ENOMEM, "out of memory");
		l->v = v;
		l->cap = cap;
	}
	e = &l->v[l->n];
	memset(e, 0, sizeof(*e));
	if ((e->path = arena_strdup(l, path)) == NULL)
		return error_set(err, TS_ENOMEM, "out of memory");
	if (type == ENTRY_SYMLINK &&
	    (e->link = arena_strdup(l, link)) == NULL)
		return error_set(err, TS_ENOMEM, "out of memory");
	e->type = (uint8_t)type;
	e->size = size;
	e->mtime_ns = mtime_ns;
	e->mode = (uint16_t)(mode & 07777);
	l->n++;
	l->sorted = false;
	return 0;
}

int
entries_path_cmp(const char *a, const char *b)
{
	const unsigned char *p = (const unsigned char *)a;
	const unsigned char *q = (const unsigned char *)b;
	int		 x, y;

	while (*p != '\0' && *p == *q) {
		p++;
		q++;
	}
	/* End of string lowest, then '/', then every other byte in order:
	 * a component that is a prefix of another sorts first, and "a/..."
	 * comes before "a<anything>". */
	x = *p == '\0' ? 0 : *p == '/' ? 1 : *p + 1;
	y = *q == '\0' ? 0 : *q == '/' ? 1 : *q + 1;
	return x - y;
}

bool
entries_is_under(const char *path, const char *dir)
{
	size_t	 n = strlen(dir);

	return strncmp(path, dir, n) == 0 && path[n] == '/';
}

static int
entry_cmp(const void *a, const void *b)
{
	return entries_path_cmp(((const struct entry *)a)->path,
	    ((const struct entry *)b)->path);
}

int
entries_sort(struct entries *l, struct ts_error *err)
{
	size_t	 i;

	/* A list made in order (walk_local's) is only checked: one pass
	 * instead of a sort that moves every 64-byte entry. */
	for (i = 1; i < l->n; i++)
		if (entries_path_cmp(l->v[i - 1].path, l->v[i].path) >= 0)
			break;
	if (i >= l->n) {
		l->sorted = true;
		return 0;
	}
	qsort(l->v, l->n, sizeof(l->v[0]), entry_cmp);
	for (i = 1; i < l->n; i++)
		if (strcmp(l->v[i - 1].path, l->v[i].path) == 0)
			return error_set(err, TS_ERROR,
			    "duplicate entry \"%s\"", l->v[i].path);
	l->sorted = true;
	return 0;
}

const struct entry *
entries_find(const struct entries *l, const char *path)
{
	size_t	 lo = 0, hi = l->n, mid;
	int	 c;

	assert(l->sorted || l->n == 0);
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = entries_path_cmp(path, l->v[mid].path);
		if (c == 0)
			return &l->v[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

int
entries_set_hash(struct entries *l, const struct entry *e,
    const uint8_t *hash, size_t len, struct ts_error *err)
{
	struct entry_hash *h;
	size_t		 i;

	assert(e >= l->v && e < l->v + l->n);
	assert(len > 0 && len <= ENTRY_HASH_MAX);
	i = (size_t)(e - l->v);
	if ((h = arena_alloc(l, sizeof(*h))) == NULL)
		return error_set(err, TS_ENOMEM, "out of memory");
	h->len = (uint8_t)len;
	memcpy(h->bytes, hash, len);
	l->v[i].hash = h;
	return 0;
}

size_t
entries_mem_usage(const struct entries *l)
{
	const struct entries_chunk *c;
	size_t		 n = l->cap * sizeof(l->v[0]);

	for (c = l->chunks; c != NULL; c = c->next)
		n += sizeof(*c) + c->size;
	return n;
}
