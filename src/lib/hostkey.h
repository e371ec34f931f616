/*
 * known_hosts files (sshd(8) SSH_KNOWN_HOSTS FILE FORMAT), read the way
 * ssh(1) reads them: host patterns, "[host]:port", hashed names, and the
 * @revoked marker.  libssh2's own knownhost API knows too little of it.
 */
#ifndef TS_HOSTKEY_H
#define TS_HOSTKEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "treesync.h"

enum hostkey_result {
	HOSTKEY_MATCH,		/* a line for the host lists this key */
	HOSTKEY_UNKNOWN,	/* none lists a key of its type */
	HOSTKEY_CHANGED,	/* one lists another key of its type */
	HOSTKEY_REVOKED,	/* an @revoked line lists this key */
};

struct hostkey_check {
	enum hostkey_result result;
	char	 file[256];	/* for MATCH/CHANGED/REVOKED: the file
				 * and line that decided */
	int	 line;
	bool	 other_types;	/* UNKNOWN, but keys of other types are
				 * known for this host */
};

/*
 * Checks the server's key (key = raw public key blob as from
 * libssh2_session_hostkey(); its first SSH string is the key type name)
 * for host:port against each file in turn (missing files are fine).
 * Returns 0 with the verdict in *out; an error only when a file cannot
 * be read or the key blob is malformed (TS_EINVAL).
 */
int	hostkey_check(struct hostkey_check *out, const char *const *files,
	    size_t nfiles, const char *host, int port, const uint8_t *key,
	    size_t keylen, struct ts_error *err);
/* The same over one file's text in memory (for tests).  file only
 * appears in out->file. */
int	hostkey_check_text(struct hostkey_check *out, const char *text,
	    size_t len, const char *file, const char *host, int port,
	    const uint8_t *key, size_t keylen);

/*
 * Comma-separated key type names known for host:port across files, in
 * file order, no duplicates, e.g. "ssh-ed25519,ecdsa-sha2-nistp256"; ""
 * if none.  For libssh2_session_method_pref(LIBSSH2_METHOD_HOSTKEY),
 * which takes signature algorithm names: so an "ssh-rsa" key is listed
 * as "rsa-sha2-512,rsa-sha2-256,ssh-rsa", as ssh(1) does
 * (sshconnect2.c order_hostkeyalgs), or a server refusing SHA-1
 * signatures could not be reached.  TS_EINVAL if out is too small.
 */
int	hostkey_known_types(char *out, size_t size, const char *const *files,
	    size_t nfiles, const char *host, int port, struct ts_error *err);

/*
 * Appends "host keytype base64" (host written as "[host]:port" when port
 * is not 22 or 0) to file, creating it (0600) and its directory (0700)
 * if missing.  TS_EINVAL for a host name that would not read back as one
 * name, or a malformed key blob.
 */
int	hostkey_add(const char *file, const char *host, int port,
	    const uint8_t *key, size_t keylen, struct ts_error *err);

/* "SHA256:..." fingerprint (base64 without padding, as ssh-keygen
 * prints) of a key blob.  TS_EINVAL if out is too small (it takes 51). */
int	hostkey_fingerprint(char *out, size_t size, const uint8_t *key,
	    size_t keylen);
#define HOSTKEY_FINGERPRINT_SIZE	51

#endif
