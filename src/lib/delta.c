/*
 * Delta commands, rsync's algorithm: the old file's signature (per block
 * a rolling weak sum and a strong hash) against one read of the new file
 * gives COPY commands (bytes the server copies from the old file) and
 * LITERAL ones (the new file's own bytes at the same offset, read again
 * when sent, so a file that changed entirely costs no memory).  The file
 * is matched a part at a time, so an upload can send the commands of the
 * first parts while the rest is still read.  The same read hashes the
 * file and signs it for the next run.
 *
 * A signature on disk (the store's files), all numbers big-endian:
 *	"tsd1", block length (4), strong hash length (4, always 8)
 *	per block: weak sum (4), XXH3-64 of the block (8)
 *	the bytes signed (8): the last block may be shorter
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "delta.h"
#include "error.h"

#define DELTA_IN	(256u * 1024)	/* bytes read at once when signing */
/* A part is matched at once: a match across its end is lost (less than
 * two blocks sent instead of copied, where bytes moved), so a part is
 * many blocks; and small, so the first copies go out early. */
#define DELTA_PART	(8u << 20)
#define DELTA_PART_BLOCKS 64
/* A signature bigger than this is not loaded (the store's whole bound). */
#define DELTA_SIG_MAX	(256u << 20)
#define SIG_MAGIC	0x74736431u	/* "tsd1" */
#define SIG_HEADER	12
#define SIG_TRAILER	8
#define STRONG_LEN	8
#define ENTRY_LEN	(4 + STRONG_LEN)
/* Block length: about the square root of the size (rsync's rule), in
 * KiB steps so that a file that grows a little keeps its blocks. */
#define BLOCK_MIN	1024u
#define BLOCK_MAX	(128u << 10)
#define BLOCK_STEP	1024u
#define LOAD_BLOCK_MIN	64u		/* what a loaded signature may have */
/* rsync's offset added to every byte of the weak sum. */
#define CHAR_OFFSET	31u
/* Entries with one weak sum looked at per position (a file of one byte
 * repeated has a single weak sum for every block). */
#define CHAIN_MAX	64
#define NONE		UINT32_MAX

/* A signature loaded for matching: its bytes, decoded, and a hash table
 * from weak sum to the entries of whole blocks. */
struct delta_sig {
	uint8_t		*raw;
	size_t		 len;
	uint32_t	 block_len;
	uint64_t	 count;		/* entries */
	uint64_t	 signed_size;	/* bytes they describe */
	uint64_t	 whole;		/* entries of block_len bytes */
	uint32_t	*weak;
	uint64_t	*strong;
	uint32_t	*head, *next;
	unsigned	 bits;
};

/* A signature being written: the sums of the block being fed. */
struct signer {
	FILE		*out;
	uint32_t	 block_len;
	uint32_t	 s1, s2;
	XXH3_state_t	*xs;
	size_t		 have;		/* bytes of the current block */
	uint64_t	 signed_size;
	bool		 failed;
};

