/*
 * Delta commands from librsync: one read of the new file gives the delta
 * against the old file's signature, the new file's hashes and its
 * signature (for the next run).  The delta stream is parsed as it comes
 * out and only its commands are kept: a LITERAL's bytes are the new
 * file's own at the same offset, read again when sent, so a file that
 * changed entirely costs no memory.  The file is matched a part at a
 * time (one librsync job each), so an upload can send the commands of
 * the first parts while the rest is still read.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librsync.h>

#include "delta.h"
#include "error.h"

#define DELTA_IN	(256u * 1024)	/* bytes of the file read at once */
#define DELTA_OUT	(64u * 1024)
/* A part matched by one librsync job: a match across its end is lost
 * (less than two blocks sent instead of copied, where bytes moved), so
 * a part is many blocks; and small, so the first copies go out early. */
#define DELTA_PART	(8u << 20)
#define DELTA_PART_BLOCKS 64
/* A signature bigger than this is not loaded (the store's whole bound). */
#define DELTA_SIG_MAX	(256u << 20)
#define SIG_HEADER	12	/* magic, block length, strong sum length */

/* A signature as librsync writes it: its header, then per block a weak
 * sum (4 bytes) and a strong one, all big-endian.  Kept beside librsync's
 * loaded form: the new file's signature reuses its entries. */
struct delta_sig {
	rs_signature_t	*rs;
	uint8_t		*raw;
	size_t		 len;
	uint32_t	 magic, block_len, strong_len;
	uint64_t	 count;		/* entries, 0 when raw is odd */
};

/* Bytes a librsync job writes to memory, the first skip of them left
 * out (a signature's header). */
struct membuf {
	uint8_t		*p;
	size_t		 len, cap, skip;
};

/* librsync's delta format (its prototab.h): a magic number, then
 * commands, each an opcode byte and big-endian parameters. */
#define OP_END		0x00
#define OP_LITERAL_64	0x40	/* 0x01..0x40: a literal of that length */
#define OP_LITERAL_N1	0x41	/* ..0x44: its length in 1, 2, 4, 8 bytes */
#define OP_COPY_N1_N1	0x45	/* ..0x54: start and length widths */
#define OP_COPY_N8_N8	0x54

/* The parser of the delta stream, fed as librsync writes it. */
struct dparse {
	struct delta	*d;
	uint64_t	 base_size;
	uint8_t		 hdr[17];	/* opcode and parameters */
	size_t		 hlen, need;
	bool		 magic_ok, end;
	uint64_t	 lit_left;	/* literal bytes still to skip */
	uint64_t	 pos;		/* in the new file */
	struct ts_error	*err;
};

void
delta_init(struct delta *d)
{
	memset(d, 0, sizeof(*d));
}

void
delta_dispose(struct delta *d)
{
	free(d->v);
	delta_init(d);
}

/* Appends a command, merged with the one before when they continue each
 * other (librsync emits a COPY per run of blocks, a LITERAL per gap). */
static int
delta_add(struct delta *d, bool copy, uint64_t off, uint64_t len,
    uint64_t base_off, struct ts_error *err)
{
	struct delta_cmd	*c, *v;
	size_t			 cap;

	if (len == 0)
		return 0;
	if (d->n > 0) {
		c = &d->v[d->n - 1];
		if (c->copy == copy && c->off + c->len == off &&
		    (!copy || c->base_off + c->len == base_off)) {
			c->len += len;
			goto count;
		}
	}
	if (d->n == d->cap) {
		cap = d->cap != 0 ? d->cap * 2 : 64;
		if ((v = realloc(d->v, cap * sizeof(*v))) == NULL)
			return error_set(err, TS_ENOMEM, "out of memory");
		d->v = v;
		d->cap = cap;
	}
	c = &d->v[d->n++];
	c->off = off;
	c->len = len;
	c->base_off = base_off;
	c->copy = copy;
count:
	if (copy)
		d->matched += len;
	else
		d->literal += len;
	return 0;
}

