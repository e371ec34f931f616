/*
 * Recording errors.  A message is formatted into a scratch buffer large
 * enough for two paths of PATH_MAX and a reason, then made to fit the
 * 256 bytes of struct ts_error by shortening the quoted paths in their
 * middle: the reason comes last ("open \"...\": permission denied"), and
 * a plain cut at the end would lose the one part the reader needs.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

#define SCRATCH_MAX	(2 * PATH_MAX + 1024)
#define SPANS_MAX	16	/* quoted spans considered in one message */
#define SPAN_MIN	16	/* bytes a shortened span keeps, "..." in */
#define ELLIPSIS	"..."
#define ELLIPSIS_LEN	(sizeof(ELLIPSIS) - 1)

struct span {
	size_t	 off;		/* first byte inside the quotes */
	size_t	 len;		/* bytes inside the quotes */
};

static void	error_vset(struct ts_error *err, int code, int sys_errno,
		    const char *reason, const char *fmt, va_list ap)
		    __attribute__((format(printf, 5, 0)));

/* A UTF-8 continuation byte: a cut must not land before one. */
static int
is_cont(unsigned char c)
{
	return c >= 0x80 && c <= 0xbf;
}

/* The text between each pair of double quotes, in order. */
static size_t
find_spans(const char *s, struct span *v, size_t max)
{
	const char	*open, *close;
	size_t		 n = 0;

	for (open = strchr(s, '"'); open != NULL && n < max;
	    open = strchr(close + 1, '"')) {
		if ((close = strchr(open + 1, '"')) == NULL)
			break;
		v[n].off = (size_t)(open + 1 - s);
		v[n].len = (size_t)(close - open - 1);
		n++;
	}
	return n;
}

/*
 * Replaces the middle of span sp of s (length *slen) by "...", leaving
 * about keep bytes in all: the head and the tail of a path say the most.
 * Cuts fall between UTF-8 characters, so the result may be a little
 * shorter than keep.
 */
static void
shorten_span(char *s, size_t *slen, const struct span *sp, size_t keep)
{
	size_t	 head, tail, cut_from, cut_to;

	head = (keep - ELLIPSIS_LEN) / 2;
	tail = keep - ELLIPSIS_LEN - head;
	cut_from = sp->off + head;
	cut_to = sp->off + sp->len - tail;
	while (cut_from > sp->off && is_cont((unsigned char)s[cut_from]))
		cut_from--;
	while (cut_to < sp->off + sp->len && is_cont((unsigned char)s[cut_to]))
		cut_to++;
	memmove(s + cut_from + ELLIPSIS_LEN, s + cut_to, *slen - cut_to + 1);
	memcpy(s + cut_from, ELLIPSIS, ELLIPSIS_LEN);
	*slen -= cut_to - cut_from - ELLIPSIS_LEN;
}

/*
 * Makes s (NUL-terminated) fit in size bytes.  The longest quoted spans
 * are shortened first, down to one common length, the lowest that makes
 * the message fit but never below SPAN_MIN; only when that is not enough
 * is the end cut off.
 */
static void
fit(char *s, size_t size)
{
	struct span	 v[SPANS_MAX];
	size_t		 len = strlen(s), n, i, level, excess, gain;
	size_t		 longest;

	if (len < size)
		return;
	excess = len - (size - 1);
	n = find_spans(s, v, SPANS_MAX);
	longest = 0;
	for (i = 0; i < n; i++)
		if (v[i].len > longest)
			longest = v[i].len;
	/* The highest level whose cuts together gain excess bytes. */
	for (level = longest; level > SPAN_MIN; level--) {
		gain = 0;
		for (i = 0; i < n; i++)
			if (v[i].len > level)
				gain += v[i].len - level;
		if (gain >= excess)
			break;
	}
	/* Right to left: a cut moves the text after it, not before. */
	for (i = n; i-- > 0;)
		if (v[i].len > level)
			shorten_span(s, &len, &v[i], level);
	if (len >= size) {
		len = size - 1;
		while (len > 0 && is_cont((unsigned char)s[len]))
			len--;
		s[len] = '\0';
	}
}

/*
 * Records code and the message of fmt, then ": reason" when reason is not
 * NULL (a strerror text, lower-cased as our messages are), shortened to
 * fit (fit()).
 */
static void
error_vset(struct ts_error *err, int code, int sys_errno, const char *reason,
    const char *fmt, va_list ap)
{
	char	 buf[SCRATCH_MAX];
	size_t	 n;

	if (err == NULL || err->code != TS_OK)
		return;
	err->code = code;
	err->sys_errno = sys_errno;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	if (reason != NULL && n + 2 < sizeof(buf)) {
		snprintf(buf + n, sizeof(buf) - n, ": %s", reason);
		/* strerror capitalises; messages here are lower case. */
		if (buf[n + 2] >= 'A' && buf[n + 2] <= 'Z')
			buf[n + 2] = (char)(buf[n + 2] - 'A' + 'a');
	}
	fit(buf, sizeof(err->msg));
	memcpy(err->msg, buf, strlen(buf) + 1);
}

int
error_set(struct ts_error *err, int code, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	error_vset(err, code, 0, NULL, fmt, ap);
	va_end(ap);
	return code;
}

int
error_setv(struct ts_error *err, int code, const char *fmt, va_list ap)
{
	error_vset(err, code, 0, NULL, fmt, ap);
	return code;
}

int
error_set_errno(struct ts_error *err, int e, const char *fmt, ...)
{
	va_list	 ap;
	int	 code;

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
	va_start(ap, fmt);
	error_vset(err, code, e, strerror(e), fmt, ap);
	va_end(ap);
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

const char *
ts_strerror(int code)
{
	switch (code) {
	case TS_OK:		return "success";
	case TS_ERROR:		return "error";
	case TS_ENOMEM:		return "out of memory";
	case TS_EINVAL:		return "invalid argument";
	case TS_ENOENT:		return "no such file or directory";
	case TS_EACCES:		return "permission denied";
	case TS_EHOSTKEY:	return "host key not trusted";
	case TS_EAUTH:		return "authentication failed";
	case TS_ECONN:		return "connection failed";
	case TS_EVERIFY:	return "verification failed";
	case TS_ECANCELED:	return "canceled";
	case TS_ELOCAL:		return "local file system error";
	case TS_EREMOTE:	return "the server failed an operation";
	case TS_EPARTIAL:	return "some files failed";
	case TS_EDIFFER:	return "the trees differ";
	case TS_EMAXDELETE:	return "deletions stopped by the limit";
	case TS_ELOCKED:	return "locked by another run";
	case TS_ESPLIT:		return "switched on some targets, not on all";
	}
	return "unknown error";
}
