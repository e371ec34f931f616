/*
 * delta.c: the commands a delta turns into must rebuild the new
 * file exactly from the old one, and send little when little changed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "delta.h"

#define SIZE	(4u << 20)

/* Deterministic bytes that do not repeat within a file. */
static void
fill(uint8_t *p, size_t n, uint64_t seed)
{
	uint64_t	 x = seed * 0x9e3779b97f4a7c15ull + 1;
	size_t		 i;

	for (i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (uint8_t)x;
	}
}

static int
file_of(const uint8_t *p, size_t n)
{
	FILE	*f = tmpfile();
	int	 fd;

	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	fflush(f);
	fd = dup(fileno(f));
	fclose(f);
	return fd;
}

/* Signs old, deltas new against it, rebuilds new from old and the
 * commands, and returns the literal bytes. */
static uint64_t
roundtrip(const uint8_t *old, size_t oldn, const uint8_t *new, size_t newn)
{
	struct delta_sig *sig = NULL;
	struct ts_error	 err = { 0 };
	struct delta	 d;
	char		 hex[HASH_HEX_MAX], hex2[HASH_HEX_MAX];
	FILE		*sf = tmpfile();
	uint8_t		*out;
	uint64_t	 covered = 0, literal;
	size_t		 i;
	int		 ofd = file_of(old, oldn), nfd = file_of(new, newn);

	delta_init(&d);
	assert_int_equal(delta_scan(ofd, oldn, NULL, 0, sf, hex, NULL, &d, &err), 0);
	assert_int_equal(d.n, 0);
	rewind(sf);
	assert_int_equal(delta_sig_load(&sig, sf, &err), 0);
	assert_int_equal(delta_scan(nfd, newn, sig, oldn, NULL, hex2, NULL, &d,
	    &err), 0);
	out = malloc(newn);
	assert_non_null(out);
	for (i = 0; i < d.n; i++) {
		const struct delta_cmd *c = &d.v[i];

		assert_true(c->off == covered);
		if (c->copy) {
			assert_true(c->base_off + c->len <= oldn);
			memcpy(out + c->off, old + c->base_off, c->len);
		} else
			memcpy(out + c->off, new + c->off, c->len);
		covered += c->len;
	}
	assert_true(covered == newn);
	assert_memory_equal(out, new, newn);
	assert_true(d.literal + d.matched == newn);
	literal = d.literal;
	free(out);
	delta_sig_free(sig);
	delta_dispose(&d);
	fclose(sf);
	close(ofd);
	close(nfd);
	return literal;
}

static void
test_delta_changed_middle(void **state)
{
	uint8_t	*a = malloc(SIZE), *b = malloc(SIZE);

	(void)state;
	fill(a, SIZE, 1);
	memcpy(b, a, SIZE);
	fill(b + SIZE / 2, 1000, 2);
	assert_true(roundtrip(a, SIZE, b, SIZE) < 64 * 1024);
	free(a);
	free(b);
}

/* Bytes inserted at the start shift every block: the rolling checksum
 * finds them again. */
static void
test_delta_inserted_at_start(void **state)
{
	uint8_t	*a = malloc(SIZE), *b = malloc(SIZE + 333);

	(void)state;
	fill(a, SIZE, 3);
	fill(b, 333, 4);
	memcpy(b + 333, a, SIZE);
	assert_true(roundtrip(a, SIZE, b, SIZE + 333) < 64 * 1024);
	free(a);
	free(b);
}

static void
test_delta_truncated_and_appended(void **state)
{
	uint8_t	*a = malloc(SIZE), *b = malloc(SIZE + 5000);

	(void)state;
	fill(a, SIZE, 5);
	assert_true(roundtrip(a, SIZE, a, SIZE - 12345) < 64 * 1024);
	memcpy(b, a, SIZE);
	fill(b + SIZE, 5000, 6);
	assert_true(roundtrip(a, SIZE, b, SIZE + 5000) < 64 * 1024);
	free(a);
	free(b);
}

/* Nothing in common: every byte is literal, and still rebuilt right. */
static void
test_delta_all_new(void **state)
{
	uint8_t	*a = malloc(SIZE), *b = malloc(SIZE);

	(void)state;
	fill(a, SIZE, 7);
	fill(b, SIZE, 8);
	assert_true(roundtrip(a, SIZE, b, SIZE) == SIZE);
	free(a);
	free(b);
}

