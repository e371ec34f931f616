/* Exit codes: stable, documented in docs/exit-codes.md. */
#include "cli.h"

int
exitcode_for(int ts_code)
{
	switch (ts_code) {
	case TS_OK:		return 0;
	case TS_EINVAL:		return 2;
	case TS_ELOCAL:		return 3;
	case TS_EREMOTE:
	case TS_EACCES:		return 4;
	case TS_ENOENT:		return 5;
	case TS_EHOSTKEY:	return 6;
	case TS_EAUTH:		return 7;
	case TS_ECONN:		return 8;
	case TS_EVERIFY:	return 9;
	case TS_ECANCELED:	return 10;
	case TS_EPARTIAL:	return 23;
	case TS_EDIFFER:	return 24;
	case TS_EMAXDELETE:	return 25;
	case TS_ELOCKED:	return 26;
	case TS_ESPLIT:		return 27;
	default:		return 1;
	}
}

int
cli_fail(const struct ts_error *err)
{
	cli_say("%s", err->msg[0] != '\0' ? err->msg : "unknown error");
	return exitcode_for(err->code);
}
