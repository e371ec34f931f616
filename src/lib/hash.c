#include <stdio.h>
#include <stdlib.h>

#include <openssl/evp.h>
#include <xxhash.h>

#include "hash.h"

int
hash_init(struct hash *h, enum hash_kind kind)
{
	h->kind = kind;
	if (kind == HASH_SHA256) {
		if ((h->state = EVP_MD_CTX_new()) == NULL)
			return -1;
		if (EVP_DigestInit_ex(h->state, EVP_sha256(), NULL) != 1) {
			hash_dispose(h);
			return -1;
		}
		return 0;
	}
	if ((h->state = XXH3_createState()) == NULL)
		return -1;
	XXH3_128bits_reset(h->state);
	return 0;
}

void
hash_update(struct hash *h, const void *p, size_t n)
{
	if (h->kind == HASH_SHA256)
		EVP_DigestUpdate(h->state, p, n);
	else
		XXH3_128bits_update(h->state, p, n);
}

static void
hex_encode(char *hex, const unsigned char *p, size_t n)
{
	static const char	 digits[] = "0123456789abcdef";
	size_t			 i;

	for (i = 0; i < n; i++) {
		hex[2 * i] = digits[p[i] >> 4];
		hex[2 * i + 1] = digits[p[i] & 15];
	}
	hex[2 * n] = '\0';
}

void
hash_final(struct hash *h, char *hex)
{
	unsigned char		 md[EVP_MAX_MD_SIZE];
	unsigned int		 n = 0;
	XXH128_canonical_t	 c;

	if (h->kind == HASH_SHA256) {
		EVP_DigestFinal_ex(h->state, md, &n);
		hex_encode(hex, md, n);
		return;
	}
	/* The canonical (big-endian) form is what xxhsum -H2 prints. */
	XXH128_canonicalFromHash(&c, XXH3_128bits_digest(h->state));
	hex_encode(hex, c.digest, sizeof(c.digest));
}

void
hash_dispose(struct hash *h)
{
	if (h == NULL || h->state == NULL)
		return;
	if (h->kind == HASH_SHA256)
		EVP_MD_CTX_free(h->state);
	else
		XXH3_freeState(h->state);
	h->state = NULL;
}

const char *
hash_name(enum hash_kind kind)
{
	return kind == HASH_SHA256 ? "sha256" : "xxh128";
}
