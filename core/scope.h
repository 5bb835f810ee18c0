/* scope: which programs the shim instruments, by executable path and by
 * arguments. Rules are comma-separated glob lists (fnmatch, no flags: `*`
 * crosses '/'): OTEL_PRELOAD_INCLUDE and OTEL_PRELOAD_EXCLUDE, and the
 * include/exclude lines of the host's config file (hostconf.h). A glob
 * without a space is matched against the executable's path, argv[0], and
 * the base names of both (`sh` matches /bin/sh run as sh, whose executable
 * is dash); a glob with a space against the command line: the arguments
 * joined by single spaces, with argv[0] as given or replaced by the
 * executable's path. A program is in
 * scope when no include rule exists or one matches, and no exclude rule
 * matches. Depends on libc. */
#ifndef OTELP_CORE_SCOPE_H
#define OTELP_CORE_SCOPE_H

#include <stdbool.h>

struct scope_rules {
    const char *include[2]; /* comma-separated lists; NULL or empty: none */
    const char *exclude[2];
};

/* True when any rule is set (the program's path is needed then). */
bool scope_has_rules(const struct scope_rules *r);

/* True when the program (its executable's path, argc/argv) is in scope. */
bool scope_allows(const struct scope_rules *r, const char *path, int argc, char *const *argv);

#endif