struct delta_stream {
	struct hash	 h;		/* XXH128: the content key (and the
					 * check, where xxhsum is) */
	struct hash	 hs;		/* SHA-256, the check elsewhere */
	bool		 xxh, has_hs;
	struct signer	 sg;		/* the new file's signature */
	uint64_t	 size, fed;
	bool		 failed, done, ended;
	/* A delta (delta_stream_new_delta): */
	struct delta_sig *base;
	bool		 own_base, reuse;
	uint64_t	 base_size;
	uint64_t	 part;		/* bytes matched at once */
	uint64_t	 want;		/* base's block expected next */
	uint8_t		*buf;
	size_t		 cur;		/* the command at the next block */
	char		 hex[HASH_HEX_MAX], check[HASH_HEX_MAX];
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
 * other (a run of copied blocks is one copy). */
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

/* A copy of len bytes from base_off.  Beyond the old file's end (a
 * signature of more bytes than the file has: a partial upload's) the
 * bytes are sent instead. */
static int
delta_copy(struct delta *d, uint64_t off, uint64_t len, uint64_t base_off,
    uint64_t base_size, struct ts_error *err)
{
	uint64_t	 cp = base_off >= base_size ? 0 : len < base_size -
			    base_off ? len : base_size - base_off;

	if (delta_add(d, true, off, cp, base_off, err) != 0)
		return -1;
	return delta_add(d, false, off + cp, len - cp, 0, err);
}

static uint64_t
get_be(const uint8_t *p, size_t n)
{
	uint64_t	 v = 0;

	while (n-- > 0)
		v = v << 8 | *p++;
	return v;
}

static void
put_be(uint8_t *p, uint64_t v, size_t n)
{
	while (n-- > 0) {
		p[n] = (uint8_t)v;
		v >>= 8;
	}
}

/* Adds n bytes to a weak sum: s1 is the sum of the bytes, s2 the sum of
 * s1 after each, both modulo 2^32 (the sum keeps 16 bits of each).  The
 * one chain of additions is what costs, so bytes go 16 at a step where
 * SSE2 is (every x86-64), else 4. */
static void
sum_update(uint32_t *s1p, uint32_t *s2p, const uint8_t *p, size_t n)
{
	uint32_t	 s1 = *s1p, s2 = *s2p;
	size_t		 i = 0;

#ifdef __SSE2__
	if (n >= 16) {
		const __m128i	 zero = _mm_setzero_si128();
		const __m128i	 wlo = _mm_setr_epi16(16, 15, 14, 13, 12, 11,
				    10, 9);
		const __m128i	 whi = _mm_setr_epi16(8, 7, 6, 5, 4, 3, 2, 1);
		__m128i		 vs1 = zero, vps = zero, vs2 = zero, c;
		uint32_t	 k = (uint32_t)(n / 16), t[4], sum, pre, w;

		/* Per 16 bytes: the sum of the bytes (vs1), the sums before
		 * each step (vps, for s2's 16 * s1), and each byte times its
		 * weight 16..1 (vs2); 32-bit lanes wrap as s1 and s2 do. */
		for (; i + 16 <= n; i += 16) {
			c = _mm_loadu_si128((const __m128i *)(const void *)
			    (p + i));
			vps = _mm_add_epi32(vps, vs1);
			vs1 = _mm_add_epi32(vs1, _mm_sad_epu8(c, zero));
			vs2 = _mm_add_epi32(vs2, _mm_madd_epi16(
			    _mm_unpacklo_epi8(c, zero), wlo));
			vs2 = _mm_add_epi32(vs2, _mm_madd_epi16(
			    _mm_unpackhi_epi8(c, zero), whi));
		}
		_mm_storeu_si128((__m128i *)(void *)t, vs1);
		sum = t[0] + t[2];
		_mm_storeu_si128((__m128i *)(void *)t, vps);
		pre = t[0] + t[2];
		_mm_storeu_si128((__m128i *)(void *)t, vs2);
		w = t[0] + t[1] + t[2] + t[3];
		s2 += 16 * k * s1 + 16 * pre + w + 128 * CHAR_OFFSET * k *
		    (k - 1) + 136 * CHAR_OFFSET * k;
		s1 += sum + 16 * CHAR_OFFSET * k;
	}
#endif
	for (; i + 4 <= n; i += 4) {
		s2 += 4 * s1 + 4u * p[i] + 3u * p[i + 1] + 2u * p[i + 2] +
		    p[i + 3] + 10 * CHAR_OFFSET;
		s1 += (uint32_t)p[i] + p[i + 1] + p[i + 2] + p[i + 3] +
		    4 * CHAR_OFFSET;
	}
	for (; i < n; i++) {
		s1 += p[i] + CHAR_OFFSET;
		s2 += s1;
	}
	*s1p = s1;
	*s2p = s2;
}

static uint32_t
weak_of(uint32_t s1, uint32_t s2)
{
	return (s1 & 0xffff) | s2 << 16;
}

static uint32_t
weak_block(const uint8_t *p, size_t n)
{
	uint32_t	 s1 = 0, s2 = 0;

	sum_update(&s1, &s2, p, n);
	return weak_of(s1, s2);
}

/* The block length of a file of size bytes. */
static uint32_t
block_len_for(uint64_t size)
{
	uint64_t	 r = 0, b;

	for (b = (uint64_t)1 << 31; b > 0; b >>= 1)	/* integer sqrt */
		if ((r + b) * (r + b) <= size)
			r += b;
	r = (r + BLOCK_STEP - 1) / BLOCK_STEP * BLOCK_STEP;
	return r < BLOCK_MIN ? BLOCK_MIN : r > BLOCK_MAX ? BLOCK_MAX :
	    (uint32_t)r;
}

/* --- writing a signature ---------------------------------------------- */

static void
signer_init(struct signer *sg, FILE *out, uint32_t block_len)
{
	uint8_t	 hdr[SIG_HEADER];

	memset(sg, 0, sizeof(*sg));
	sg->out = out;
	sg->block_len = block_len;
	if (out == NULL)
		return;
	put_be(hdr, SIG_MAGIC, 4);
	put_be(hdr + 4, block_len, 4);
	put_be(hdr + 8, STRONG_LEN, 4);
	sg->failed = fwrite(hdr, 1, sizeof(hdr), out) != sizeof(hdr);
}

/* An entry of len bytes: written as is (one of another signature's). */
static void
signer_put(struct signer *sg, const uint8_t *entry, size_t len)
{
	if (sg->out == NULL || sg->failed)
		return;
	sg->failed = fwrite(entry, 1, ENTRY_LEN, sg->out) != ENTRY_LEN;
	sg->signed_size += len;
}

static void
signer_entry(struct signer *sg, uint32_t weak, uint64_t strong, size_t len)
{
	uint8_t	 e[ENTRY_LEN];

	put_be(e, weak, 4);
	put_be(e + 4, strong, 8);
	signer_put(sg, e, len);
}

/* Signs n more bytes, in file order. */
static void
signer_feed(struct signer *sg, const uint8_t *p, size_t n)
{
	size_t	 k;

	if (sg->out == NULL || sg->failed)
		return;
	while (n > 0) {
		k = sg->block_len - sg->have;
		if (k > n)
			k = n;
		if (sg->have == 0 && k == sg->block_len) {	/* at once */
			signer_entry(sg, weak_block(p, k), XXH3_64bits(p, k), k);
			p += k;
			n -= k;
			continue;
		}
		if (sg->have == 0) {
			if (sg->xs == NULL && (sg->xs = XXH3_createState()) ==
			    NULL) {
				sg->failed = true;
				return;
			}
			XXH3_64bits_reset(sg->xs);
			sg->s1 = sg->s2 = 0;
		}
		sum_update(&sg->s1, &sg->s2, p, k);
		XXH3_64bits_update(sg->xs, p, k);
		sg->have += k;
		p += k;
		n -= k;
		if (sg->have == sg->block_len) {
			signer_entry(sg, weak_of(sg->s1, sg->s2),
			    XXH3_64bits_digest(sg->xs), sg->have);
			sg->have = 0;
		}
	}
}

/* Ends the signature: the short last block, the bytes signed.  Returns
 * whether all of it was written. */
static bool
signer_finish(struct signer *sg)
{
	uint8_t	 t[SIG_TRAILER];

	if (sg->out == NULL || sg->failed)
		return false;
	if (sg->have > 0) {
		signer_entry(sg, weak_of(sg->s1, sg->s2),
		    XXH3_64bits_digest(sg->xs), sg->have);
		sg->have = 0;
	}
	put_be(t, sg->signed_size, SIG_TRAILER);
	return !sg->failed && fwrite(t, 1, sizeof(t), sg->out) == sizeof(t) &&
	    fflush(sg->out) == 0;
}

static void
signer_dispose(struct signer *sg)
{
	if (sg->xs != NULL)
		XXH3_freeState(sg->xs);
	sg->xs = NULL;
}

/* --- loading one -------------------------------------------------------- */

/* Reads all of f, a signature, into *raw. */
static int
read_all(FILE *f, uint8_t **raw, size_t *len, struct ts_error *err)
{
	uint8_t	*p = NULL, *q;
	size_t	 cap = 0, n = 0, got;

	for (;;) {
		if (n == cap) {
			cap = cap != 0 ? cap * 2 : 65536;
			if (cap > DELTA_SIG_MAX || (q = realloc(p, cap)) ==
			    NULL) {
				free(p);
				return error_set(err, TS_ENOMEM, "a signature "
				    "too big to load");
			}
			p = q;
		}
		if ((got = fread(p + n, 1, cap - n, f)) == 0)
			break;
		n += got;
	}
	if (ferror(f)) {
		free(p);
		return error_set_errno(err, errno, "read a signature");
	}
	*raw = p;
	*len = n;
	return 0;
}

/* Checks the header and trailer of sig->raw and decodes its entries. */
static int
sig_parse(struct delta_sig *sig, struct ts_error *err)
{
	const uint8_t	*e;
	uint64_t	 k, n;

	if (sig->len < SIG_HEADER + SIG_TRAILER ||
	    get_be(sig->raw, 4) != SIG_MAGIC)
		return error_set(err, TS_ERROR, "a signature of another kind "
		    "(an older treesync's, or damaged)");
	sig->block_len = (uint32_t)get_be(sig->raw + 4, 4);
	n = sig->len - SIG_HEADER - SIG_TRAILER;
	sig->signed_size = get_be(sig->raw + sig->len - SIG_TRAILER,
	    SIG_TRAILER);
	sig->count = n / ENTRY_LEN;
	if (get_be(sig->raw + 8, 4) != STRONG_LEN || n % ENTRY_LEN != 0 ||
	    sig->block_len < LOAD_BLOCK_MIN || sig->block_len > BLOCK_MAX ||
	    sig->signed_size > UINT64_MAX / 2 ||
	    (sig->signed_size + sig->block_len - 1) / sig->block_len !=
	    sig->count)
		return error_set(err, TS_ERROR, "a damaged signature");
	sig->whole = sig->signed_size / sig->block_len;
	if ((sig->weak = malloc((sig->count + 1) * sizeof(*sig->weak))) ==
	    NULL || (sig->strong = malloc((sig->count + 1) *
	    sizeof(*sig->strong))) == NULL)
		return error_set(err, TS_ENOMEM, "out of memory");
	for (k = 0, e = sig->raw + SIG_HEADER; k < sig->count; k++,
	    e += ENTRY_LEN) {
		sig->weak[k] = (uint32_t)get_be(e, 4);
		sig->strong[k] = get_be(e + 4, 8);
	}
	return 0;
}

static uint32_t
slot_of(const struct delta_sig *sig, uint32_t weak)
{
	return (uint32_t)(weak * 2654435761u) >> (32 - sig->bits);
}

/* The table of whole blocks by weak sum; a chain lists the lower block
 * first, so equal blocks copy from the first. */
static int
sig_index(struct delta_sig *sig, struct ts_error *err)
{
	uint64_t	 k, slots;
	uint32_t	 s;

	for (sig->bits = 4; ((uint64_t)1 << sig->bits) < 2 * sig->whole &&
	    sig->bits < 31; sig->bits++)
		;
	slots = (uint64_t)1 << sig->bits;
	if ((sig->head = malloc(slots * sizeof(*sig->head))) == NULL ||
	    (sig->next = malloc((sig->whole + 1) * sizeof(*sig->next))) ==
	    NULL)
		return error_set(err, TS_ENOMEM, "out of memory");
	memset(sig->head, 0xff, slots * sizeof(*sig->head));
	for (k = sig->whole; k-- > 0; ) {
		s = slot_of(sig, sig->weak[k]);
		sig->next[k] = sig->head[s];
		sig->head[s] = (uint32_t)k;
	}
	return 0;
}

int
delta_sig_load(struct delta_sig **out, FILE *f, struct ts_error *err)
{
	struct delta_sig *sig;

	*out = NULL;
	if ((sig = calloc(1, sizeof(*sig))) == NULL)
		return error_set(err, TS_ENOMEM, "out of memory");
	if (read_all(f, &sig->raw, &sig->len, err) != 0 ||
	    sig_parse(sig, err) != 0 || sig_index(sig, err) != 0) {
		delta_sig_free(sig);
		return -1;
	}
	*out = sig;
	return 0;
}

void
delta_sig_free(struct delta_sig *sig)
{
	if (sig == NULL)
		return;
	free(sig->raw);
	free(sig->weak);
	free(sig->strong);
	free(sig->head);
	free(sig->next);
	free(sig);
}

/* --- matching ------------------------------------------------------------ */

/* The whole block of base whose sums are the block at p (weak sum weak),
 * or -1: first the one after the last copied (a run goes on), then the
 * others with that weak sum.  The strong hash is made once, if needed. */
static int64_t
sig_find(const struct delta_sig *sig, uint32_t weak, const uint8_t *p,
    uint64_t want)
{
	uint64_t	 strong = 0;
	bool		 have = false;
	uint32_t	 k;
	int		 n;

	if (want < sig->whole && sig->weak[want] == weak) {
		strong = XXH3_64bits(p, sig->block_len);
		have = true;
		if (sig->strong[want] == strong)
			return (int64_t)want;
	}
	for (k = sig->head[slot_of(sig, weak)], n = 0; k != NONE &&
	    n < CHAIN_MAX; k = sig->next[k], n++) {
		if (sig->weak[k] != weak)
			continue;
		if (!have) {
			strong = XXH3_64bits(p, sig->block_len);
			have = true;
		}
		if (sig->strong[k] == strong)
			return k;
	}
	return -1;
}

/* base's short last block, when it is the end of b (n bytes, the end of
 * the new file) from lit on: its offset in b, else n. */
static size_t
match_tail(const struct delta_sig *sig, const uint8_t *b, size_t n,
    size_t lit)
{
	uint64_t	 t = sig->signed_size - sig->whole * sig->block_len;

	if (t == 0 || t > n - lit)
		return n;
	b += n - t;
	if (weak_block(b, (size_t)t) == sig->weak[sig->whole] &&
	    XXH3_64bits(b, (size_t)t) == sig->strong[sig->whole])
		return n - (size_t)t;
	return n;
}

/*
 * The commands for the n bytes at b, the new file's from start: each
 * window of a block's length whose weak sum (rolled a byte at a time)
 * and strong hash are a block of base's is copied from it; the rest is
 * sent.  last: b ends the file.
 */
static int
match_part(struct delta_stream *ds, const uint8_t *b, size_t n,
    uint64_t start, bool last, struct delta *d, struct ts_error *err)
{
	const struct delta_sig	*sig = ds->base;
	size_t			 bl = sig->block_len, pos = 0, lit = 0, t;
	uint32_t		 s1 = 0, s2 = 0, out, in;
	bool			 summed = false;
	int64_t			 k;

	while (sig->whole > 0 && pos + bl <= n) {
		if (!summed) {
			s1 = s2 = 0;
			sum_update(&s1, &s2, b + pos, bl);
			summed = true;
		}
		if ((k = sig_find(sig, weak_of(s1, s2), b + pos,
		    ds->want)) >= 0) {
			if (delta_add(d, false, start + lit, pos - lit, 0,
			    err) != 0 || delta_copy(d, start + pos, bl,
			    (uint64_t)k * bl, ds->base_size, err) != 0)
				return -1;
			pos += bl;
			lit = pos;
			ds->want = (uint64_t)k + 1;
			summed = false;
			continue;
		}
		if (pos + bl == n)
			break;
		out = b[pos] + CHAR_OFFSET;
		in = b[pos + bl] + CHAR_OFFSET;
		s1 += in - out;
		s2 += s1 - (uint32_t)bl * out;
		pos++;
	}
	t = last && sig->count > sig->whole ? match_tail(sig, b, n, lit) : n;
	if (delta_add(d, false, start + lit, t - lit, 0, err) != 0)
		return -1;
	if (t < n)
		return delta_copy(d, start + t, n - t,
		    sig->whole * sig->block_len, ds->base_size, err);
	return 0;
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

	*out = NULL;
	if ((ds = calloc(1, sizeof(*ds))) == NULL)
		return error_set(err, TS_ENOMEM, "out of memory");
	if (hash_init(&ds->h, HASH_XXH128) != 0) {
		free(ds);
		return error_set(err, TS_ENOMEM, "out of memory");
	}
	signer_init(&ds->sg, sig, block_len_for(size));
	ds->size = size;
	*out = ds;
	return 0;
}

static int
stream_new_delta(struct delta_stream **out, uint64_t size, FILE *sig,
    struct delta_sig *base, bool own_base, uint64_t base_size, bool xxh,
    struct ts_error *err)
{
	struct delta_stream *ds;
	uint64_t	 blocks;

