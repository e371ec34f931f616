/* The openssh transport's cipher order (AES-GCM first where the CPU has
 * AES instructions and nobody chose the ciphers), and who opens ssh's
 * TCP connection (see ssh_ciphers.c). */
#ifndef TS_SSH_CIPHERS_H
#define TS_SSH_CIPHERS_H

#include <stdbool.h>

/*
 * The words a master ssh, run as words (its command line before the
 * host) for host, gets from what "ssh -G" makes of that command line:
 * *ciphers, "-oCiphers=..." with AES-GCM first where this CPU does AES
 * and nobody chose the ciphers; *proxy, with helper (ts_conn_opts'
 * connect_helper) and where the config leaves the connection to ssh,
 * "-oProxyCommand=HELPER --connect-fd ..." (to go with
 * -oProxyUseFdpass=yes).  Each NULL otherwise; the caller's to free.
 * key names the command line, for the answer's reuse.  Runs "ssh -G"
 * once or twice (about 5 ms, at once) the first time per command line.
 */
void	ssh_master_words(char *const *words, int nwords, const char *host,
	    const char *key, const char *helper, char **ciphers, char **proxy);

#endif
