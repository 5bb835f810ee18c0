/* install: `otel-preload install`, `uninstall` and `status`: the shim for a
 * whole host (/etc/ld.so.preload) or one systemd service (a drop-in).
 *
 * The host's preload list is the most dangerous file we touch: a bad entry
 * breaks every program on the machine, sudo and the shell included. So:
 * the shim is test-loaded into a real program (LD_PRELOAD, bind-now) before
 * anything is written; the list is rewritten whole into a temporary file in
 * /etc (mode 0644 whatever the umask), synced and renamed over the old one,
 * keeping every other entry as it was; then a program started with no
 * LD_PRELOAD (so under the new list) must run cleanly, or the old list is
 * put back. Installing twice changes nothing. The config file
 * (/etc/otel-preload/otel-preload.conf: core/hostconf.h) is written the same
 * way, for processes that get no OTEL_* environment.
 * Depends on libc only. */
#include "cli/install.h"

#include "cli/cli.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PRELOAD_LIST "/etc/ld.so.preload"
#define CONF_DIR "/etc/otel-preload"
#define CONF_FILE CONF_DIR "/otel-preload.conf"
#define DROPIN_DIR "/etc/systemd/system"
#define DROPIN_NAME "otel-preload.conf"
#define TEXT_MAX (256 * 1024)

extern char **environ;

static void fail(const char *fmt, const char *a, const char *b) {
    fprintf(stderr, "otel-preload: ");
    fprintf(stderr, fmt, a, b ? b : "");
    fputc('\n', stderr);
}

/* ---- files ---- */

/* The whole file (at most TEXT_MAX bytes) in a new buffer; NULL with errno
 * (ENOENT: there is none). */
static char *read_text(const char *path, size_t *len) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    char *buf = malloc(TEXT_MAX + 1);
    size_t n = 0;
    while (buf && n < TEXT_MAX) {
        ssize_t r = read(fd, buf + n, TEXT_MAX - n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        n += (size_t)r;
    }
    close(fd);
    if (!buf) return NULL;
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* Replaces path with text atomically: a temporary file beside it, mode
 * `mode` whatever the umask, synced, renamed over. 0 or -errno. */
static int write_atomic(const char *path, const char *text, size_t len, mode_t mode) {
    char tmp[PATH_MAX];
    const char *slash = strrchr(path, '/');
    int dirlen = slash ? (int)(slash - path) : 0;
    snprintf(tmp, sizeof tmp, "%.*s/.%s.XXXXXX", dirlen, path, slash ? slash + 1 : path);
    int fd = mkstemp(tmp);
    if (fd < 0) return -errno;
    int err = 0;
    for (size_t off = 0; off < len && !err;) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0)
            err = w < 0 ? -errno : -EIO;
        else
            off += (size_t)w;
    }
    if (!err && fchmod(fd, mode) != 0) err = -errno;
    if (!err && fsync(fd) != 0) err = -errno;
    if (close(fd) != 0 && !err) err = -errno;
    if (!err && rename(tmp, path) != 0) err = -errno;
    if (err) unlink(tmp);
    return err;
}

static bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Whether the preload list holds entry (as one of its whitespace-separated
 * words). */
static bool list_has(const char *text, const char *entry) {
    size_t n = strlen(entry);
    for (const char *p = text; (p = strstr(p, entry)) != NULL; p += n) {
        bool starts = p == text || is_space(p[-1]);
        if (starts && (is_space(p[n]) || !p[n])) return true;
    }
    return false;
}

/* Whether a word of the preload list is one of our shims. */
static bool ours(const char *word, size_t n) {
    const char *base = word;
    for (size_t i = 0; i < n; i++)
        if (word[i] == '/') base = word + i + 1;
    size_t bn = n - (size_t)(base - word);
    return bn >= 17 && memcmp(base, "libotelpreload", 14) == 0 &&
           memcmp(base + bn - 3, ".so", 3) == 0;
}