/* The signature of more bytes than the old file has (a partial upload's
 * content): copies stop at its end, the rest is sent. */
static void
test_delta_base_shorter_than_signature(void **state)
{
	struct delta_sig *sig = NULL;
	struct ts_error	 err = { 0 };
	struct delta	 d;
	char		 hex[HASH_HEX_MAX];
	uint8_t		*a = malloc(SIZE);
	FILE		*sf = tmpfile();
	uint64_t	 covered = 0;
	size_t		 i;
	int		 fd;

	(void)state;
	fill(a, SIZE, 9);
	fd = file_of(a, SIZE);
	delta_init(&d);
	assert_int_equal(delta_scan(fd, SIZE, NULL, 0, sf, hex, NULL, &d, &err), 0);
	rewind(sf);
	assert_int_equal(delta_sig_load(&sig, sf, &err), 0);
	assert_int_equal(delta_scan(fd, SIZE, sig, SIZE / 2 + 100, NULL, hex, NULL,
	    &d, &err), 0);
	for (i = 0; i < d.n; i++) {
		assert_true(d.v[i].off == covered);
		if (d.v[i].copy)
			assert_true(d.v[i].base_off + d.v[i].len <=
			    SIZE / 2 + 100);
		covered += d.v[i].len;
	}
	assert_true(covered == SIZE);
	assert_true(d.matched == SIZE / 2 + 100);
	assert_true(d.literal == SIZE / 2 - 100);
	delta_sig_free(sig);
	delta_dispose(&d);
	fclose(sf);
	close(fd);
	free(a);
}

/* A signature made from the bytes as they are sent is the one a read of
 * the file makes, whatever the chunks. */
static void
test_delta_stream_is_the_scan(void **state)
{
	struct delta_stream *ds;
	struct ts_error	 err = { 0 };
	struct delta	 d;
	char		 hex[HASH_HEX_MAX], hex2[HASH_HEX_MAX];
	uint8_t		*a = malloc(SIZE + 777);
	FILE		*f1 = tmpfile(), *f2 = tmpfile();
	size_t		 off, n, l1, l2;
	char		*b1, *b2;
	int		 fd;

	(void)state;
	fill(a, SIZE + 777, 10);
	fd = file_of(a, SIZE + 777);
	delta_init(&d);
	assert_int_equal(delta_scan(fd, SIZE + 777, NULL, 0, f1, hex, NULL,
	    &d, &err), 0);
	assert_int_equal(delta_stream_new(&ds, SIZE + 777, f2, &err), 0);
	for (off = 0; off < SIZE + 777; off += n) {
		n = 1 + (off * 7919) % 70000;
		if (n > SIZE + 777 - off)
			n = SIZE + 777 - off;
		delta_stream_feed(ds, a + off, n);
	}
	assert_true(delta_stream_end(ds, hex2));
	assert_string_equal(hex, hex2);
	l1 = (size_t)ftell(f1);
	l2 = (size_t)ftell(f2);
	assert_int_equal(l1, l2);
	b1 = malloc(l1);
	b2 = malloc(l2);
	rewind(f1);
	rewind(f2);
	assert_int_equal(fread(b1, 1, l1, f1), l1);
	assert_int_equal(fread(b2, 1, l2, f2), l2);
	assert_memory_equal(b1, b2, l1);
	delta_stream_free(ds);
	free(b1);
	free(b2);
	fclose(f1);
	fclose(f2);
	close(fd);
	free(a);
}

/* Reads all of f from its start. */
static char *
slurp(FILE *f, size_t *len)
{
	char	*b;

	*len = (size_t)ftell(f);
	b = malloc(*len + 1);
	assert_non_null(b);
	rewind(f);
	assert_int_equal(fread(b, 1, *len, f), *len);
	return b;
}

/* Two signatures written up to now hold the same bytes. */
static void
assert_same_bytes(FILE *f1, FILE *f2)
{
	size_t	 l1, l2;
	char	*b1 = slurp(f1, &l1), *b2 = slurp(f2, &l2);

	assert_int_equal(l1, l2);
	assert_memory_equal(b1, b2, l1);
	free(b1);
	free(b2);
}

