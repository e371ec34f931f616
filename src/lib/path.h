/* Joining paths: the one place that puts "dir" and "name" together. */
#ifndef TS_PATH_H
#define TS_PATH_H

/*
 * "dir/name", dir's trailing slashes dropped ("/" stays "/").  A dir of
 * "" is the login directory on the server: name alone (or "." for an
 * empty name); an empty name gives dir.  The caller frees the result;
 * NULL when out of memory.
 */
char	*path_join(const char *dir, const char *name);

#endif