/* The list without our entries, every other word and line as it was. */
static char *list_without_ours(const char *text, size_t *out_len) {
    size_t len = strlen(text);
    char *out = malloc(len + 1);
    if (!out) return NULL;
    size_t o = 0;
    for (const char *line = text; *line;) {
        const char *nl = strchr(line, '\n');
        size_t ll = nl ? (size_t)(nl - line) : strlen(line);
        size_t start = o;
        bool dropped = false, kept = false;
        for (size_t i = 0; i < ll;) {
            size_t j = i;
            while (j < ll && !is_space(line[j]))
                j++;
            if (j > i && ours(line + i, j - i)) {
                dropped = true;
                i = j;
                while (i < ll && is_space(line[i]))
                    i++;
                continue;
            }
            if (j > i) kept = true;
            memcpy(out + o, line + i, j - i);
            o += j - i;
            i = j;
            while (i < ll && is_space(line[i]))
                out[o++] = line[i++];
        }
        if (dropped && !kept)
            o = start; /* a line that held only ours: gone */
        else if (nl)
            out[o++] = '\n';
        line = nl ? nl + 1 : line + ll;
    }
    out[o] = '\0';
    *out_len = o;
    return out;
}

/* ---- test loads ---- */

/* Runs argv with env; true when it exits 0 and writes nothing to stderr
 * (the loader's complaints go there). */
