/* scope: include/exclude rules by executable and arguments. See scope.h. */
#include "core/scope.h"

#include <fnmatch.h>
#include <stddef.h>
#include <string.h>

/* Room for one glob and for the command line it is matched against; longer
 * ones are cut (a glob cut is matched as cut). */
#define GLOB_MAX 512
#define LINE_MAX_ 4096

static bool list_set(const char *const l[2]) {
    return (l[0] && *l[0]) || (l[1] && *l[1]);
}

bool scope_has_rules(const struct scope_rules *r) {
    return list_set(r->include) || list_set(r->exclude);
}

static const char *base_of(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

struct subject {
    const char *path, *argv0;
    int argc;
    char *const *argv;
    char line[2][LINE_MAX_]; /* path args..., argv[0] args... */
    bool line_made;
};

static void join(char *out, size_t cap, const char *first, int argc, char *const *argv) {
    size_t n = 0;
    for (int i = 0; i < argc || i == 0; i++) {
        const char *p = i == 0 ? first : argv[i];
        if (!p) break;
        if (i > 0 && n < cap - 1) out[n++] = ' ';
        for (; *p && n < cap - 1; p++)
            out[n++] = *p;
    }
    out[n] = '\0';
}

static bool name_matches(const char *g, const char *name) {
    return name && *name && (fnmatch(g, name, 0) == 0 || fnmatch(g, base_of(name), 0) == 0);
}

static bool glob_matches(const char *glob, size_t len, struct subject *s) {
    char g[GLOB_MAX];
    while (len && (*glob == ' ' || *glob == '\t'))
        glob++, len--;
    while (len && (glob[len - 1] == ' ' || glob[len - 1] == '\t'))
        len--;
    if (!len) return false;
    if (len >= sizeof g) len = sizeof g - 1;
    memcpy(g, glob, len);
    g[len] = '\0';
    if (!memchr(g, ' ', len)) return name_matches(g, s->path) || name_matches(g, s->argv0);
    if (!s->line_made) {
        join(s->line[0], sizeof s->line[0], s->path, s->argc, s->argv);
        join(s->line[1], sizeof s->line[1], s->argv0 ? s->argv0 : "", s->argc, s->argv);
        s->line_made = true;
    }
    return fnmatch(g, s->line[0], 0) == 0 || fnmatch(g, s->line[1], 0) == 0;
}

static bool list_matches(const char *list, struct subject *s) {
    if (!list) return false;
    for (const char *p = list; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (glob_matches(p, len, s)) return true;
        if (!end) break;
        p = end + 1;
    }
    return false;
}

bool scope_allows(const struct scope_rules *r, const char *path, int argc, char *const *argv) {
    if (!scope_has_rules(r)) return true;
    struct subject s = {.path = path ? path : "", .argc = argv ? argc : 0, .argv = argv};
    s.argv0 = s.argc > 0 ? argv[0] : NULL;
    if (list_set(r->include) && !list_matches(r->include[0], &s) &&
        !list_matches(r->include[1], &s))
        return false;
    return !list_matches(r->exclude[0], &s) && !list_matches(r->exclude[1], &s);
}
