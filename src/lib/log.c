#include <stdarg.h>
#include <stdio.h>

#include "log.h"

/* Set once by the caller before work starts, read by every thread. */
static ts_log_fn	*log_fn;
static enum ts_log_level log_max = TS_LOG_WARN;
static void		*log_payload;

void
ts_set_log(ts_log_fn *fn, enum ts_log_level max, void *payload)
{
	log_fn = fn;
	log_max = max;
	log_payload = payload;
}

bool
log_enabled(enum ts_log_level level)
{
	return log_fn != NULL && level <= log_max;
}

void
log_msg(enum ts_log_level level, const char *fmt, ...)
{
	char	 line[1024];
	va_list	 ap;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_fn(level, line, log_payload);
}
