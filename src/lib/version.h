/* Versions: of the library, and of the option structs callers pass. */
#ifndef TS_VERSION_H
#define TS_VERSION_H

#include "treesync.h"

/*
 * Whether an option struct's version field (got) is one this library
 * knows: 1 up to known, the version of the header it was built with.
 * Else records TS_EINVAL naming type ("ts_sync_opts") and returns it.
 */
int	version_check_opts(unsigned got, unsigned known, const char *type,
	    struct ts_error *err);

#endif
