/*
 * delta.c: the commands librsync's delta turns into must rebuild the new
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
	struct rs_signature *sig = NULL;
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
	struct rs_signature *sig = NULL;
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_delta_changed_middle),
		cmocka_unit_test(test_delta_inserted_at_start),
		cmocka_unit_test(test_delta_truncated_and_appended),
		cmocka_unit_test(test_delta_all_new),
		cmocka_unit_test(test_delta_base_shorter_than_signature),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
