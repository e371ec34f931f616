/* Joining paths (path.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "path.h"

char *
path_join(const char *dir, const char *name)
{
	char	*p;
	size_t	 n = strlen(dir);

	if (n == 0)
		return strdup(*name != '\0' ? name : ".");
	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (*name == '\0')
		return strndup(dir, n);
	if (asprintf(&p, "%.*s%s%s", (int)n, dir, dir[n - 1] == '/' ? "" :
	    "/", name) < 0)
		return NULL;
	return p;
}

int
path_depth(const char *path)
{
	int	 d = 0;

	for (; *path != '\0'; path++)
		d += *path == '/';
	return d;
}
