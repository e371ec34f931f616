/* The openssh transport's cipher order: AES-GCM first where the CPU has
 * AES instructions and nobody chose the ciphers (see ssh_ciphers.c). */
#ifndef TS_SSH_CIPHERS_H
#define TS_SSH_CIPHERS_H

#include <stdbool.h>

/* The "-oCiphers=..." word for a master ssh run as words (its command
 * line before the host) for host, or NULL: leave ssh's order.  key names
 * the command line, for the answer's reuse.  Runs "ssh -G" twice
 * (about 5 ms, at once) the first time per command line. */
char	*ssh_ciphers_prefer_gcm(char *const *words, int nwords,
	    const char *host, const char *key);

#endif
