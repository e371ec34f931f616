/* Content hashes: SHA-256 (what sha256sum prints) and XXH3-128. */
#ifndef TS_HASH_H
#define TS_HASH_H

#include <stddef.h>
#include <stdint.h>

enum hash_kind { HASH_SHA256, HASH_XXH128 };

#define HASH_MAX_LEN	32
#define HASH_HEX_MAX	(HASH_MAX_LEN * 2 + 1)

struct hash {
	enum hash_kind	 kind;
	void		*state;		/* EVP_MD_CTX or XXH3_state_t */
};

/* Starts a hash; returns 0, or -1 when out of memory. */
int	hash_init(struct hash *h, enum hash_kind kind);
void	hash_update(struct hash *h, const void *p, size_t n);
/* Writes the digest as lower-case hex into hex (HASH_HEX_MAX bytes). */
void	hash_final(struct hash *h, char *hex);
void	hash_dispose(struct hash *h);		/* after final is fine */
const char *hash_name(enum hash_kind kind);	/* "sha256", "xxh128" */

#endif
