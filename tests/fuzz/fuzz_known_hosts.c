/*
 * libFuzzer target for known_hosts files: whatever a file holds, a host
 * key check ends with a verdict (an error only for a bad key or host),
 * and the list of known key types fits what it is given.
 *
 * The input's first byte picks the port and the key checked (one of
 * three real keys, or a blob taken from the input after a length byte);
 * then comes the host name up to a newline, then the file's text.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "error.h"
#include "hostkey.h"

int	LLVMFuzzerInitialize(int *argc, char ***argv);
int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)	do { if (!(x)) abort(); } while (0)

/* Real public keys (ssh-keygen -t ed25519, ed25519, ecdsa). */
static const char *const keys_b64[] = {
	"AAAAC3NzaC1lZDI1NTE5AAAAIP28Sh2ncfu4u8tHuYCqPmIEuhIgGlsZymYViQKRTaiJ",
	"AAAAC3NzaC1lZDI1NTE5AAAAIHmhbNQl5u+FMzUgXgxUi1K+xaKrQpgn4uKkah4EYQfS",
	"AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBFLlt1trVE7JLyi"
	    "JJJH2bdwfrNc+ZA4th5Ksjp2+iE5klk/bimuVqXer0ALzXH5kOA5oAxxOuvA5+e2O"
	    "0Yj7slw=",
};
#define NKEYS	(sizeof(keys_b64) / sizeof(keys_b64[0]))

static uint8_t	 keys[NKEYS][256];
static size_t	 keylens[NKEYS];
static char	 kh_path[64];		/* the text as a file, for the
					 * functions that only read files */

static void
remove_kh(void)
{
	(void)unlink(kh_path);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	size_t	 i, n;
	int	 len, fd;

	(void)argc;
	(void)argv;
	for (i = 0; i < NKEYS; i++) {
		n = strlen(keys_b64[i]);
		len = EVP_DecodeBlock(keys[i], (const unsigned char *)keys_b64[i],
		    (int)n);
		CHECK(len > 0);
		while (n > 0 && keys_b64[i][n - 1] == '=') {
			len--;		/* padding decodes as zero bytes */
			n--;
		}
		keylens[i] = (size_t)len;
	}
	snprintf(kh_path, sizeof(kh_path), "/tmp/fuzz_known_hosts.XXXXXX");
	CHECK((fd = mkstemp(kh_path)) != -1);
	close(fd);
	atexit(remove_kh);
	return 0;
}

static void
check_types(const char *text, size_t len, const char *host, int port)
{
	const char	*files[1] = { kh_path };
	struct ts_error	 err;
	FILE		*f;
	char		 small[24], big[4096];
	int		 rc;

	CHECK((f = fopen(kh_path, "w")) != NULL);
	CHECK(fwrite(text, 1, len, f) == len || len == 0);
	CHECK(fclose(f) == 0);
	error_clear(&err);
	rc = hostkey_known_types(big, sizeof(big), files, 1, host, port,
	    &err);
	CHECK(rc == 0 || rc == TS_EINVAL);
	if (rc == 0)
		CHECK(strlen(big) < sizeof(big));
	rc = hostkey_known_types(small, sizeof(small), files, 1, host, port,
	    &err);
	CHECK(rc == 0 || rc == TS_EINVAL);
	if (rc == 0)
		CHECK(strlen(small) < sizeof(small));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int	 ports[] = { 22, 2222, 0, 65535 };
	struct hostkey_check	 out;
	const uint8_t		*key, *nl;
	size_t			 keylen, hostlen;
	char			 fp[HOSTKEY_FINGERPRINT_SIZE];
	char			*host, *text;
	int			 port, rc, which;

	if (size < 1)
		return 0;
	port = ports[data[0] & 3];
	which = (data[0] >> 2) & 3;
	data++;
	size--;
	if (which < (int)NKEYS) {
		key = keys[which];
		keylen = keylens[which];
	} else {
		if (size < 1 || data[0] > size - 1)
			return 0;
		key = data + 1;
		keylen = data[0];
		data += 1 + keylen;
		size -= 1 + keylen;
	}
	if ((nl = memchr(data, '\n', size)) == NULL)
		return 0;
	hostlen = (size_t)(nl - data);
	if ((host = strndup((const char *)data, hostlen)) == NULL)
		return 0;
	size -= hostlen + 1;
	data = nl + 1;
	/* An exact-size copy: a read past the text is an ASan report. */
	if ((text = malloc(size != 0 ? size : 1)) == NULL) {
		free(host);
		return 0;
	}
	memcpy(text, data, size);

	rc = hostkey_check_text(&out, text, size, "kh", host, port, key,
	    keylen);
	CHECK(rc == 0 || rc == TS_EINVAL);
	if (rc == 0) {
		CHECK(out.result == HOSTKEY_MATCH ||
		    out.result == HOSTKEY_UNKNOWN ||
		    out.result == HOSTKEY_CHANGED ||
		    out.result == HOSTKEY_REVOKED);
		CHECK(memchr(out.file, '\0', sizeof(out.file)) != NULL);
		if (out.result != HOSTKEY_UNKNOWN)
			CHECK(out.line >= 1);
	}
	rc = hostkey_fingerprint(fp, sizeof(fp), key, keylen);
	CHECK(rc == 0 || rc == TS_EINVAL);
	if (rc == 0)
		CHECK(strncmp(fp, "SHA256:", 7) == 0);
	check_types(text, size, host, port);
	free(text);
	free(host);
	return 0;
}
