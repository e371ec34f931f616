/* The public header compiles alone, pedantically. */
#include "treesync.h"

int	headertest_dummy(void);

int
headertest_dummy(void)
{
	struct ts_conn_opts	 o = TS_CONN_OPTS_INIT;
	struct ts_put_opts	 p = TS_PUT_OPTS_INIT;
	struct ts_backup_opts	 b = TS_BACKUP_OPTS_INIT;

	return o.port + (int)p.verify + b.keep;
}