static uint64_t
get_be(const uint8_t *p, size_t n)
{
	uint64_t	 v = 0;

	while (n-- > 0)
		v = v << 8 | *p++;
	return v;
}

/* The parameter bytes an opcode takes, or -1 for one we do not know. */
static int
op_params(uint8_t op)
{
	unsigned	 k;

	if (op == OP_END || op <= OP_LITERAL_64)
		return 0;
	if (op < OP_COPY_N1_N1)
		return 1 << (op - OP_LITERAL_N1);
	if (op <= OP_COPY_N8_N8) {
		k = op - OP_COPY_N1_N1;
		return (1 << (k / 4)) + (1 << (k % 4));
	}
	return -1;
}

/* One whole command in p->hdr. */
static int
dparse_command(struct dparse *p)
{
	uint8_t		 op = p->hdr[0];
	uint64_t	 len, start, cp;
	unsigned	 k, ws;

	if (op == OP_END) {
		p->end = true;
		return 0;
	}
	if (op < OP_COPY_N1_N1) {
		len = op <= OP_LITERAL_64 ? op : get_be(p->hdr + 1,
		    p->hlen - 1);
		if (delta_add(p->d, false, p->pos, len, 0, p->err) != 0)
			return -1;
		p->lit_left = len;
		p->pos += len;
		return 0;
	}
	k = op - OP_COPY_N1_N1;
	ws = 1u << (k / 4);
	start = get_be(p->hdr + 1, ws);
	len = get_be(p->hdr + 1 + ws, p->hlen - 1 - ws);
	/* A copy beyond the old file's end (a signature of more bytes than
	 * the file has: a partial upload's) sends those bytes instead. */
	cp = start >= p->base_size ? 0 : len < p->base_size - start ? len :
	    p->base_size - start;
	if (delta_add(p->d, true, p->pos, cp, start, p->err) != 0 ||
	    delta_add(p->d, false, p->pos + cp, len - cp, 0, p->err) != 0)
		return -1;
	p->pos += len;
	return 0;
}

/* Takes n bytes of librsync's delta output. */
static int
dparse_feed(struct dparse *p, const uint8_t *b, size_t n)
{
	size_t		 k;
	int		 np;

	while (n > 0) {
		if (p->end)
			return error_set(p->err, TS_ERROR, "delta: data after "
			    "its end");
		if (p->lit_left > 0) {
			k = n < p->lit_left ? n : (size_t)p->lit_left;
			p->lit_left -= k;
			b += k;
			n -= k;
			continue;
		}
		if (p->hlen == 0)
			p->need = !p->magic_ok ? 4 : 0;
		p->hdr[p->hlen++] = *b++;
		n--;
		if (p->magic_ok && p->hlen == 1) {
			if ((np = op_params(p->hdr[0])) < 0)
				return error_set(p->err, TS_ERROR, "delta: "
				    "unknown command 0x%02x", p->hdr[0]);
			p->need = 1 + (size_t)np;
		}
		if (p->hlen < p->need)
			continue;
		if (!p->magic_ok) {
			if (get_be(p->hdr, 4) != RS_DELTA_MAGIC)
				return error_set(p->err, TS_ERROR, "delta: bad "
				    "magic");
			p->magic_ok = true;
		} else if (dparse_command(p) != 0)
			return -1;
		p->hlen = 0;
	}
	return 0;
}

/* Appends n bytes, after skipping what is left of m->skip. */
static int
membuf_add(struct membuf *m, const uint8_t *b, size_t n, struct ts_error *err)
{
	size_t	 k = n < m->skip ? n : m->skip, cap;
	uint8_t	*q;

	m->skip -= k;
	b += k;
	n -= k;
	if (n == 0)
		return 0;
	if (m->len + n > m->cap) {
		for (cap = m->cap != 0 ? m->cap : 4096; cap < m->len + n; )
			cap *= 2;
		if (cap > DELTA_SIG_MAX || (q = realloc(m->p, cap)) == NULL)
			return error_set(err, TS_ENOMEM, "out of memory");
		m->p = q;
		m->cap = cap;
	}
	memcpy(m->p + m->len, b, n);
	m->len += n;
	return 0;
}

