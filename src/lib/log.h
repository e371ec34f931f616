/* Logging through the callback the caller set with ts_set_log(). */
#ifndef TS_LOG_H
#define TS_LOG_H

#include "treesync.h"

void	log_msg(enum ts_log_level level, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
bool	log_enabled(enum ts_log_level level);

#endif
