/* test_hostconf: the host's config file: OTEL_* lines (spaces, comments,
 * CRLF, no final newline), include/exclude lines adding up, the
 * environment winning over the file, and refusals: a symbolic link, a
 * group- or world-writable file, a file not owned by root (when the test
 * runs as root), a directory; no file at all is no error. Depends on
 * core/hostconf.h, core/config.h and test.h. */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"
#include "core/hostconf.h"
#include "tests/unit/test.h"

static char dir[] = "/tmp/test_hostconf.XXXXXX";

static const char *write_file(const char *name, const char *text, mode_t mode) {
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) return NULL;
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
    return path;
}

static void test_lines(void) {
    const char *p = write_file("a.conf",
                               "# otel-preload\n"
                               "  OTEL_SERVICE_NAME = billing  \n"
                               "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318\r\n"
                               "\n"
                               "include = /usr/bin/*\n"
                               "exclude=*/cc1, as\n"
                               "exclude = ld\n"
                               "NOT_OTEL=1\n"
                               "garbage line\n"
                               "OTEL_RESOURCE_ATTRIBUTES=a=b,c=d",
                               0644);
    REQUIRE(p);
    struct hostconf c;
    int rc = hostconf_load(p, &c);
    REQUIRE(rc == 0 || getuid() != 0);
    if (getuid() != 0) return; /* owned by us, not root: refused (below) */
    REQUIRE(c.env);
    CHECK_STR(c.env[0], "OTEL_SERVICE_NAME=billing");
    CHECK_STR(c.env[1], "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318");
    CHECK_STR(c.env[2], "OTEL_RESOURCE_ATTRIBUTES=a=b,c=d");
    CHECK(c.env[3] == NULL);
    CHECK_STR(c.include, "/usr/bin/*");
    CHECK_STR(c.exclude, "*/cc1, as,ld");
    char *envp[] = {"OTEL_SERVICE_NAME=from-env", "PATH=/bin", NULL};
    char **all = hostconf_merge_env(&c, envp);
    REQUIRE(all);
    CHECK_STR(env_lookup(all, "OTEL_SERVICE_NAME"), "from-env"); /* the environment wins */
    CHECK_STR(env_lookup(all, "OTEL_RESOURCE_ATTRIBUTES"), "a=b,c=d");
    CHECK_STR(env_lookup(all, "PATH"), "/bin");
    free(all);
    hostconf_free(&c);
}

static void test_refusals(void) {
    struct hostconf c;
    char path[256];
    snprintf(path, sizeof path, "%s/none.conf", dir);
    CHECK_EQ_INT(hostconf_load(path, &c), 0); /* no file: nothing, no error */
    CHECK(c.env == NULL && c.include == NULL);
    const char *p = write_file("gw.conf", "OTEL_SERVICE_NAME=x\n", 0664);
    CHECK_EQ_INT(hostconf_load(p, &c), -EPERM);
    p = write_file("ww.conf", "OTEL_SERVICE_NAME=x\n", 0646);
    CHECK_EQ_INT(hostconf_load(p, &c), -EPERM);
    p = write_file("ok.conf", "OTEL_SERVICE_NAME=x\n", 0600);
    char link[256];
    snprintf(link, sizeof link, "%s/link.conf", dir);
    CHECK(symlink(p, link) == 0);
    CHECK_EQ_INT(hostconf_load(link, &c), -ELOOP);
    CHECK_EQ_INT(hostconf_load(dir, &c), -EINVAL);
    if (getuid() == 0) {
        CHECK(chown(p, 65534, 65534) == 0);
        CHECK_EQ_INT(hostconf_load(p, &c), -EPERM);
    } else {
        CHECK_EQ_INT(hostconf_load(p, &c), -EPERM); /* ours, not root's */
    }
}

int main(void) {
    if (!mkdtemp(dir)) return 1;
    RUN(test_lines);
    RUN(test_refusals);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) return 1;
    return test_report("hostconf");
}