/*
 * Gives a librsync job n bytes of input (eof: the last), and what it
 * writes to out (to a file, the parser or memory).  Returns 1 when the
 * job is done, 0 when it wants more input, or an error.
 */
static int
job_feed_to(rs_job_t *job, const uint8_t *in, size_t n, bool eof, FILE *out,
    struct dparse *p, struct membuf *m, struct ts_error *err)
{
	char		 obuf[DELTA_OUT];
	rs_buffers_t	 b;
	rs_result	 r;
	size_t		 produced, before;
	int		 stalls = 0;

	memset(&b, 0, sizeof(b));
	b.next_in = (char *)(uintptr_t)in;
	b.avail_in = n;
	b.eof_in = eof;
	for (;;) {
		before = b.avail_in;
		b.next_out = obuf;
		b.avail_out = sizeof(obuf);
		r = rs_job_iter(job, &b);
		if (r != RS_DONE && r != RS_BLOCKED)
			return error_set(err, TS_ERROR, "librsync: %s",
			    rs_strerror(r));
		produced = sizeof(obuf) - b.avail_out;
		if (produced > 0 && out != NULL &&
		    fwrite(obuf, 1, produced, out) != produced)
			return error_set_errno(err, errno, "write a signature");
		if (produced > 0 && p != NULL &&
		    dparse_feed(p, (uint8_t *)obuf, produced) != 0)
			return -1;
		if (produced > 0 && m != NULL &&
		    membuf_add(m, (uint8_t *)obuf, produced, err) != 0)
			return -1;
		if (r == RS_DONE)
			return 1;
		/* librsync keeps what it cannot use yet in its own buffer,
		 * so input left over with no output means it is stuck. */
		if (b.avail_in == 0 && produced == 0 && !eof)
			return 0;
		if (produced == 0 && b.avail_in == before && (!eof ||
		    ++stalls > 16))
			return error_set(err, TS_ERROR, "librsync made no "
			    "progress");
	}
}

static int
job_feed(rs_job_t *job, const uint8_t *in, size_t n, bool eof, FILE *out,
    struct dparse *p, struct ts_error *err)
{
	return job_feed_to(job, in, n, eof, out, p, NULL, err);
}

static uint32_t
get_be32(const uint8_t *p)
{
	return (uint32_t)get_be(p, 4);
}

/* Reads all of f, a signature, into *raw. */
static int
read_all(FILE *f, uint8_t **raw, size_t *len, struct ts_error *err)
{
	struct membuf	 m = { 0 };
	uint8_t		 b[65536];
	size_t		 n;

	*raw = NULL;
	while ((n = fread(b, 1, sizeof(b), f)) > 0)
		if (membuf_add(&m, b, n, err) != 0) {
			free(m.p);
			return -1;
		}
	if (ferror(f)) {
		free(m.p);
		return error_set_errno(err, errno, "read a signature");
	}
	*raw = m.p;
	*len = m.len;
	return 0;
}

