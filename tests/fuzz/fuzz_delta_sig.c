/*
 * libFuzzer target for signatures read from the store (a file anyone
 * with the user's rights can change): whatever the bytes, loading one
 * either fails or gives a signature whose delta of a fixed file covers
 * that file exactly once, in order, and copies only from within the old
 * file's size.
 *
 * The input's first two bytes are the old file's size in KiB steps; the
 * rest is the signature.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "delta.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)	do { if (!(x)) abort(); } while (0)
#define NEW_SIZE	(64u * 1024)

/* The new file: bytes that do not repeat, then a run of one byte (one
 * weak sum for many blocks). */
static int
new_file(void)
{
	static uint8_t	 b[NEW_SIZE];
	uint64_t	 x = 0x9e3779b97f4a7c15ull;
	size_t		 i;
	int		 fd;

	for (i = 0; i < NEW_SIZE; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		b[i] = i < NEW_SIZE * 3 / 4 ? (uint8_t)x : 0;
	}
	if ((fd = memfd_create("new", 0)) == -1)
		abort();
	CHECK(write(fd, b, sizeof(b)) == (ssize_t)sizeof(b));
	return fd;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int		 fd = -1;
	struct delta_sig	*sig = NULL;
	struct ts_error		 err = { 0 };
	struct delta		 d;
	char			 hex[HASH_HEX_MAX];
	uint64_t		 base_size, covered = 0;
	size_t			 i;
	FILE			*f;

	if (size < 2)
		return 0;
	if (fd == -1)
		fd = new_file();
	base_size = (uint64_t)(data[0] | data[1] << 8) * 1024;
	if ((f = fmemopen((void *)(uintptr_t)(data + 2), size - 2, "rb")) ==
	    NULL)
		return 0;
	if (delta_sig_load(&sig, f, &err) != 0) {
		CHECK(sig == NULL && err.msg[0] != '\0');
		fclose(f);
		return 0;
	}
	fclose(f);
	delta_init(&d);
	CHECK(delta_scan(fd, NEW_SIZE, sig, base_size, NULL, hex, NULL, &d,
	    &err) == 0);
	for (i = 0; i < d.n; i++) {
		CHECK(d.v[i].off == covered && d.v[i].len > 0);
		CHECK(!d.v[i].copy || d.v[i].base_off + d.v[i].len <=
		    base_size);
		covered += d.v[i].len;
	}
	CHECK(covered == NEW_SIZE && d.literal + d.matched == NEW_SIZE);
	delta_dispose(&d);
	delta_sig_free(sig);
	return 0;
}
