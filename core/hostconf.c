/* hostconf: the host's config file. See hostconf.h. */
#include "core/hostconf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define HOSTCONF_MAX (64 * 1024)

static bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\r';
}

/* Reads at most HOSTCONF_MAX bytes of fd into a new NUL-terminated buffer. */
static char *read_all(int fd, size_t *len) {
    char *buf = malloc(HOSTCONF_MAX + 1);
    if (!buf) return NULL;
    size_t n = 0;
    for (int tries = 0; n < HOSTCONF_MAX && tries < 1024; tries++) {
        ssize_t r = read(fd, buf + n, HOSTCONF_MAX - n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        n += (size_t)r;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static void append(char *list, const char *v, size_t vlen) {
    size_t n = strlen(list);
    if (n) list[n++] = ',';
    memcpy(list + n, v, vlen);
    list[n + vlen] = '\0';
}

int hostconf_load(const char *path, struct hostconf *c) {
    memset(c, 0, sizeof *c);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
    struct stat st;
    /* The system call: glibc's fstat is 2.33 (the shim's floor is 2.17). */
    if (syscall(SYS_fstat, fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return -EINVAL;
    }
    if (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH))) {
        close(fd);
        return -EPERM;
    }
    size_t len;
    char *text = read_all(fd, &len);
    close(fd);
    if (!text) return -ENOMEM;
    /* One block: the text (rewritten in place), the include and exclude
     * lists, and the env array. */
    size_t lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    char *lists = malloc(2 * (len + 2));
    char **env = calloc(lines + 1, sizeof *env);
    if (!lists || !env) {
        free(text);
        free(lists);
        free(env);
        return -ENOMEM;
    }
    char *include = lists, *exclude = lists + len + 2;
    include[0] = exclude[0] = '\0';
    size_t nenv = 0;
    for (char *line = text; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = '\0';
        char *next = nl ? nl + 1 : NULL;
        while (is_space(*line))
            line++;
        char *eq = strchr(line, '=');
        if (*line && *line != '#' && eq) {
            char *name_end = eq;
            while (name_end > line && is_space(name_end[-1]))
                name_end--;
            char *value = eq + 1;
            while (is_space(*value))
                value++;
            char *value_end = value + strlen(value);
            while (value_end > value && is_space(value_end[-1]))
                value_end--;
            size_t name_len = (size_t)(name_end - line), value_len = (size_t)(value_end - value);
            if (name_len == 7 && memcmp(line, "include", 7) == 0) {
                if (value_len) append(include, value, value_len);
            } else if (name_len == 7 && memcmp(line, "exclude", 7) == 0) {
                if (value_len) append(exclude, value, value_len);
            } else if (name_len > 5 && memcmp(line, "OTEL_", 5) == 0) {
                /* NAME=VALUE in place: never longer than the line. */
                line[name_len] = '=';
                memmove(line + name_len + 1, value, value_len);
                line[name_len + 1 + value_len] = '\0';
                env[nenv++] = line;
            }
        }
        line = next;
    }
    c->env = env;
    c->include = include[0] ? include : NULL;
    c->exclude = exclude[0] ? exclude : NULL;
    c->storage = text;
    c->lists = lists;
    return 0;
}

char **hostconf_merge_env(const struct hostconf *c, char *const *envp) {
    if (!c->env || !c->env[0]) return (char **)envp;
    size_t n = 0, m = 0;
    while (envp && envp[n])
        n++;
    while (c->env[m])
        m++;
    char **all = malloc((n + m + 1) * sizeof *all);
    if (!all) return NULL;
    for (size_t i = 0; i < n; i++)
        all[i] = envp[i];
    for (size_t i = 0; i < m; i++)
        all[n + i] = c->env[i];
    all[n + m] = NULL;
    return all;
}

void hostconf_free(struct hostconf *c) {
    free(c->env);
    free(c->storage);
    free(c->lists);
    memset(c, 0, sizeof *c);
}