/* The new file's signature a delta makes (from the old one's entries
 * where a block was copied, computed for the others) is the one a read
 * of the new file alone makes; so is its SHA-256. */
static void
sig_from_base_is_the_scan(const uint8_t *old, size_t oldn,
    const uint8_t *new, size_t newn)
{
	struct delta_sig *sig = NULL;
	struct ts_error	 err = { 0 };
	struct delta	 d;
	char		 hex[HASH_HEX_MAX], hex1[HASH_HEX_MAX], hex2[HASH_HEX_MAX];
	FILE		*so = tmpfile(), *s1 = tmpfile(), *s2 = tmpfile();
	int		 ofd = file_of(old, oldn), nfd = file_of(new, newn);

	delta_init(&d);
	assert_int_equal(delta_scan(ofd, oldn, NULL, 0, so, hex, NULL, &d,
	    &err), 0);
	rewind(so);
	assert_int_equal(delta_sig_load(&sig, so, &err), 0);
	assert_int_equal(delta_scan(nfd, newn, NULL, 0, s1, hex1, NULL, &d,
	    &err), 0);
	assert_int_equal(delta_scan(nfd, newn, sig, oldn, s2, hex2, NULL, &d,
	    &err), 0);
	assert_string_equal(hex1, hex2);
	assert_same_bytes(s1, s2);
	delta_sig_free(sig);
	delta_dispose(&d);
	fclose(so);
	fclose(s1);
	fclose(s2);
	close(ofd);
	close(nfd);
}

static void
test_delta_signature_from_base(void **state)
{
	uint8_t	*a = malloc(SIZE), *b = malloc(SIZE + 333);

	(void)state;
	fill(a, SIZE, 12);
	memcpy(b, a, SIZE);
	fill(b + SIZE / 2 + 5, 3000, 13);		/* changed */
	sig_from_base_is_the_scan(a, SIZE, b, SIZE);
	sig_from_base_is_the_scan(a, SIZE, b, SIZE - 12345);	/* cut */
	fill(b, 333, 14);				/* shifted */
	memcpy(b + 333, a, SIZE);
	sig_from_base_is_the_scan(a, SIZE, b, SIZE + 333);
	fill(b, SIZE, 15);				/* all new */
	sig_from_base_is_the_scan(a, SIZE, b, SIZE);
	free(a);
	free(b);
}

/* A delta made a part at a time as it is sent: its commands rebuild the
 * new file, the check hash is there only once all is scanned, and a
 * file bigger than a part takes several. */
static void
test_delta_stream_scans_in_parts(void **state)
{
	enum { BIG = 24u << 20 };
	struct delta_stream *ds = NULL;
	struct delta_sig *sig = NULL;
	struct ts_error	 err = { 0 };
	struct delta	 d;
	char		 hex[HASH_HEX_MAX], xxh[HASH_HEX_MAX];
	uint8_t		*a = malloc(BIG), *b = malloc(BIG), *out = malloc(BIG);
	FILE		*so = tmpfile(), *sn = tmpfile(), *sp = tmpfile();
	uint64_t	 covered = 0;
	size_t		 i;
	int		 ofd, nfd, r, steps = 0;

	(void)state;
	fill(a, BIG, 16);
	memcpy(b, a, BIG);
	fill(b + BIG / 3, 100000, 17);
	ofd = file_of(a, BIG);
	nfd = file_of(b, BIG);
	delta_init(&d);
	assert_int_equal(delta_scan(ofd, BIG, NULL, 0, so, hex, NULL, &d,
	    &err), 0);
	rewind(so);
	assert_int_equal(delta_sig_load(&sig, so, &err), 0);
	assert_int_equal(delta_scan(nfd, BIG, NULL, 0, sp, hex, xxh, &d,
	    &err), 0);
	assert_int_equal(delta_stream_new_delta(&ds, BIG, sn, sig, BIG, true,
	    &err), 0);
	do {
		assert_null(delta_stream_check(ds));
		r = delta_stream_scan(ds, nfd, &d, &err);
		assert_true(r >= 0);
		steps++;
	} while (r == 0);
	assert_true(steps > 1);
	assert_string_equal(delta_stream_check(ds), xxh);
	for (i = 0; i < d.n; i++) {
		const struct delta_cmd *c = &d.v[i];

		assert_true(c->off == covered);
		memcpy(out + c->off, c->copy ? a + c->base_off : b + c->off,
		    c->len);
		covered += c->len;
	}
	assert_true(covered == BIG);
	assert_memory_equal(out, b, BIG);
	assert_true(d.literal < 200000);
	assert_true(delta_stream_end(ds, xxh));
	assert_string_equal(xxh, hex);
	assert_same_bytes(sp, sn);
	fclose(sp);
	delta_stream_free(ds);
	delta_dispose(&d);
	fclose(so);
	fclose(sn);
	close(ofd);
	close(nfd);
	free(a);
	free(b);
	free(out);
}

