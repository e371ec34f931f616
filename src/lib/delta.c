/*
 * Delta commands from librsync: one read of the new file feeds two
 * librsync jobs, the new file's signature (for the next run) and the
 * delta against the old file's signature.  The delta stream is parsed
 * as it comes out and only its commands are kept: a LITERAL's bytes are
 * the new file's own at the same offset, read again when sent, so a
 * file that changed entirely costs no memory.
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

/*
 * Gives a librsync job n bytes of input (eof: the last), and what it
 * writes to out (to a file, or to the parser).  Returns 1 when the job
 * is done, 0 when it wants more input, or an error.
 */
static int
job_feed(rs_job_t *job, const uint8_t *in, size_t n, bool eof, FILE *out,
    struct dparse *p, struct ts_error *err)
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

int
delta_sig_load(struct rs_signature **out, FILE *f, struct ts_error *err)
{
	rs_signature_t	*sig = NULL;
	rs_result	 r;

	*out = NULL;
	if ((r = rs_loadsig_file(f, &sig, NULL)) != RS_DONE) {
		if (sig != NULL)
			rs_free_sumset(sig);
		return error_set(err, TS_ERROR, "load a signature: %s",
		    rs_strerror(r));
	}
	if ((r = rs_build_hash_table(sig)) != RS_DONE) {
		rs_free_sumset(sig);
		return error_set(err, TS_ERROR, "index a signature: %s",
		    rs_strerror(r));
	}
	*out = sig;
	return 0;
}

void
delta_sig_free(struct rs_signature *sig)
{
	if (sig != NULL)
		rs_free_sumset(sig);
}

int
delta_scan(int fd, uint64_t size, struct rs_signature *base,
    uint64_t base_size, FILE *sig_out, char hex[HASH_HEX_MAX], char *xxh,
    struct delta *d, struct ts_error *err)
{
	struct hash	 h, hx;
	struct dparse	 p;
	rs_job_t	*sj = NULL, *dj = NULL;
	/* MD4 strong sums and rsync's rolling sum: librsync's cheapest
	 * (about 0.7 s of CPU for the signature and the delta of 256 MiB
	 * here, against 1.2 s with BLAKE2 and RabinKarp).  A strong sum only
	 * picks blocks: every delta-built file is checked whole by hash on
	 * the server, so a collision, chance or crafted, costs a resend,
	 * never a wrong file. */
	rs_magic_number	 magic = RS_MD4_SIG_MAGIC;
	size_t		 block_len = 0, strong_len = (size_t)-1;
	uint8_t		*buf = NULL;
	uint64_t	 off = 0;
	ssize_t		 n;
	bool		 eof, sdone = false, ddone = false;
	int		 rc = -1, r;

	hex[0] = '\0';
	memset(&p, 0, sizeof(p));
	p.d = d;
	p.base_size = base_size;
	p.err = err;
	if (hash_init(&h, HASH_SHA256) != 0)
		return error_set(err, TS_ENOMEM, "out of memory");
	if (xxh != NULL && hash_init(&hx, HASH_XXH128) != 0) {
		hash_dispose(&h);
		return error_set(err, TS_ENOMEM, "out of memory");
	}
	/* Block length about the square root of the size (rsync's rule,
	 * bounded by librsync); the strong sum as short as is safe against
	 * chance collisions, since the whole file is checked by hash. */
	if (sig_out != NULL) {
		if (rs_sig_args((rs_long_t)size, &magic, &block_len,
		    &strong_len) != RS_DONE ||
		    (sj = rs_sig_begin(block_len, strong_len, magic)) == NULL) {
			error_set(err, TS_ERROR, "librsync: cannot start a "
			    "signature");
			goto out;
		}
	} else
		sdone = true;
	if (base != NULL) {
		if ((dj = rs_delta_begin(base)) == NULL) {
			error_set(err, TS_ERROR, "librsync: cannot start a "
			    "delta");
			goto out;
		}
	} else
		ddone = true;
	if ((buf = malloc(DELTA_IN)) == NULL) {
		error_set(err, TS_ENOMEM, "out of memory");
		goto out;
	}
	do {
		size_t	 want = size - off < DELTA_IN ? (size_t)(size - off) :
		    DELTA_IN;

		n = 0;
		if (want > 0) {
			do {
				n = pread(fd, buf, want, (off_t)off);
			} while (n == -1 && errno == EINTR);
			if (n == -1) {
				error_set_errno(err, errno, "read");
				goto out;
			}
			if (n == 0) {
				error_set(err, TS_ELOCAL, "the file shrank "
				    "while being read");
				err->sys_errno = EAGAIN;
				goto out;
			}
		}
		off += (uint64_t)n;
		eof = off == size;
		hash_update(&h, buf, (size_t)n);
		if (xxh != NULL)
			hash_update(&hx, buf, (size_t)n);
		if (!sdone) {
			if ((r = job_feed(sj, buf, (size_t)n, eof, sig_out,
			    NULL, err)) < 0)
				goto out;
			sdone = r == 1;
		}
		if (!ddone) {
			if ((r = job_feed(dj, buf, (size_t)n, eof, NULL, &p,
			    err)) < 0)
				goto out;
			ddone = r == 1;
		}
	} while (!eof);
	if (!sdone || !ddone) {
		error_set(err, TS_ERROR, "librsync did not finish");
		goto out;
	}
	if (base != NULL && (!p.end || p.pos != size)) {
		error_set(err, TS_ERROR, "delta: describes %llu bytes of %llu",
		    (unsigned long long)p.pos, (unsigned long long)size);
		goto out;
	}
	if (sig_out != NULL && fflush(sig_out) != 0) {
		error_set_errno(err, errno, "write a signature");
		goto out;
	}
	hash_final(&h, hex);
	if (xxh != NULL)
		hash_final(&hx, xxh);
	rc = 0;
out:
	hash_dispose(&h);
	if (xxh != NULL)
		hash_dispose(&hx);
	if (sj != NULL)
		rs_job_free(sj);
	if (dj != NULL)
		rs_job_free(dj);
	free(buf);
	return rc;
}

struct delta_stream {
	rs_job_t	*job;
	struct hash	 h;
	FILE		*out;
	uint64_t	 size, fed;
	bool		 failed, done;
};

int
delta_stream_new(struct delta_stream **out, uint64_t size, FILE *sig,
    struct ts_error *err)
{
	struct delta_stream *ds;
	rs_magic_number	 magic = RS_MD4_SIG_MAGIC;	/* see delta_scan */
	size_t		 block_len = 0, strong_len = (size_t)-1;

	*out = NULL;
	if ((ds = calloc(1, sizeof(*ds))) == NULL)
		return error_set(err, TS_ENOMEM, "out of memory");
	if (hash_init(&ds->h, HASH_SHA256) != 0) {
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

bool
delta_stream_end(struct delta_stream *ds, char hex[HASH_HEX_MAX])
{
	hex[0] = '\0';
	if (ds->failed || !ds->done || ds->fed != ds->size ||
	    fflush(ds->out) != 0)
		return false;
	hash_final(&ds->h, hex);
	return true;
}

bool
delta_stream_cut(struct delta_stream *ds)
{
	struct ts_error	 e = { 0 };

	if (ds->failed || ds->fed == 0)
		return false;
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
	free(ds);
}