int
delta_sig_load(struct delta_sig **out, FILE *f, struct ts_error *err)
{
	struct delta_sig *sig;
	rs_buffers_t	 b;
	rs_job_t	*job;
	rs_result	 r;
	int		 i;

	*out = NULL;
	if ((sig = calloc(1, sizeof(*sig))) == NULL)
		return error_set(err, TS_ENOMEM, "out of memory");
	if (read_all(f, &sig->raw, &sig->len, err) != 0) {
		free(sig);
		return -1;
	}
	if ((job = rs_loadsig_begin(&sig->rs)) == NULL) {
		delta_sig_free(sig);
		return error_set(err, TS_ENOMEM, "out of memory");
	}
	memset(&b, 0, sizeof(b));
	b.next_in = (char *)sig->raw;
	b.avail_in = sig->len;
	b.eof_in = 1;
	r = RS_BLOCKED;
	for (i = 0; i < 16 && r == RS_BLOCKED; i++)
		r = rs_job_iter(job, &b);
	rs_job_free(job);
	if (r != RS_DONE) {
		delta_sig_free(sig);
		return error_set(err, TS_ERROR, "load a signature: %s",
		    rs_strerror(r));
	}
	if ((r = rs_build_hash_table(sig->rs)) != RS_DONE) {
		delta_sig_free(sig);
		return error_set(err, TS_ERROR, "index a signature: %s",
		    rs_strerror(r));
	}
	/* librsync took it: the header is sane. */
	sig->magic = get_be32(sig->raw);
	sig->block_len = get_be32(sig->raw + 4);
	sig->strong_len = get_be32(sig->raw + 8);
	if (sig->len >= SIG_HEADER && sig->block_len > 0 &&
	    (sig->len - SIG_HEADER) % (4 + sig->strong_len) == 0)
		sig->count = (sig->len - SIG_HEADER) / (4 + sig->strong_len);
	*out = sig;
	return 0;
}

void
delta_sig_free(struct delta_sig *sig)
{
	if (sig == NULL)
		return;
	if (sig->rs != NULL)
		rs_free_sumset(sig->rs);
	free(sig->raw);
	free(sig);
}

/* Reads want bytes of fd at off into buf: 0, or an error (a short read
 * means the file shrank: TS_ELOCAL, worth sending again). */
static int
read_at(int fd, uint8_t *buf, size_t want, uint64_t off, struct ts_error *err)
{
	ssize_t	 n;
	size_t	 got = 0;

	while (got < want) {
		n = pread(fd, buf + got, want - got, (off_t)(off + got));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return error_set_errno(err, errno, "read");
		if (n == 0) {
			error_set(err, TS_ELOCAL, "the file shrank while being "
			    "read");
			err->sys_errno = EAGAIN;
			return -1;
		}
		got += (size_t)n;
	}
	return 0;
}

struct delta_stream {
	rs_job_t	*job;		/* the new file's signature, computed
					 * from every byte */
	struct hash	 h;		/* XXH128: the content key (and the
					 * check, where xxhsum is) */
	FILE		*out;
	uint64_t	 size, fed;
	bool		 failed, done;
	/* A delta (delta_stream_new_delta): */
	struct delta_sig *base;
	bool		 own_base;
	uint64_t	 base_size;
	bool		 xxh;		/* the check is XXH128, */
	struct hash	 hs;		/* else SHA-256 */
	uint64_t	 part;		/* bytes matched by one job */
	uint8_t		*buf;
	char		 hex[HASH_HEX_MAX], check[HASH_HEX_MAX];
	/* The new signature when made from base's entries (job NULL): its
	 * header and the entries of the blocks before fed. */
	struct membuf	 sums;
	uint32_t	 magic, block_len, strong_len;
	size_t		 cur;		/* the command at the next block */
};

/*
 * The store's key of a content: 64 hex digits (SHA-256) of its XXH128,
 * which the one read makes at little cost (a tenth of SHA-256's over the
 * bytes).  A key only finds a signature, and any file built from one is
 * checked whole on the server (by XXH128 itself where xxhsum is), so a
 * collision, chance or crafted, costs a resend, never a wrong file.
 */