static bool runs_cleanly(char *const argv[], char *const env[]) {
    int errpipe[2];
    if (pipe(errpipe) != 0) return false;
    pid_t pid = fork();
    if (pid < 0) return false;
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDWR);
        if (devnull >= 0) {
            dup2(devnull, 0);
            dup2(devnull, 1);
        }
        dup2(errpipe[1], 2);
        close(errpipe[0]);
        execve(argv[0], argv, env);
        _exit(127);
    }
    close(errpipe[1]);
    char buf[256];
    size_t got = 0;
    ssize_t r;
    while ((r = read(errpipe[0], buf, sizeof buf)) != 0) {
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) break;
        if (got == 0) fwrite(buf, 1, (size_t)r, stderr); /* show the first complaint */
        got += (size_t)r;
    }
    close(errpipe[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return false;
    return got == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* The check program under the shim through LD_PRELOAD (lib non-NULL), or
 * with no LD_PRELOAD at all (the host's list applies). Telemetry off: this
 * is about loading. */
static bool check_loads(const char *program, const char *lib) {
    char preload[PATH_MAX + 16];
    char *env[8];
    int n = 0;
    if (lib) {
        snprintf(preload, sizeof preload, "LD_PRELOAD=%s", lib);
        env[n++] = preload;
    }
    env[n++] = "LD_BIND_NOW=1"; /* every import resolved now, not at first call */
    env[n++] = "OTEL_TRACES_EXPORTER=none";
    env[n++] = "OTEL_LOGS_EXPORTER=none";
    env[n++] = "OTEL_METRICS_EXPORTER=none";
    env[n++] = "PATH=/usr/bin:/bin";
    env[n] = NULL;
    char *argv[] = {(char *)program, NULL};
    return runs_cleanly(argv, env);
}

/* ---- options ---- */

struct options {
    const char *lib, *check, *service, *endpoint, *service_name;
    char include[4096], exclude[4096];
    bool dry_run;
};

static void add_glob(char *list, size_t cap, const char *glob) {
    size_t n = strlen(list);
    snprintf(list + n, cap - n, "%s%s", n ? "," : "", glob);
}

#define INSTALL_HELP                                                                               \
    "usage: otel-preload install|uninstall [--lib PATH] [--include GLOB]... [--exclude GLOB]...\n" \
    "           [--endpoint URL] [--service UNIT [--service-name NAME]] [--check PROGRAM]\n"       \
    "           [--dry-run]\n\n"                                                                   \
    "install: the shim in /etc/ld.so.preload after a test load (atomic, other entries kept,\n"     \
    "rolled back if programs fail), endpoint and rules in /etc/otel-preload/otel-preload.conf;\n"  \
    "--service UNIT: a systemd drop-in for that unit instead. uninstall: take it out.\n"           \
    "See docs/DEPLOY.md.\n"

static int usage(const char *cmd) {
    fprintf(
        stderr,
        "usage: otel-preload %s [--lib PATH] [--include GLOB]... [--exclude GLOB]...\n"
        "           [--endpoint URL] [--service UNIT [--service-name NAME]] [--check PROGRAM]\n",
        cmd);
    return 2;
}

static int parse(int argc, char **argv, struct options *o) {
    memset(o, 0, sizeof *o);
    o->check = "/bin/true";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (cli_is_help(a)) return 1;
        if (!strcmp(a, "--dry-run")) {
            o->dry_run = true;
            continue;
        }
        if (!v) return -1;
        if (!strcmp(a, "--lib"))
            o->lib = v;
        else if (!strcmp(a, "--check"))
            o->check = v;
        else if (!strcmp(a, "--service"))
            o->service = v;
        else if (!strcmp(a, "--service-name"))
            o->service_name = v;
        else if (!strcmp(a, "--endpoint"))
            o->endpoint = v;
        else if (!strcmp(a, "--include"))
            add_glob(o->include, sizeof o->include, v);
        else if (!strcmp(a, "--exclude"))
            add_glob(o->exclude, sizeof o->exclude, v);
        else
            return -1;
        i++;
    }
    return 0;
}

/* The shim next to this command (build tree) or in ../lib/otel-preload
 * (installed), as an absolute path. */
static int find_lib(const char *given, char *out) {
    if (given) return realpath(given, out) ? 0 : -errno;
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return -ENOENT;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (!slash) return -ENOENT;
    *slash = '\0';
    const char *tries[] = {"%s/libotelpreload.so", "%s/../lib/otel-preload/libotelpreload.so"};
    for (size_t i = 0; i < sizeof tries / sizeof *tries; i++) {
        char path[PATH_MAX + 64];
        snprintf(path, sizeof path, tries[i], self);
        if (realpath(path, out)) return 0;
    }
    return -ENOENT;
}

/* ---- install ---- */

static int write_config(const struct options *o) {
    if (!o->include[0] && !o->exclude[0] && !o->endpoint) return 0;
    char text[12288];
    int n = snprintf(text, sizeof text, "# written by otel-preload install; see docs/DEPLOY.md\n");
    if (o->endpoint)
        n += snprintf(text + n, sizeof text - (size_t)n, "OTEL_EXPORTER_OTLP_ENDPOINT=%s\n",
                      o->endpoint);
    if (o->include[0])
        n += snprintf(text + n, sizeof text - (size_t)n, "include = %s\n", o->include);
    if (o->exclude[0])
        n += snprintf(text + n, sizeof text - (size_t)n, "exclude = %s\n", o->exclude);
    if ((size_t)n >= sizeof text) return -E2BIG;
    if (mkdir(CONF_DIR, 0755) != 0 && errno != EEXIST) return -errno;
    return write_atomic(CONF_FILE, text, (size_t)n, 0644);
}

static int install_service(const struct options *o, const char *lib) {
    char dir[PATH_MAX], path[PATH_MAX + 32], text[8192];
    if (strchr(o->service, '/') || !o->service[0]) {
        fail("bad unit name '%s'%s", o->service, NULL);
        return 2;
    }
    const char *unit = o->service;
    size_t ul = strlen(unit);
    snprintf(dir, sizeof dir, DROPIN_DIR "/%s%s.d", unit,
             ul > 8 && !strcmp(unit + ul - 8, ".service") ? "" : ".service");
    snprintf(path, sizeof path, "%s/" DROPIN_NAME, dir);
    int n = snprintf(text, sizeof text,
                     "# written by otel-preload install --service; otel-preload uninstall "
                     "--service removes it\n[Service]\nEnvironment=\"LD_PRELOAD=%s\"\n",
                     lib);
    if (o->service_name)
        n += snprintf(text + n, sizeof text - (size_t)n, "Environment=\"OTEL_SERVICE_NAME=%s\"\n",
                      o->service_name);
    if (o->endpoint)
        n += snprintf(text + n, sizeof text - (size_t)n,
                      "Environment=\"OTEL_EXPORTER_OTLP_ENDPOINT=%s\"\n", o->endpoint);
    if (o->include[0])
        n += snprintf(text + n, sizeof text - (size_t)n,
                      "Environment=\"OTEL_PRELOAD_INCLUDE=%s\"\n", o->include);
    if (o->exclude[0])
        n += snprintf(text + n, sizeof text - (size_t)n,
                      "Environment=\"OTEL_PRELOAD_EXCLUDE=%s\"\n", o->exclude);
    if (o->dry_run) {
        printf("would write %s:\n%s", path, text);
        return 0;
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        fail("cannot create %s: %s", dir, strerror(errno));
        return 1;
    }
    int err = write_atomic(path, text, (size_t)n, 0644);
    if (err) {
        fail("cannot write %s: %s", path, strerror(-err));
        return 1;
    }
    printf("wrote %s\nrun: systemctl daemon-reload && systemctl restart %s\n", path, unit);
    return 0;
}

int cmd_install(int argc, char **argv) {
    struct options o;
    int p = parse(argc, argv, &o);
    if (p) return p > 0 ? (printf(INSTALL_HELP), 0) : usage("install");
    char lib[PATH_MAX];
    int err = find_lib(o.lib, lib);
    if (err) {
        fail("cannot find the shim%s%s (use --lib PATH)", o.lib ? " " : "", o.lib);
        return 1;
    }
    if (!check_loads(o.check, lib)) {
        fail("%s does not load cleanly into %s: nothing changed", lib, o.check);
        return 1;
    }
    if (o.service) return install_service(&o, lib);

    size_t len = 0;
    char *old = read_text(PRELOAD_LIST, &len);
    if (!old && errno != ENOENT) {
        fail("cannot read " PRELOAD_LIST ": %s%s", strerror(errno), NULL);
        return 1;
    }
    bool present = old && list_has(old, lib);
    if (o.dry_run) {
        printf("%s %s in " PRELOAD_LIST "\n", present ? "already" : "would add", lib);
        free(old);
        return 0;
    }
    err = write_config(&o);
    if (err) {
        fail("cannot write " CONF_FILE ": %s%s", strerror(-err), NULL);
        free(old);
        return 1;
    }
    if (present) {
        printf("%s is already in " PRELOAD_LIST "\n", lib);
        free(old);
        return 0;
    }
    size_t n = old ? len : 0, libn = strlen(lib);
    char *text = malloc(n + libn + 3);
    if (!text) {
        free(old);
        return 1;
    }
    if (n) memcpy(text, old, n);
    if (n && text[n - 1] != '\n') text[n++] = '\n'; /* an old list without a final newline */
    memcpy(text + n, lib, libn);
    n += libn;
    text[n++] = '\n';
    err = write_atomic(PRELOAD_LIST, text, n, 0644);
    free(text);
    if (err) {
        fail("cannot write " PRELOAD_LIST ": %s%s: nothing changed", strerror(-err), NULL);
        free(old);
        return 1;
    }
    /* Now under the new list, no LD_PRELOAD: a program must still run. */
    if (!check_loads(o.check, NULL)) {
        int back = old ? write_atomic(PRELOAD_LIST, old, len, 0644)
                       : (unlink(PRELOAD_LIST) == 0 ? 0 : -errno);
        fail("programs fail under the new " PRELOAD_LIST ": %s%s",
             back ? "ROLLBACK FAILED, restore it by hand" : "rolled back", NULL);
        free(old);
        return 1;
    }
    free(old);
    printf("added %s to " PRELOAD_LIST "\n", lib);
    return 0;
}

/* ---- uninstall ---- */

int cmd_uninstall(int argc, char **argv) {
    struct options o;
    int p = parse(argc, argv, &o);
    if (p) return p > 0 ? (printf(INSTALL_HELP), 0) : usage("uninstall");
    if (o.service) {
        char path[PATH_MAX];
        size_t ul = strlen(o.service);
        snprintf(path, sizeof path, DROPIN_DIR "/%s%s.d/" DROPIN_NAME, o.service,
                 ul > 8 && !strcmp(o.service + ul - 8, ".service") ? "" : ".service");
        if (unlink(path) != 0 && errno != ENOENT) {
            fail("cannot remove %s: %s", path, strerror(errno));
            return 1;
        }
        printf("removed %s\n", path);
        return 0;
    }
    size_t len = 0;
    char *old = read_text(PRELOAD_LIST, &len);
    if (!old) {
        if (errno == ENOENT) {
            printf("nothing to do: no " PRELOAD_LIST "\n");
            return 0;
        }
        fail("cannot read " PRELOAD_LIST ": %s%s", strerror(errno), NULL);
        return 1;
    }
    size_t n;
    char *text = list_without_ours(old, &n);
    if (!text) {
        free(old);
        return 1;
    }
    int rc = 0;
    if (n == len) {
        printf("nothing to do: no otel-preload entry in " PRELOAD_LIST "\n");
    } else {
        bool empty = true;
        for (size_t i = 0; i < n; i++)
            if (!is_space(text[i])) empty = false;
        int err = empty ? (unlink(PRELOAD_LIST) == 0 ? 0 : -errno)
                        : write_atomic(PRELOAD_LIST, text, n, 0644);
        if (err) {
            fail("cannot write " PRELOAD_LIST ": %s%s", strerror(-err), NULL);
            rc = 1;
        } else {
            printf("removed otel-preload from " PRELOAD_LIST "\n");
        }
    }
    free(text);
    free(old);
    return rc;
}

/* ---- status ---- */

/* Processes that have one of our shims mapped, from /proc/<pid>/maps. */
static int list_processes(void) {
    DIR *d = opendir("/proc");
    if (!d) return 0;
    int count = 0;
    struct dirent *e;
    for (int seen = 0; (e = readdir(d)) != NULL && seen < 100000; seen++) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end || pid <= 0) continue;
        char path[64], line[1024];
        snprintf(path, sizeof path, "/proc/%ld/maps", pid);
        FILE *f = fopen(path, "re");
        if (!f) continue;
        bool found = false;
        while (!found && fgets(line, sizeof line, f))
            found = strstr(line, "/libotelpreload") != NULL;
        fclose(f);
        if (!found) continue;
        char comm[64] = "?";
        snprintf(path, sizeof path, "/proc/%ld/comm", pid);
        f = fopen(path, "re");
        if (f) {
            if (fgets(comm, sizeof comm, f)) comm[strcspn(comm, "\n")] = '\0';
            fclose(f);
        }
        printf("  pid %ld %s\n", pid, comm);
        count++;
    }
    closedir(d);
    return count;
}

