/*
 * treesync --version: this program's version and those of the libraries
 * it runs with, asked of each library at run time (what a bug report
 * needs: a system may have updated one since treesync was built).
 */
#include <stdio.h>

#include <libssh2.h>
#include <openssl/crypto.h>
#include <xxhash.h>

#include "cli.h"

void
cli_version(FILE *f)
{
	unsigned	 xxh = XXH_versionNumber();

	fprintf(f, "treesync %s\n", ts_version());
	fprintf(f, "libssh2 %s\n", libssh2_version(0));
	fprintf(f, "%s\n", OpenSSL_version(OPENSSL_VERSION));
	/* XXH_versionNumber is MAJOR * 10000 + MINOR * 100 + RELEASE. */
	fprintf(f, "xxHash %u.%u.%u\n", xxh / 10000, xxh / 100 % 100,
	    xxh % 100);
}
