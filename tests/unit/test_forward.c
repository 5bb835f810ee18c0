/* test_forward: the URL parser of server/forward.c (`run --tee` collectors and the alert
 * notifiers): host, port, path prefix; the default port (4318 for a collector, 80 for a
 * notifier's http:// URL without one); what it refuses. */
#include "server/forward.h"
#include "test.h"

#include <errno.h>

static void test_ports(void) {
    struct forward f;
    char err[160];
    CHECK_EQ_INT(forward_init(&f, "http://collector:4319/prefix/", err, sizeof(err)), 0);
    CHECK_STR(f.host, "collector");
    CHECK_STR(f.port, "4319");
    CHECK_STR(f.base, "/prefix");
    CHECK_EQ_INT(forward_init(&f, "http://collector", err, sizeof(err)), 0);
    CHECK_STR(f.port, "4318");
    CHECK_STR(f.base, "");
    /* a notifier: the scheme's port when none is given */
    CHECK_EQ_INT(forward_init_port(&f, "http://hooks.local/alerts", "80", err, sizeof(err)), 0);
    CHECK_STR(f.host, "hooks.local");
    CHECK_STR(f.port, "80");
    CHECK_STR(f.base, "/alerts");
    CHECK_EQ_INT(forward_init_port(&f, "http://127.0.0.1:9093", "80", err, sizeof(err)), 0);
    CHECK_STR(f.port, "9093");
}

static void test_refused(void) {
    struct forward f;
    char err[160];
    CHECK_EQ_INT(forward_init_port(&f, "https://hooks.local/x", "80", err, sizeof(err)), -EINVAL);
    CHECK_EQ_INT(forward_init_port(&f, "http://:80/x", "80", err, sizeof(err)), -EINVAL);
    CHECK_STR(err, "no host in 'http://:80/x'");
    CHECK_EQ_INT(forward_init_port(&f, "http://h:/x", "80", err, sizeof(err)), -EINVAL);
    CHECK_STR(err, "bad port in 'http://h:/x'");
}

int main(void) {
    RUN(test_ports);
    RUN(test_refused);
    return test_report("test_forward");
}
