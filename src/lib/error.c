#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

static void	error_vset(struct ts_error *err, int code, int sys_errno,
		    const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));

static void
error_vset(struct ts_error *err, int code, int sys_errno, const char *fmt,
    va_list ap)
{
	if (err == NULL || err->code != TS_OK)
		return;
	err->code = code;
	err->sys_errno = sys_errno;
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
}

int
error_set(struct ts_error *err, int code, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	error_vset(err, code, 0, fmt, ap);
	va_end(ap);
	return code;
}

int
error_set_errno(struct ts_error *err, int e, const char *fmt, ...)
{
	va_list	 ap;
	int	 code;
	size_t	 n;

	switch (e) {
	case ENOENT:
	case ENOTDIR:
		code = TS_ENOENT;
		break;
	case ENOMEM:
		code = TS_ENOMEM;
		break;
	default:
		code = TS_ELOCAL;
		break;
	}
	if (err == NULL || err->code != TS_OK)
		return code;
	va_start(ap, fmt);
	error_vset(err, code, e, fmt, ap);
	va_end(ap);
	n = strlen(err->msg);
	snprintf(err->msg + n, sizeof(err->msg) - n, ": %s", strerror(e));
	/* strerror capitalises; messages here are lower case. */
	if (n + 2 < sizeof(err->msg) && err->msg[n + 2] >= 'A' &&
	    err->msg[n + 2] <= 'Z')
		err->msg[n + 2] = (char)(err->msg[n + 2] - 'A' + 'a');
	return code;
}

void
error_clear(struct ts_error *err)
{
	if (err == NULL)
		return;
	err->code = TS_OK;
	err->sys_errno = 0;
	err->msg[0] = '\0';
}
