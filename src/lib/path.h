/* Joining paths: the one place that puts "dir" and "name" together; and
 * how deep a path lies. */
#ifndef TS_PATH_H
#define TS_PATH_H

/*
 * "dir/name", dir's trailing slashes dropped ("/" stays "/").  A dir of
 * "" is the login directory on the server: name alone (or "." for an
 * empty name); an empty name gives dir.  The caller frees the result;
 * NULL when out of memory.
 */
char	*path_join(const char *dir, const char *name);

/* The number of '/' in path: 0 for "a", 1 for "a/b".  Trees are made
 * and removed level by level with it. */
int	path_depth(const char *path);

#endif
