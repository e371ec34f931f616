/*
 * Versions.  TS_VERSION_* in treesync.h is the one source: CMakeLists.txt
 * reads it for the project's version and the shared library's name.
 */
#include "version.h"
#include "error.h"

const char *
ts_version(void)
{
	return TS_VERSION_STRING;
}

/*
 * Every version so far is 1; a struct that grows gets the next one, and
 * the library then reads the new fields only from callers that set it
 * (libgit2's way).  0 is what a struct that skipped its _INIT macro holds.
 */
int
version_check_opts(unsigned got, unsigned known, const char *type,
    struct ts_error *err)
{
	if (got >= 1 && got <= known)
		return 0;
	return error_set(err, TS_EINVAL, "struct %s has version %u; this "
	    "library (%s) knows 1 to %u: start it from its _INIT macro",
	    type, got, TS_VERSION_STRING, known);
}