static void
content_key(struct hash *xh, char xxh[HASH_HEX_MAX], char key[HASH_HEX_MAX])
{
	static const char	 tag[] = "treesync content xxh128 ";
	struct hash		 h;

	hash_final(xh, xxh);
	key[0] = '\0';
	if (hash_init(&h, HASH_SHA256) != 0)
		return;
	hash_update(&h, tag, sizeof(tag) - 1);
	hash_update(&h, xxh, strlen(xxh));
	hash_final(&h, key);
	hash_dispose(&h);
}

int
delta_stream_new(struct delta_stream **out, uint64_t size, FILE *sig,
    struct ts_error *err)
{
	struct delta_stream *ds;
	rs_magic_number	 magic = RS_MD4_SIG_MAGIC;	/* see sig_params */
	size_t		 block_len = 0, strong_len = (size_t)-1;

	*out = NULL;
	if ((ds = calloc(1, sizeof(*ds))) == NULL)
		return error_set(err, TS_ENOMEM, "out of memory");
	if (hash_init(&ds->h, HASH_XXH128) != 0) {
		free(ds);
		return error_set(err, TS_ENOMEM, "out of memory");
	}
	if (rs_sig_args((rs_long_t)size, &magic, &block_len,
	    &strong_len) != RS_DONE || (ds->job = rs_sig_begin(block_len,
	    strong_len, magic)) == NULL) {
		delta_stream_free(ds);
		return error_set(err, TS_ERROR, "librsync: cannot start a "
		    "signature");
	}
	ds->out = sig;
	ds->size = size;
	*out = ds;
	return 0;
}

static void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static int
stream_new_delta(struct delta_stream **out, uint64_t size, FILE *sig,
    struct delta_sig *base, bool own_base, uint64_t base_size, bool xxh,
    struct ts_error *err)
{
	struct delta_stream *ds;
	/* MD4 strong sums and rsync's rolling sum: librsync's cheapest
	 * (about 0.7 s of CPU for the signature and the delta of 256 MiB
	 * here, against 1.2 s with BLAKE2 and RabinKarp).  A strong sum only
	 * picks blocks: every delta-built file is checked whole by hash on
	 * the server, so a collision, chance or crafted, costs a resend,
	 * never a wrong file. */
	rs_magic_number	 magic = RS_MD4_SIG_MAGIC;
	size_t		 block_len = 0, strong_len = (size_t)-1;
	uint8_t		 hdr[SIG_HEADER];
	uint64_t	 blocks;

	*out = NULL;
	if ((ds = calloc(1, sizeof(*ds))) == NULL) {
		if (own_base)
			delta_sig_free(base);
		return error_set(err, TS_ENOMEM, "out of memory");
	}
	ds->base = base;
	ds->own_base = own_base;
	ds->base_size = base_size;
	ds->size = size;
	ds->out = sig;
	ds->xxh = xxh;
	if (hash_init(&ds->h, HASH_XXH128) != 0 || (!xxh &&
	    hash_init(&ds->hs, HASH_SHA256) != 0) ||
	    (ds->buf = malloc(DELTA_IN)) == NULL) {
		delta_stream_free(ds);
		return error_set(err, TS_ENOMEM, "out of memory");
	}
	/* Block length about the square root of the size (rsync's rule,
	 * bounded by librsync); the strong sum as short as is safe against
	 * chance collisions, since the whole file is checked by hash. */
	if (rs_sig_args((rs_long_t)size, &magic, &block_len,
	    &strong_len) != RS_DONE) {
		delta_stream_free(ds);
		return error_set(err, TS_ERROR, "librsync: cannot start a "
		    "signature");
	}
	ds->magic = (uint32_t)magic;
	ds->block_len = (uint32_t)block_len;
	ds->strong_len = (uint32_t)strong_len;
	/* Parts are whole blocks of the new file, so a block's commands
	 * are all known when its part is done. */
	blocks = DELTA_PART / block_len;
	if (blocks < DELTA_PART_BLOCKS)
		blocks = DELTA_PART_BLOCKS;
	ds->part = blocks * block_len;
	if (sig == NULL)
		return *out = ds, 0;
	/* The same kind of signature as base's: its entries can be used. */
	if (base->count > 0 && base->magic == ds->magic &&
	    base->block_len == ds->block_len &&
	    base->strong_len == ds->strong_len) {
		put_be32(hdr, ds->magic);
		put_be32(hdr + 4, ds->block_len);
		put_be32(hdr + 8, ds->strong_len);
		if (membuf_add(&ds->sums, hdr, sizeof(hdr), err) != 0) {
			delta_stream_free(ds);
			return -1;
		}
	} else if ((ds->job = rs_sig_begin(block_len, strong_len,
	    magic)) == NULL) {
		delta_stream_free(ds);
		return error_set(err, TS_ERROR, "librsync: cannot start a "
		    "signature");
	}
	*out = ds;
	return 0;
}

