/*
 * libFuzzer target for targets: any command-line word parses or is
 * refused cleanly, and what parses has the shape target.h promises.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "target.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* abort() rather than assert(): the check must survive -DNDEBUG. */
#define CHECK(x)	do { if (!(x)) abort(); } while (0)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct target	 t;
	struct ts_error	 err;
	char		*s;
	int		 rc;

	/* argv words are C strings: the input up to its first NUL. */
	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	(void)target_is_remote(s);
	error_clear(&err);
	rc = target_parse(&t, s, &err);
	CHECK(rc == 0 || rc == TS_EINVAL || rc == TS_ENOMEM);
	if (rc == 0) {
		CHECK(t.host != NULL && t.host[0] != '\0');
		CHECK(t.path != NULL);
		CHECK(t.port >= 0 && t.port <= 65535);
		CHECK(strlen(t.host) <= strlen(s));
	} else {
		CHECK(err.code == rc && err.msg[0] != '\0');
		CHECK(t.host == NULL && t.user == NULL && t.path == NULL);
	}
	target_dispose(&t);
	free(s);
	return 0;
}
