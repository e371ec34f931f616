/* Shared by the commands: connecting, and printing names safely. */
#include <stdio.h>

#include "cli.h"

struct ts_conn *
cli_connect(const struct cli *o, const char *target, int *rc)
{
	struct ts_error	 err = { 0 };
	struct ts_conn	*c = NULL;

	if (ts_conn_open(&c, target, &o->conn, &err) != 0) {
		*rc = cli_fail(&err);
		return NULL;
	}
	*rc = 0;
	return c;
}

void
cli_print_name(FILE *f, const char *s)
{
	const unsigned char	*p;

	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		switch (*p) {
		case '\n':
			fputs("\\n", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				fprintf(f, "\\%03o", *p);
			else
				fputc(*p, f);
		}
	}
}