int
delta_stream_new_delta(struct delta_stream **out, uint64_t size, FILE *sig,
    struct delta_sig *base, uint64_t base_size, bool xxh,
    struct ts_error *err)
{
	return stream_new_delta(out, size, sig, base, true, base_size, xxh,
	    err);
}

static uint64_t
cmd_end(const struct delta_cmd *c)
{
	return c->off + c->len;
}

/*
 * The entry of base's signature that is the new file's block at off, of
 * len bytes, or -1.  It is when one copy covers the block and copies it
 * from the start of one of base's blocks: librsync copies only blocks
 * whose weak and strong sums equal the signature's, so that block's
 * entry is this block's, whatever the old file holds.
 */
static int64_t
base_entry(struct delta_stream *ds, const struct delta *d, uint64_t off,
    uint64_t len)
{
	const struct delta_cmd	*c;
	uint64_t		 from;

	while (ds->cur < d->n && cmd_end(&d->v[ds->cur]) <= off)
		ds->cur++;
	if (ds->cur == d->n)
		return -1;
	c = &d->v[ds->cur];
	if (!c->copy || c->off > off || off + len > cmd_end(c))
		return -1;
	from = c->base_off + (off - c->off);
	if (from % ds->block_len != 0 || from / ds->block_len >=
	    ds->base->count)
		return -1;
	return (int64_t)(from / ds->block_len);
}

/* The entries of the new file's blocks from off to end, computed from
 * the file's bytes: those blocks changed or moved. */
static int
sums_compute(struct delta_stream *ds, int fd, uint64_t off, uint64_t end,
    struct ts_error *err)
{
	rs_job_t	*sj;
	size_t		 want;
	int		 r = 0;

	if ((sj = rs_sig_begin(ds->block_len, ds->strong_len,
	    (rs_magic_number)ds->magic)) == NULL)
		return error_set(err, TS_ERROR, "librsync: cannot start a "
		    "signature");
	ds->sums.skip = SIG_HEADER;
	while (r == 0) {
		want = end - off < DELTA_IN ? (size_t)(end - off) : DELTA_IN;
		if (read_at(fd, ds->buf, want, off, err) != 0) {
			r = -1;
			break;
		}
		off += want;
		r = job_feed_to(sj, ds->buf, want, off == end, NULL, NULL,
		    &ds->sums, err);
	}
	rs_job_free(sj);
	return r == 1 ? 0 : -1;
}

/* The new signature's entries for the blocks from off to end, all of
 * whose commands are in d. */
static int
sums_add(struct delta_stream *ds, int fd, const struct delta *d,
    uint64_t off, uint64_t end, struct ts_error *err)
{
	size_t		 esz = 4 + ds->strong_len;
	uint64_t	 len, run;
	int64_t		 k;

	while (off < end) {
		len = ds->size - off < ds->block_len ? ds->size - off :
		    ds->block_len;
		if ((k = base_entry(ds, d, off, len)) >= 0) {
			if (membuf_add(&ds->sums, ds->base->raw + SIG_HEADER +
			    (size_t)k * esz, esz, err) != 0)
				return -1;
			off += len;
			continue;
		}
		for (run = off + len; run < end; run += len) {
			len = ds->size - run < ds->block_len ? ds->size - run :
			    ds->block_len;
			if (base_entry(ds, d, run, len) >= 0)
				break;
		}
		if (sums_compute(ds, fd, off, run, err) != 0)
			return -1;
		off = run;
	}
	return 0;
}