/* Fewer bytes than the size: no signature. */
static void
test_delta_stream_short_is_no_signature(void **state)
{
	struct delta_stream *ds;
	struct ts_error	 err = { 0 };
	char		 hex[HASH_HEX_MAX];
	uint8_t		 a[4096];
	FILE		*f = tmpfile();

	(void)state;
	fill(a, sizeof(a), 11);
	assert_int_equal(delta_stream_new(&ds, 8192, f, &err), 0);
	delta_stream_feed(ds, a, sizeof(a));
	assert_false(delta_stream_end(ds, hex));
	delta_stream_free(ds);
	fclose(f);
}

/* Fed a byte at a time (each sum computed byte by byte), the signature
 * is the one a read of whole blocks makes (16 bytes at a step). */
static void
test_delta_sums_byte_by_byte(void **state)
{
	enum { N = (1u << 20) + 4321 };
	struct delta_stream *ds;
	struct ts_error	 err = { 0 };
	struct delta	 d;
	char		 hex[HASH_HEX_MAX], hex2[HASH_HEX_MAX];
	uint8_t		*a = malloc(N);
	FILE		*f1 = tmpfile(), *f2 = tmpfile();
	size_t		 i;
	int		 fd;

	(void)state;
	fill(a, N, 21);
	fd = file_of(a, N);
	delta_init(&d);
	assert_int_equal(delta_scan(fd, N, NULL, 0, f1, hex, NULL, &d, &err),
	    0);
	assert_int_equal(delta_stream_new(&ds, N, f2, &err), 0);
	for (i = 0; i < N; i++)
		delta_stream_feed(ds, a + i, 1);
	assert_true(delta_stream_end(ds, hex2));
	assert_string_equal(hex, hex2);
	assert_same_bytes(f1, f2);
	delta_stream_free(ds);
	fclose(f1);
	fclose(f2);
	close(fd);
	free(a);
}

/* A signature of another kind (librsync's, as earlier versions stored
 * them: magic "rs\x016", MD4) is refused, never read as entries. */
static void
test_delta_other_kind_is_refused(void **state)
{
	static const uint8_t rs_md4[] = { 0x72, 0x73, 0x01, 0x36, 0, 0, 8,
	    0, 0, 0, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
	struct delta_sig *sig = NULL;
	struct ts_error	 err = { 0 };
	FILE		*f = tmpfile();

	(void)state;
	assert_int_equal(fwrite(rs_md4, 1, sizeof(rs_md4), f), sizeof(rs_md4));
	rewind(f);
	assert_int_not_equal(delta_sig_load(&sig, f, &err), 0);
	assert_null(sig);
	assert_non_null(strstr(err.msg, "another kind"));
	fclose(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_delta_changed_middle),
		cmocka_unit_test(test_delta_inserted_at_start),
		cmocka_unit_test(test_delta_truncated_and_appended),
		cmocka_unit_test(test_delta_all_new),
		cmocka_unit_test(test_delta_base_shorter_than_signature),
		cmocka_unit_test(test_delta_stream_is_the_scan),
		cmocka_unit_test(test_delta_stream_short_is_no_signature),
		cmocka_unit_test(test_delta_signature_from_base),
		cmocka_unit_test(test_delta_stream_scans_in_parts),
		cmocka_unit_test(test_delta_sums_byte_by_byte),
		cmocka_unit_test(test_delta_other_kind_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
