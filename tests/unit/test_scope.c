/* test_scope: include/exclude rules by executable path, argv[0], base names
 * and command line; an include list that matches nothing leaves the program
 * out; exclude wins over include; long and empty globs. Depends on
 * core/scope.h and test.h. */
#include "core/scope.h"
#include "tests/unit/test.h"

static bool allows(const char *inc, const char *exc, const char *path, int argc, char **argv) {
    struct scope_rules r = {{inc, NULL}, {exc, NULL}};
    return scope_allows(&r, path, argc, argv);
}

static void test_no_rules(void) {
    struct scope_rules r = {{NULL, ""}, {"", NULL}};
    CHECK(!scope_has_rules(&r));
    CHECK(scope_allows(&r, "/bin/true", 0, NULL));
}

static void test_by_path_and_name(void) {
    char *argv[] = {"sh", "-c", "exit 0", NULL};
    CHECK(!allows(NULL, "sh", "/usr/bin/dash", 3, argv));   /* argv[0] */
    CHECK(!allows(NULL, "dash", "/usr/bin/dash", 3, argv)); /* executable's base */
    CHECK(!allows(NULL, "/usr/bin/*", "/usr/bin/dash", 3, argv));
    CHECK(allows(NULL, "/usr/local/*", "/usr/bin/dash", 3, argv));
    CHECK(allows(NULL, "bash", "/usr/bin/dash", 3, argv));
    CHECK(!allows(NULL, "python3, d?sh", "/usr/bin/dash", 3, argv)); /* spaces trimmed */
    CHECK(allows("python*", NULL, "/usr/bin/python3.11", 3, argv));  /* by its executable */
    CHECK(!allows("python*", NULL, "/usr/bin/dash", 3, argv));
}

static void test_by_arguments(void) {
    char *argv[] = {"python3", "manage.py", "runserver", NULL};
    CHECK(allows("*manage.py runserver*", NULL, "/usr/bin/python3.11", 3, argv));
    CHECK(allows("python3 manage.py *", NULL, "/usr/bin/python3.11", 3, argv));
    CHECK(allows("/usr/bin/python3.11 manage.py *", NULL, "/usr/bin/python3.11", 3, argv));
    CHECK(!allows("* migrate*", NULL, "/usr/bin/python3.11", 3, argv));
    CHECK(!allows(NULL, "* runserver", "/usr/bin/python3.11", 3, argv));
}

static void test_exclude_wins(void) {
    char *argv[] = {"cc1", NULL};
    CHECK(!allows("/usr/*", "cc1", "/usr/lib/gcc/cc1", 1, argv));
    CHECK(allows("/usr/*", "as", "/usr/lib/gcc/cc1", 1, argv));
    /* Two lists of each kind (environment and config file) add up. */
    struct scope_rules r = {{"nomatch", "/usr/*"}, {NULL, "cc?"}};
    CHECK(!scope_allows(&r, "/usr/lib/gcc/cc1", 1, argv));
    r.exclude[1] = NULL;
    CHECK(scope_allows(&r, "/usr/lib/gcc/cc1", 1, argv));
}

static void test_edges(void) {
    char long_glob[2000];
    memset(long_glob, 'a', sizeof long_glob - 1);
    long_glob[sizeof long_glob - 1] = '\0';
    char *argv[] = {"x", NULL};
    CHECK(allows(NULL, long_glob, "/bin/x", 1, argv));
    CHECK(allows(NULL, ",,, ,", "/bin/x", 1, argv)); /* empty globs match nothing */
    CHECK(allows(",,x,", NULL, "/bin/y", 1, argv));  /* argv[0] */
    CHECK(allows(NULL, "y", "", 0, NULL));           /* no path, no arguments */
    CHECK(allows("*", "* *", "/bin/x", 1, argv));    /* no arguments: no space to match */
}

int main(void) {
    RUN(test_no_rules);
    RUN(test_by_path_and_name);
    RUN(test_by_arguments);
    RUN(test_exclude_wins);
    RUN(test_edges);
    return test_report("scope");
}