int
delta_stream_scan(struct delta_stream *ds, int fd, struct delta *d,
    struct ts_error *err)
{
	struct dparse	 p;
	rs_job_t	*dj = NULL;
	uint64_t	 start = ds->fed, end, off;
	size_t		 want;
	bool		 ddone = false, eof;
	int		 r;

	if (ds->done)
		return 1;
	if (ds->failed || ds->base == NULL)
		return error_set(err, TS_ERROR, "delta: scanned after a "
		    "failure");
	end = ds->size - start < ds->part ? ds->size : start + ds->part;
	memset(&p, 0, sizeof(p));
	p.d = d;
	p.base_size = ds->base_size;
	p.pos = start;
	p.err = err;
	if ((dj = rs_delta_begin(ds->base->rs)) == NULL) {
		error_set(err, TS_ERROR, "librsync: cannot start a delta");
		goto fail;
	}
	off = start;
	do {
		want = end - off < DELTA_IN ? (size_t)(end - off) : DELTA_IN;
		if (read_at(fd, ds->buf, want, off, err) != 0)
			goto fail;
		off += want;
		eof = off == end;
		hash_update(&ds->h, ds->buf, want);
		if (!ds->xxh)
			hash_update(&ds->hs, ds->buf, want);
		if (ds->job != NULL && job_feed(ds->job, ds->buf, want,
		    off == ds->size, ds->out, NULL, err) < 0)
			goto fail;
		if ((r = job_feed(dj, ds->buf, want, eof, NULL, &p, err)) < 0)
			goto fail;
		ddone = r == 1;
	} while (!eof);
	rs_job_free(dj);
	dj = NULL;
	if (!ddone || !p.end || p.pos != end) {
		error_set(err, TS_ERROR, "delta: describes %llu bytes of %llu",
		    (unsigned long long)(p.pos - start),
		    (unsigned long long)(end - start));
		goto fail;
	}
	if (ds->out != NULL && ds->job == NULL &&
	    sums_add(ds, fd, d, start, end, err) != 0)
		goto fail;
	ds->fed = end;
	if (end < ds->size)
		return 0;
	content_key(&ds->h, ds->check, ds->hex);
	if (!ds->xxh)
		hash_final(&ds->hs, ds->check);
	ds->done = true;
	return 1;
fail:
	if (dj != NULL)
		rs_job_free(dj);
	ds->failed = true;
	return -1;
}

const char *
delta_stream_check(const struct delta_stream *ds)
{
	return ds->done && !ds->failed ? ds->check : NULL;
}

int
delta_scan(int fd, uint64_t size, struct delta_sig *base,
    uint64_t base_size, FILE *sig_out, char hex[HASH_HEX_MAX], char *xxh,
    struct delta *d, struct ts_error *err)
{
	struct delta_stream *ds = NULL;
	uint8_t		*buf = NULL;
	uint64_t	 off = 0;
	size_t		 want;
	int		 r;

