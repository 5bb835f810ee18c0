/* hostconf: the host's config file, /etc/otel-preload/otel-preload.conf
 * (OTEL_PRELOAD_CONFIG names another), for processes that get the shim from
 * /etc/ld.so.preload and so no OTEL_* environment. Lines are `NAME=VALUE`
 * (spaces around '=' allowed), `#` starts a comment line; NAME is an OTEL_*
 * variable (the environment wins over the file) or `include`/`exclude`
 * (scope.h; lines add up). The file is refused, with one diagnostic, unless
 * it is a regular file (not a symlink) owned by root and neither group- nor
 * world-writable; at most 64 KiB are read. Depends on libc and diag.h. */
#ifndef OTELP_CORE_HOSTCONF_H
#define OTELP_CORE_HOSTCONF_H

#define HOSTCONF_PATH "/etc/otel-preload/otel-preload.conf"

struct hostconf {
    char **env;    /* NAME=VALUE strings of the OTEL_* lines, NULL-terminated */
    char *include; /* comma-separated globs, or NULL */
    char *exclude;
    char *storage; /* what the above point into */
    char *lists;
};

/* Reads path into *c. 0 (also when there is no file: *c empty), or a
 * negative errno when the file exists but is refused or unreadable. */
int hostconf_load(const char *path, struct hostconf *c) __attribute__((warn_unused_result));

/* envp followed by the file's OTEL_* entries (envp's own come first and so
 * win), for config_load; envp itself when the file has none. Lives as long
 * as c. NULL when out of memory. */
char **hostconf_merge_env(const struct hostconf *c, char *const *envp);

/* Frees what hostconf_load allocated (the shim keeps it for the process's
 * life; tests free it). */
void hostconf_free(struct hostconf *c);

#endif
