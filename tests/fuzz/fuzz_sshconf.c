/*
 * libFuzzer target for ssh_config: whatever a config file holds, parsing
 * ends with settings or with an error that names the line, and leaves no
 * leak behind.
 *
 * The input is the host name up to a newline, then the file's text.
 * Inputs that mention Include are skipped: it reads other files through
 * glob(3), which would make the run depend on this machine's files.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "error.h"
#include "sshconf.h"

int	LLVMFuzzerInitialize(int *argc, char ***argv);
int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)	do { if (!(x)) abort(); } while (0)

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* ~ and %d expand to these, whoever runs the fuzzer. */
	setenv("HOME", "/nonexistent/fuzz-home", 1);
	setenv("USER", "fuzz", 1);
	return 0;
}

static bool
mentions_include(const uint8_t *data, size_t size)
{
	size_t	 i;

	for (i = 0; i + 7 <= size; i++)
		if (strncasecmp((const char *)data + i, "include", 7) == 0)
			return true;
	return false;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sshconf	 c;
	struct ts_error	 err;
	const uint8_t	*nl;
	char		*host, *text;
	size_t		 hostlen, i;
	int		 rc;

	if (mentions_include(data, size) ||
	    (nl = memchr(data, '\n', size)) == NULL)
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
	memset(&c, 0, sizeof(c));
	error_clear(&err);
	rc = sshconf_parse(&c, text, size, host, NULL, "fuzz", &err);
	if (rc == 0) {
		CHECK(c.n_identity_files >= 0 &&
		    c.n_identity_files <= SSHCONF_MAX_IDENTITY_FILES);
		CHECK(c.n_known_hosts >= 0 &&
		    c.n_known_hosts <= SSHCONF_MAX_KNOWN_HOSTS);
		for (i = 0; i < (size_t)c.n_identity_files; i++)
			CHECK(c.identity_files[i] != NULL);
		CHECK(c.port >= 0 && c.port <= 65535);
		CHECK(c.connect_timeout >= 0 && c.server_alive_interval >= 0);
	} else {
		CHECK(err.code == rc && err.msg[0] != '\0');
		CHECK(c.hostname == NULL && c.user == NULL &&
		    c.n_identity_files == 0);
	}
	sshconf_dispose(&c);
	free(text);
	free(host);
	return 0;
}