	hex[0] = '\0';
	if (base != NULL) {
		if (stream_new_delta(&ds, size, sig_out, base, false, base_size,
		    xxh != NULL, err) != 0)
			return -1;
		while ((r = delta_stream_scan(ds, fd, d, err)) == 0)
			;
		if (r == 1 && sig_out != NULL && !delta_stream_end(ds, hex))
			r = error_set_errno(err, errno, "write a signature");
		if (r == 1) {
			memcpy(hex, ds->hex, HASH_HEX_MAX);
			if (xxh != NULL)
				memcpy(xxh, ds->check, HASH_HEX_MAX);
		}
		delta_stream_free(ds);
		return r == 1 ? 0 : -1;
	}
	/* No base: the signature (when wanted) and the hashes. */
	if (delta_stream_new(&ds, size, sig_out, err) != 0)
		return -1;
	if (sig_out == NULL) {
		rs_job_free(ds->job);
		ds->job = NULL;
	}
	if ((buf = malloc(DELTA_IN)) == NULL) {
		delta_stream_free(ds);
		return error_set(err, TS_ENOMEM, "out of memory");
	}
	r = 0;
	do {
		want = size - off < DELTA_IN ? (size_t)(size - off) : DELTA_IN;
		if ((r = read_at(fd, buf, want, off, err)) != 0)
			break;
		off += want;
		hash_update(&ds->h, buf, want);
		if (ds->job != NULL && (r = job_feed(ds->job, buf, want,
		    off == size, sig_out, NULL, err)) < 0)
			break;
		r = 0;
	} while (off < size);
	if (r == 0 && sig_out != NULL && fflush(sig_out) != 0)
		r = error_set_errno(err, errno, "write a signature");
	if (r == 0) {
		char	 x[HASH_HEX_MAX];

		content_key(&ds->h, x, hex);
		if (xxh != NULL)
			memcpy(xxh, x, HASH_HEX_MAX);
	}
	free(buf);
	delta_stream_free(ds);
	return r;
}

void
delta_stream_feed(struct delta_stream *ds, const void *p, size_t n)
{
	struct ts_error	 e = { 0 };
	int		 r;

	if (ds->failed || ds->done || n == 0)
		return;
	if (ds->fed + n > ds->size) {	/* the file grew: not what was read */
		ds->failed = true;
		return;
	}
	ds->fed += n;
	hash_update(&ds->h, p, n);
	if ((r = job_feed(ds->job, p, n, ds->fed == ds->size, ds->out, NULL,
	    &e)) < 0)
		ds->failed = true;
	else
		ds->done = r == 1;
}

/* A delta's signature made of base's entries: written out whole. */
static bool
sums_write(struct delta_stream *ds)
{
	return fwrite(ds->sums.p, 1, ds->sums.len, ds->out) == ds->sums.len &&
	    fflush(ds->out) == 0;
}

bool
delta_stream_end(struct delta_stream *ds, char hex[HASH_HEX_MAX])
{
	char	 x[HASH_HEX_MAX];

	hex[0] = '\0';
	if (ds->failed || !ds->done || ds->fed != ds->size || ds->out == NULL)
		return false;
	if (ds->base != NULL) {
		if (ds->job == NULL && !sums_write(ds))
			return false;
		if (ds->job != NULL && fflush(ds->out) != 0)
			return false;
		memcpy(hex, ds->hex, HASH_HEX_MAX);
		return true;
	}
	if (fflush(ds->out) != 0)
		return false;
	content_key(&ds->h, x, hex);
	return true;
}

bool
delta_stream_cut(struct delta_stream *ds)
{
	struct ts_error	 e = { 0 };

	if (ds->failed || ds->fed == 0 || ds->out == NULL)
		return false;
	if (ds->base != NULL && ds->job == NULL)
		return sums_write(ds);
	if (!ds->done && job_feed(ds->job, NULL, 0, true, ds->out, NULL,
	    &e) != 1)
		return false;
	ds->done = true;
	return fflush(ds->out) == 0;
}

void
delta_stream_free(struct delta_stream *ds)
{
	if (ds == NULL)
		return;
	if (ds->job != NULL)
		rs_job_free(ds->job);
	hash_dispose(&ds->h);
	if (ds->base != NULL && !ds->xxh)
		hash_dispose(&ds->hs);
	if (ds->own_base)
		delta_sig_free(ds->base);
	free(ds->sums.p);
	free(ds->buf);
	free(ds);
}