	*out = NULL;
	if (delta_stream_new(&ds, size, sig, err) != 0) {
		if (own_base)
			delta_sig_free(base);
		return -1;
	}
	ds->base = base;
	ds->own_base = own_base;
	ds->base_size = base_size;
	ds->xxh = xxh;
	/* Parts are whole blocks of the new file, so a block's commands
	 * are all known when its part is done. */
	blocks = DELTA_PART / ds->sg.block_len;
	if (blocks < DELTA_PART_BLOCKS)
		blocks = DELTA_PART_BLOCKS;
	ds->part = blocks * ds->sg.block_len;
	ds->reuse = base->block_len == ds->sg.block_len;
	if (!xxh) {
		if (hash_init(&ds->hs, HASH_SHA256) != 0)
			ds->failed = true;
		ds->has_hs = !ds->failed;
	}
	if (ds->failed || (ds->buf = malloc(size < ds->part ? size + 1 :
	    ds->part)) == NULL) {
		delta_stream_free(ds);
		return error_set(err, TS_ENOMEM, "out of memory");
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
 * from the start of one of base's blocks: a block is copied only when
 * its weak sum and strong hash are that entry's, so the entry is this
 * block's, whatever the old file holds.
 */
static int64_t
base_entry(struct delta_stream *ds, const struct delta *d, uint64_t off,
    uint64_t len)
{
	const struct delta_cmd	*c;
	uint64_t		 from, bl = ds->sg.block_len;

	while (ds->cur < d->n && cmd_end(&d->v[ds->cur]) <= off)
		ds->cur++;
	if (!ds->reuse || ds->cur == d->n)
		return -1;
	c = &d->v[ds->cur];
	if (!c->copy || c->off > off || off + len > cmd_end(c))
		return -1;
	from = c->base_off + (off - c->off);
	if (from % bl != 0 || from / bl >= ds->base->count)
		return -1;
	return (int64_t)(from / bl);
}

/* The new signature's entries for the n bytes at b (whole blocks, or
 * the file's end), from start, all of whose commands are in d: base's
 * entry where the block was copied from one, else made from the bytes. */
static void
sign_part(struct delta_stream *ds, const uint8_t *b, size_t n,
    uint64_t start, const struct delta *d)
{
	size_t		 bl = ds->sg.block_len, off, len;
	int64_t		 k;

	for (off = 0; off < n; off += len) {
		len = n - off < bl ? n - off : bl;
		if ((k = base_entry(ds, d, start + off, len)) >= 0)
			signer_put(&ds->sg, ds->base->raw + SIG_HEADER +
			    (size_t)k * ENTRY_LEN, len);
		else
			signer_feed(&ds->sg, b + off, len);
	}
}

int
delta_stream_scan(struct delta_stream *ds, int fd, struct delta *d,
    struct ts_error *err)
{
	uint64_t	 start = ds->fed, end;
	size_t		 n;

	if (ds->done)
		return 1;
	if (ds->failed || ds->base == NULL)
		return error_set(err, TS_ERROR, "delta: scanned after a "
		    "failure");
	end = ds->size - start < ds->part ? ds->size : start + ds->part;
	n = (size_t)(end - start);
	if (read_at(fd, ds->buf, n, start, err) != 0 ||
	    match_part(ds, ds->buf, n, start, end == ds->size, d, err) != 0) {
		ds->failed = true;
		return -1;
	}
	hash_update(&ds->h, ds->buf, n);
	if (ds->has_hs)
		hash_update(&ds->hs, ds->buf, n);
	sign_part(ds, ds->buf, n, start, d);
	ds->fed = end;
	if (end < ds->size)
		return 0;
	content_key(&ds->h, ds->check, ds->hex);
	if (ds->has_hs)
		hash_final(&ds->hs, ds->check);
	ds->done = true;
	return 1;
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
	if ((buf = malloc(DELTA_IN)) == NULL) {
		delta_stream_free(ds);
		return error_set(err, TS_ENOMEM, "out of memory");
	}
	r = 0;
	while (r == 0 && off < size) {
		want = size - off < DELTA_IN ? (size_t)(size - off) : DELTA_IN;
		if ((r = read_at(fd, buf, want, off, err)) == 0) {
			off += want;
			delta_stream_feed(ds, buf, want);
		}
	}
	if (r == 0 && sig_out != NULL && !delta_stream_end(ds, hex))
		r = error_set_errno(err, errno, "write a signature");
	if (r == 0) {
		char	 x[HASH_HEX_MAX];

		if (sig_out == NULL)
			content_key(&ds->h, x, hex);
		else
			memcpy(x, ds->check, HASH_HEX_MAX);
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
	if (ds->failed || ds->done || n == 0)
		return;
	if (ds->fed + n > ds->size) {	/* the file grew: not what was read */
		ds->failed = true;
		return;
	}
	ds->fed += n;
	hash_update(&ds->h, p, n);
	signer_feed(&ds->sg, p, n);
	ds->done = ds->fed == ds->size;
}

bool
delta_stream_end(struct delta_stream *ds, char hex[HASH_HEX_MAX])
{
	hex[0] = '\0';
	if (ds->failed || !ds->done || ds->fed != ds->size ||
	    ds->sg.out == NULL || ds->ended)
		return false;
	ds->ended = true;
	if (!signer_finish(&ds->sg))
		return false;
	if (ds->base == NULL)
		content_key(&ds->h, ds->check, ds->hex);
	memcpy(hex, ds->hex, HASH_HEX_MAX);
	return true;
}

bool
delta_stream_cut(struct delta_stream *ds)
{
	if (ds->failed || ds->fed == 0 || ds->sg.out == NULL || ds->ended)
		return false;
	ds->ended = true;
	return signer_finish(&ds->sg);
}

void
delta_stream_free(struct delta_stream *ds)
{
	if (ds == NULL)
		return;
	signer_dispose(&ds->sg);
	hash_dispose(&ds->h);
	if (ds->has_hs)
		hash_dispose(&ds->hs);
	if (ds->own_base)
		delta_sig_free(ds->base);
	free(ds->buf);
	free(ds);
}
