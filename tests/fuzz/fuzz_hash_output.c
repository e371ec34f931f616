/*
 * libFuzzer target for the remote hash-output parser: whatever the
 * server's sha256sum or xxhsum prints, only the names asked about get a
 * hash, each a whole hex string of the right length.
 *
 * The input's first byte picks the hash; then come up to eight names to
 * ask about, NUL-terminated; the rest is the server's output.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "verify.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)	do { if (!(x)) abort(); } while (0)
#define MAX_NAMES	8

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		(*hex)[HASH_HEX_MAX];
	const char	*paths[MAX_NAMES];
	enum hash_kind	 kind;
	const uint8_t	*nul;
	uint8_t		*out;
	size_t		 n = 0, i, found, hexlen, outlen, filled = 0;

	if (size < 1)
		return 0;
	kind = data[0] & 1 ? HASH_XXH128 : HASH_SHA256;
	hexlen = kind == HASH_SHA256 ? 64 : 32;
	data++;
	size--;
	while (n < MAX_NAMES && (nul = memchr(data, '\0', size)) != NULL &&
	    nul != data) {
		paths[n++] = (const char *)data;
		size -= (size_t)(nul - data) + 1;
		data = nul + 1;
	}
	/* An exact-size copy, so ASan sees a read past the output. */
	outlen = size;
	if ((out = malloc(outlen != 0 ? outlen : 1)) == NULL)
		return 0;
	memcpy(out, data, outlen);
	if ((hex = calloc(MAX_NAMES, sizeof(*hex))) == NULL) {
		free(out);
		return 0;
	}
	found = verify_parse_output(kind, paths, n, out, outlen, hex);
	CHECK(found <= n);
	for (i = 0; i < n; i++) {
		if (hex[i][0] == '\0')
			continue;
		CHECK(strlen(hex[i]) == hexlen);
		CHECK(strspn(hex[i], "0123456789abcdef") == hexlen);
		filled++;
	}
	CHECK(filled == found);
	free(hex);
	free(out);
	return 0;
}