static void list_dropins(void) {
    DIR *d = opendir(DROPIN_DIR);
    if (!d) return;
    struct dirent *e;
    for (int seen = 0; (e = readdir(d)) != NULL && seen < 100000; seen++) {
        size_t n = strlen(e->d_name);
        if (n < 3 || strcmp(e->d_name + n - 2, ".d")) continue;
        char path[PATH_MAX];
        snprintf(path, sizeof path, DROPIN_DIR "/%s/" DROPIN_NAME, e->d_name);
        if (access(path, F_OK) == 0) printf("service: %.*s (%s)\n", (int)n - 2, e->d_name, path);
    }
    closedir(d);
}

void install_status_print(void) {
    size_t len = 0;
    char *list = read_text(PRELOAD_LIST, &len);
    bool host = false;
    if (list) {
        for (char *w = strtok(list, " \t\r\n"); w; w = strtok(NULL, " \t\r\n"))
            if (ours(w, strlen(w))) {
                printf("host: %s in " PRELOAD_LIST " (%s)\n", w,
                       check_loads("/bin/true", w) ? "loads" : "DOES NOT LOAD");
                host = true;
            }
        free(list);
    }
    if (!host) printf("host: not installed in " PRELOAD_LIST "\n");
    char *conf = read_text(CONF_FILE, &len);
    if (conf) {
        printf("config: " CONF_FILE "\n%s%s", conf, len && conf[len - 1] != '\n' ? "\n" : "");
        free(conf);
    }
    list_dropins();
    printf("instrumented processes:\n");
    if (list_processes() == 0) printf("  none\n");
}

int cmd_status_all(int argc, char **argv) {
    int rc = cmd_status(argc, argv);
    bool help = false;
    for (int i = 1; i < argc; i++)
        help = help || cli_is_help(argv[i]);
    if (rc == 0 && !help) install_status_print();
    return rc;
}
