/* Recording errors: the first one recorded wins. */
#ifndef TS_ERROR_H
#define TS_ERROR_H

#include <stdarg.h>

#include "treesync.h"

/* Records code and a one-line message in err (if err is non-NULL and holds
 * no error yet); returns code so callers can write return error_set(...). */
int	error_set(struct ts_error *err, int code, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* As error_set, with errno e translated: the message gets ": <strerror>"
 * and the code follows e (ENOENT -> TS_ENOENT, ENOMEM, else TS_ELOCAL). */
int	error_set_errno(struct ts_error *err, int e, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* As error_set, for a caller's own printf-like wrapper: formatting there
 * into a 256-byte buffer would cut the reason before error_set could
 * shorten the paths instead. */
int	error_setv(struct ts_error *err, int code, const char *fmt,
	    va_list ap) __attribute__((format(printf, 3, 0)));
void	error_clear(struct ts_error *err);

#endif
