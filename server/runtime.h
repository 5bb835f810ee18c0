/* runtime: the runtime file that lets `otel-preload run` find a running server (docs/STORE.md).
 * Depends on libc. One line: "pid http-port grpc-port db-path". */
#ifndef OTELP_SERVER_RUNTIME_H
#define OTELP_SERVER_RUNTIME_H

#include <stddef.h>
#include <sys/types.h>

struct runtime_info {
    pid_t pid;
    int http_port, grpc_port; /* 0: not served */
    char db[4096];
};

/* $XDG_RUNTIME_DIR/otel-preload/server, else /tmp/otel-preload-$UID/server. */
const char *runtime_path(char *buf, size_t cap);
/* Writes it atomically (temp + rename), creating the directory (0700). */
int runtime_write(const struct runtime_info *info) __attribute__((warn_unused_result));
/* Reads it; 0 when a live server (pid alive, HTTP port accepting) wrote it. */
int runtime_find(struct runtime_info *info) __attribute__((warn_unused_result));
/* Removes it when it is ours (its pid is ours). */
void runtime_remove(void);

#endif
