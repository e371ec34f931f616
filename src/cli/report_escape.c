/*
 * The escapes every report shares (itemized lines, JSON, ls, stat, error
 * lines), so a name reads the same wherever it is printed and is always
 * one line.  JSON only adds \" on top: the escaped text is then valid
 * inside a JSON string, which must be UTF-8 with no raw control character.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "report.h"

/* A UTF-8 continuation byte. */
#define CONT(c)		((c) >= 0x80 && (c) <= 0xbf)

/*
 * The length of the valid UTF-8 sequence at p (1 to 4), or 0 when the byte
 * at p starts none: a stray continuation byte, an overlong form, a
 * surrogate (U+D800..U+DFFF) or a code point past U+10FFFF (RFC 3629,
 * section 4).  Stops at the terminating NUL, which is no continuation.
 */
static size_t
utf8_len(const unsigned char *p)
{
	unsigned	 c = p[0], lo = 0x80, hi = 0xbf;

	if (c < 0x80)
		return 1;
	if (c < 0xc2)			/* continuation, or overlong C0/C1 */
		return 0;
	if (c < 0xe0)
		return CONT(p[1]) ? 2 : 0;
	if (c < 0xf0) {
		if (c == 0xe0)
			lo = 0xa0;	/* overlong */
		else if (c == 0xed)
			hi = 0x9f;	/* surrogates */
		return p[1] >= lo && p[1] <= hi && CONT(p[2]) ? 3 : 0;
	}
	if (c < 0xf5) {
		if (c == 0xf0)
			lo = 0x90;	/* overlong */
		else if (c == 0xf4)
			hi = 0x8f;	/* past U+10FFFF */
		return p[1] >= lo && p[1] <= hi && CONT(p[2]) &&
		    CONT(p[3]) ? 4 : 0;
	}
	return 0;
}

/*
 * Bytes that pass through as they are get written in runs, one fwrite
 * each; every other byte (or C1 control, two bytes in UTF-8) becomes an
 * escape.  An invalid byte is escaped alone and decoding resumes at the
 * next one, so one bad byte never hides the valid text after it.
 */
void
report_escape(FILE *f, const char *s, bool json)
{
	const unsigned char	*p = (const unsigned char *)s, *run = p;
	size_t			 n;
	unsigned		 code;

	while (*p != '\0') {
		n = utf8_len(p);
		if (n == 1 && *p >= 0x20 && *p != 0x7f && *p != '\\' &&
		    !(json && *p == '"')) {
			p++;
			continue;
		}
		if (n > 2 || (n == 2 && p[0] == 0xc2 && p[1] >= 0xa0) ||
		    (n == 2 && p[0] != 0xc2)) {
			p += n;			/* printable UTF-8 */
			continue;
		}
		if (p > run)
			fwrite(run, 1, (size_t)(p - run), f);
		if (n == 2) {			/* C1 control, U+0080..U+009F */
			code = p[1];
			p += 2;
		} else
			code = *p++;		/* ASCII, or an invalid byte */
		switch (code) {
		case '\\':	fputs("\\\\", f); break;
		case '"':	fputs("\\\"", f); break;
		case '\n':	fputs("\\n", f); break;
		case '\r':	fputs("\\r", f); break;
		case '\t':	fputs("\\t", f); break;
		default:	fprintf(f, "\\u%04x", code); break;
		}
		run = p;
	}
	if (p > run)
		fwrite(run, 1, (size_t)(p - run), f);
}

void
report_write_name(FILE *f, const char *s)
{
	report_escape(f, s, false);
}
