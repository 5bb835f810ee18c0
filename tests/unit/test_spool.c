/* test_spool: the spool's contract (docs/SPOOL.md) on a real directory:
 * the default location, a batch written and read back byte for byte, the
 * header format, a half-written file never listed, claim by rename (two
 * drainers never get one batch, concurrent drainers in separate processes
 * claim each batch once), release, stale claims and temporary files, the
 * cap (oldest first, counted; the usage file, eviction rounds, pruning), and the directories
 * refused (a symlink, not ours, open to others); an exporter's drain
 * (outbox.h) of several signals at once, past other endpoints' batches.
 * Depends on exporters/spool.h, exporters/outbox.h and test.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exporters/outbox.h"
#include "exporters/spool.h"
#include "tests/unit/test.h"

static char base[256];

static void fresh_dir(char *out, size_t cap, const char *leaf) {
    snprintf(out, cap, "%s/%s", base, leaf);
}

static int rm_rf(const char *path) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    return system(cmd);
}

static struct spool_header header(int sig, const char *endpoint, uint64_t records) {
    struct spool_header h = {.signal = sig, .records = records};
    snprintf(h.endpoint, sizeof h.endpoint, "%s", endpoint);
    snprintf(h.protocol, sizeof h.protocol, "http/protobuf");
    snprintf(h.content_type, sizeof h.content_type, "application/x-protobuf");
    snprintf(h.content_encoding, sizeof h.content_encoding, "identity");
    return h;
}

static void test_default_dir(void) {
    char out[512];
    char *own[] = {"OTEL_PRELOAD_SPOOL_DIR=/x/y", "XDG_RUNTIME_DIR=/run/user/5", NULL};
    REQUIRE(spool_dir_default(out, sizeof out, own) == 0);
    CHECK_STR(out, "/x/y");
    char *xdg[] = {"XDG_RUNTIME_DIR=/run/user/5", NULL};
    REQUIRE(spool_dir_default(out, sizeof out, xdg) == 0);
    CHECK_STR(out, "/run/user/5/otel-preload-spool");
    char *relative[] = {"XDG_RUNTIME_DIR=run", "OTEL_PRELOAD_SPOOL_DIR=", NULL};
    REQUIRE(spool_dir_default(out, sizeof out, relative) == 0);
    char want[64];
    snprintf(want, sizeof want, "/tmp/otel-preload-%u", (unsigned)getuid());
    CHECK_STR(out, want);
    char small[8];
    CHECK_EQ_INT(spool_dir_default(small, sizeof small, xdg), -ENAMETOOLONG);
}

static void test_write_read_round_trip(void) {
    char dir[300];
    fresh_dir(dir, sizeof dir, "rt");
    struct spool sp;
    REQUIRE(spool_init(&sp, dir, SPOOL_DEFAULT_MAX_BYTES) == 0);
    uint8_t body[1000];
    for (size_t i = 0; i < sizeof body; i++)
        body[i] = (uint8_t)(i * 7);
    struct spool_header h = header(1, "http://127.0.0.1:4318/v1/logs", 17);
    REQUIRE(spool_write(&sp, &h, body, sizeof body) == 0);
    CHECK_EQ_U64(sp.written_batches, 1);
    CHECK_EQ_U64(sp.written_records, 17);
    struct stat st;
    REQUIRE(stat(dir, &st) == 0);
    CHECK_EQ_INT(st.st_mode & 0777, 0700);

    struct spool_entry e[4];
    size_t n, total;
    REQUIRE(spool_list(&sp, e, 4, &n, &total) == 0);
    REQUIRE(n == 1);
    CHECK_EQ_INT(total, 1);
    CHECK_EQ_INT(e[0].signal, 1);
    CHECK_EQ_U64(e[0].records, 17);
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, e[0].name);
    REQUIRE(stat(path, &st) == 0);
    CHECK_EQ_U64(e[0].bytes, (uint64_t)st.st_size);
    CHECK_EQ_INT(st.st_mode & 0777, 0600);

    /* The header, exactly as docs/SPOOL.md shows it. */
    FILE *f = fopen(path, "rb");
    REQUIRE(f);
    char text[512];
    size_t got = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[got] = '\0';
    const char *want =
        "OTEL-PRELOAD-SPOOL 1\nsignal: logs\nendpoint: http://127.0.0.1:4318/v1/logs\n"
        "protocol: http/protobuf\ncontent-type: application/x-protobuf\n"
        "content-encoding: identity\nrecords: 17\nlength: 1000\n\n";
    CHECK(!strncmp(text, want, strlen(want)));
    CHECK_EQ_U64((uint64_t)st.st_size, strlen(want) + sizeof body);

    char claimed[SPOOL_NAME_MAX + 32];
    REQUIRE(spool_claim(&sp, e[0].name, claimed, sizeof claimed) == 0);
    CHECK_EQ_INT(spool_claim(&sp, e[0].name, claimed, sizeof claimed), -ENOENT);
    REQUIRE(spool_list(&sp, e, 4, &n, &total) == 0);
    CHECK_EQ_INT(n, 0); /* claimed: not listed (its owner, us, is alive) */
    struct spool_header r;
    uint8_t *rb;
    REQUIRE(spool_read(&sp, claimed, &r, &rb) == 0);
    CHECK_EQ_INT(r.signal, 1);
    CHECK_STR(r.endpoint, "http://127.0.0.1:4318/v1/logs");
    CHECK_STR(r.protocol, "http/protobuf");
    CHECK_STR(r.content_type, "application/x-protobuf");
    CHECK_STR(r.content_encoding, "identity");
    CHECK_EQ_U64(r.records, 17);
    CHECK_EQ_U64(r.length, sizeof body);
    CHECK(!memcmp(rb, body, sizeof body));
    free(rb);
    /* Released after a failure: listed again; removed after a success. */
    REQUIRE(spool_release(&sp, claimed) == 0);
    REQUIRE(spool_list(&sp, e, 4, &n, &total) == 0);
    REQUIRE(n == 1);
    REQUIRE(spool_claim(&sp, e[0].name, claimed, sizeof claimed) == 0);
    REQUIRE(spool_remove(&sp, claimed) == 0);
    REQUIRE(spool_list(&sp, e, 4, &n, &total) == 0);
    CHECK_EQ_INT(total, 0);
    rm_rf(dir);
}

static void test_half_written_never_listed(void) {
    char dir[300], path[600];
    fresh_dir(dir, sizeof dir, "half");
    struct spool sp;
    REQUIRE(spool_init(&sp, dir, SPOOL_DEFAULT_MAX_BYTES) == 0);
    struct spool_header h = header(0, "http://x/v1/traces", 1);
    REQUIRE(spool_write(&sp, &h, "abc", 3) == 0);
    /* A writer killed before its rename (pid 1 never writes here, but a
     * fresh file is not stale: it stays, unlisted). */
    snprintf(path, sizeof path, "%s/.tmp-1-5", dir);
    FILE *f = fopen(path, "w");
    REQUIRE(f);
    fputs("OTEL-PRELOAD-SPOOL 1\nsignal: traces\n", f);
    fclose(f);
    /* A file with a batch's name but cut short is corrupt: listed, never
     * read as a batch. */
    snprintf(path, sizeof path, "%s/00000000000000000001-1-1-traces-1-500.otlp", dir);
    f = fopen(path, "w");
    REQUIRE(f);
    fputs("OTEL-PRELOAD-SPOOL 1\nsignal: traces\nendpoint: http://x/v1/traces\nrecords: 1\n"
          "length: 400\n\nshort",
          f);
    fclose(f);
    /* Not ours at all: ignored. */
    snprintf(path, sizeof path, "%s/notes.txt", dir);
    f = fopen(path, "w");
    REQUIRE(f);
    fclose(f);

    struct spool_entry e[8];
    size_t n, total;
    REQUIRE(spool_list(&sp, e, 8, &n, &total) == 0);
    REQUIRE(n == 2);
    CHECK_STR(e[0].name, "00000000000000000001-1-1-traces-1-500.otlp"); /* oldest first */
    char claimed[SPOOL_NAME_MAX + 32];
    REQUIRE(spool_claim(&sp, e[0].name, claimed, sizeof claimed) == 0);
    struct spool_header r;
    uint8_t *rb;
    CHECK_EQ_INT(spool_read(&sp, claimed, &r, &rb), -EBADMSG);
    CHECK(rb == NULL);
    REQUIRE(spool_remove(&sp, claimed) == 0);
    REQUIRE(spool_claim(&sp, e[1].name, claimed, sizeof claimed) == 0);
    REQUIRE(spool_read(&sp, claimed, &r, &rb) == 0);
    CHECK_EQ_U64(r.length, 3);
    CHECK(!memcmp(rb, "abc", 3));
    free(rb);
    snprintf(path, sizeof path, "%s/.tmp-1-5", dir);
    CHECK(access(path, F_OK) == 0);
    rm_rf(dir);
}

static void test_stale_claims_and_temps(void) {
    char dir[300], path[700];
    fresh_dir(dir, sizeof dir, "stale");
    struct spool sp;
    REQUIRE(spool_init(&sp, dir, SPOOL_DEFAULT_MAX_BYTES) == 0);
    struct spool_header h = header(0, "http://x/v1/traces", 2);
    REQUIRE(spool_write(&sp, &h, "abcd", 4) == 0);
    struct spool_entry e[2];
    size_t n, total;
    REQUIRE(spool_list(&sp, e, 2, &n, &total) == 0 && n == 1);
    /* A drainer that died holding a claim (a pid that has exited). */
    pid_t dead = fork();
    if (!dead) _exit(0);
    waitpid(dead, NULL, 0);
    char from[700];
    snprintf(from, sizeof from, "%s/%s", dir, e[0].name);
    snprintf(path, sizeof path, "%s/.claim-%d-%s", dir, (int)dead, e[0].name);
    REQUIRE(rename(from, path) == 0);
    char tmp[700];
    snprintf(tmp, sizeof tmp, "%s/.tmp-%d-3", dir, (int)dead);
    FILE *f = fopen(tmp, "w");
    REQUIRE(f);
    fclose(f);
    REQUIRE(spool_list(&sp, e, 2, &n, &total) == 0); /* releases and removes */
    CHECK(access(tmp, F_OK) != 0);
    CHECK(access(from, F_OK) == 0);
    REQUIRE(spool_list(&sp, e, 2, &n, &total) == 0);
    CHECK_EQ_INT(n, 1);
    rm_rf(dir);
}

static void test_cap_oldest_first(void) {
    char dir[300];
    fresh_dir(dir, sizeof dir, "cap");
    struct spool sp;
    /* Each batch here is a ~150-byte header plus 1000 bytes. */
    REQUIRE(spool_init(&sp, dir, 5000) == 0);
    static uint8_t body[1000];
    char first[SPOOL_NAME_MAX] = "";
    for (int i = 0; i < 10; i++) {
        struct spool_header h = header(0, "http://x/v1/traces", (uint64_t)i + 1);
        REQUIRE(spool_write(&sp, &h, body, sizeof body) == 0);
        if (i == 0) {
            struct spool_entry e;
            size_t n;
            REQUIRE(spool_list(&sp, &e, 1, &n, NULL) == 0 && n == 1);
            memcpy(first, e.name, sizeof first);
        }
    }
    struct spool_entry e[16];
    size_t n, total;
    REQUIRE(spool_list(&sp, e, 16, &n, &total) == 0);
    uint64_t bytes = 0, kept_records = 0;
    for (size_t i = 0; i < n; i++) {
        bytes += e[i].bytes;
        kept_records += e[i].records;
    }
    CHECK(bytes <= 5000);
    CHECK_EQ_INT(n, 4);
    CHECK_EQ_U64(sp.evicted_batches, 6);
    CHECK_EQ_U64(sp.evicted_records + kept_records, 55); /* 1 + 2 + ... + 10 */
    CHECK_EQ_U64(sp.evicted_records, 21);                /* the six oldest: 1..6 */
    for (size_t i = 0; i < n; i++)
        CHECK(strcmp(e[i].name, first) != 0);
    /* Larger than the cap alone: refused, counted. */
    static uint8_t big[6000];
    struct spool_header h = header(0, "http://x/v1/traces", 1);
    CHECK_EQ_INT(spool_write(&sp, &h, big, sizeof big), -EFBIG);
    CHECK_EQ_U64(sp.refused, 1);
    struct spool off;
    REQUIRE(spool_init(&off, dir, 0) == 0);
    CHECK_EQ_INT(spool_write(&off, &h, "x", 1), -ENOSPC);
    rm_rf(dir);
}

static long usage_kib(const char *dir) {
    char path[400];
    snprintf(path, sizeof path, "%s/.usage", dir);
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* The usage file counts each write (no scan while it says the cap is far);
 * a lowered cap evicts in rounds down to the cap less a 64th, and the file
 * is set to what is left; gone, it is rebuilt by a scan; pruning removes it
 * and the emptied directory. */
static void test_cap_usage_file_and_rounds(void) {
    char dir[300];
    fresh_dir(dir, sizeof dir, "usage");
    struct spool sp;
    REQUIRE(spool_init(&sp, dir, 1 << 20) == 0);
    static uint8_t body[1000];
    for (int i = 0; i < 150; i++) {
        struct spool_header h = header(0, "http://x/v1/traces", 1);
        REQUIRE(spool_write(&sp, &h, body, sizeof body) == 0);
    }
    struct spool_entry e[1];
    size_t n, total;
    REQUIRE(spool_list(&sp, e, 1, &n, &total) == 0);
    CHECK_EQ_INT(total, 150);
    long per = (long)(e[0].bytes + 1023) / 1024;
    CHECK_EQ_INT(usage_kib(dir), 150 * per);
    CHECK_EQ_U64(sp.evicted_batches, 0);
    /* Lowered cap: 151 batches to keep within 20000 bytes. */
    struct spool low;
    uint64_t cap = 20000, low_water = cap - cap / 64;
    REQUIRE(spool_init(&low, dir, cap) == 0);
    struct spool_header h = header(0, "http://x/v1/traces", 1);
    REQUIRE(spool_write(&low, &h, body, sizeof body) == 0);
    size_t keep = (size_t)(low_water / e[0].bytes);
    REQUIRE(spool_list(&low, e, 1, &n, &total) == 0);
    CHECK_EQ_INT(total, keep);
    CHECK_EQ_U64(low.evicted_batches, 151 - keep);
    CHECK_EQ_INT(usage_kib(dir), (long)((keep * e[0].bytes + 1023) / 1024));
    /* Gone: the next write counts afresh. */
    char path[400];
    snprintf(path, sizeof path, "%s/.usage", dir);
    REQUIRE(unlink(path) == 0);
    REQUIRE(spool_write(&low, &h, body, sizeof body) == 0);
    REQUIRE(spool_list(&low, e, 1, &n, &total) == 0);
    CHECK_EQ_INT(usage_kib(dir), (long)((total * e[0].bytes + 1023) / 1024));
    /* Pruning leaves batches alone, and removes an emptied directory. */
    CHECK_EQ_INT(spool_prune(&low), -ENOTEMPTY);
    struct spool_entry all[64];
    REQUIRE(spool_list(&low, all, 64, &n, &total) == 0);
    for (size_t i = 0; i < n; i++) {
        char claimed[SPOOL_NAME_MAX + 32];
        REQUIRE(spool_claim(&low, all[i].name, claimed, sizeof claimed) == 0);
        REQUIRE(spool_remove(&low, claimed) == 0);
    }
    CHECK_EQ_INT(spool_prune(&low), 0);
    struct stat st;
    CHECK(stat(dir, &st) != 0);
    CHECK_EQ_INT(spool_prune(&low), 0); /* already gone */
}

static void test_refused_directories(void) {
    char dir[300], real[300];
    struct spool_header h = header(0, "http://x/v1/traces", 1);
    struct spool sp;
    /* A symlink, even to a good directory of ours. */
    fresh_dir(real, sizeof real, "real");
    fresh_dir(dir, sizeof dir, "link");
    REQUIRE(mkdir(real, 0700) == 0);
    REQUIRE(symlink(real, dir) == 0);
    REQUIRE(spool_init(&sp, dir, SPOOL_DEFAULT_MAX_BYTES) == 0);
    CHECK_EQ_INT(spool_write(&sp, &h, "x", 1), -EPERM);
    CHECK_EQ_U64(sp.refused, 1);
    unlink(dir);
    /* Open to others. */
    fresh_dir(dir, sizeof dir, "open");
    REQUIRE(mkdir(dir, 0700) == 0);
    REQUIRE(chmod(dir, 0777) == 0);
    REQUIRE(spool_init(&sp, dir, SPOOL_DEFAULT_MAX_BYTES) == 0);
    CHECK_EQ_INT(spool_write(&sp, &h, "x", 1), -EPERM);
    rm_rf(dir);
    /* Not ours (only root can make one to try). */
    if (geteuid() == 0) {
        fresh_dir(dir, sizeof dir, "theirs");
        REQUIRE(mkdir(dir, 0700) == 0);
        REQUIRE(chown(dir, 65534, 65534) == 0);
        REQUIRE(spool_init(&sp, dir, SPOOL_DEFAULT_MAX_BYTES) == 0);
        CHECK_EQ_INT(spool_write(&sp, &h, "x", 1), -EPERM);
        rm_rf(dir);
    }
    /* A header value with a newline would forge lines: refused. */
    fresh_dir(dir, sizeof dir, "forge");
    REQUIRE(spool_init(&sp, dir, SPOOL_DEFAULT_MAX_BYTES) == 0);
    struct spool_header bad = header(0, "http://x/\nlength: 1", 1);
    CHECK_EQ_INT(spool_write(&sp, &bad, "x", 1), -EINVAL);
    rm_rf(dir);
    rm_rf(real);
}

static void test_parse_header(void) {
    struct spool_header h;
    size_t hl;
    const char ok[] = "OTEL-PRELOAD-SPOOL 1\nlength: 5\nfuture-field: x\nsignal: metrics\n"
                      "endpoint: grpc.example:4317\n\nhello";
    REQUIRE(spool_parse_header(ok, sizeof ok - 1, &h, &hl) == 0);
    CHECK_EQ_INT(h.signal, 2);
    CHECK_EQ_U64(h.length, 5);
    CHECK_EQ_INT(hl, sizeof ok - 1 - 5);
    static const char *const bad[] = {
        "OTEL-PRELOAD-SPOOL 2\nsignal: traces\nendpoint: e\nlength: 1\n\n",
        "OTEL-PRELOAD-SPOOL 1\nsignal: spans\nendpoint: e\nlength: 1\n\n",
        "OTEL-PRELOAD-SPOOL 1\nsignal: traces\nendpoint: e\n\n",
        "OTEL-PRELOAD-SPOOL 1\nsignal: traces\nlength: 1\n\n",
        "OTEL-PRELOAD-SPOOL 1\nsignal: traces\nendpoint: e\nlength: x\n\n",
        "OTEL-PRELOAD-SPOOL 1\nsignal: traces\nendpoint: e\nlength: 1\n",
        "OTEL-PRELOAD-SPOOL 1\nsignal traces\n\n",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        test_checks++;
        if (spool_parse_header(bad[i], strlen(bad[i]), &h, &hl) != -EBADMSG)
            TEST_FAIL_("header %zu parsed", i);
    }
}

/* Four processes drain one spool at once: each batch is claimed (and
 * "sent": its name written to a pipe) exactly once. */
static void test_concurrent_drainers(void) {
    char dir[300];
    fresh_dir(dir, sizeof dir, "many");
    struct spool sp;
    REQUIRE(spool_init(&sp, dir, SPOOL_DEFAULT_MAX_BYTES) == 0);
    enum { BATCHES = 200, DRAINERS = 4 };
    for (int i = 0; i < BATCHES; i++) {
        struct spool_header h = header(0, "http://x/v1/traces", 1);
        REQUIRE(spool_write(&sp, &h, &i, sizeof i) == 0);
    }
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    pid_t kids[DRAINERS];
    for (int k = 0; k < DRAINERS; k++) {
        kids[k] = fork();
        if (kids[k] == 0) {
            close(fds[0]);
            struct spool mine;
            if (spool_init(&mine, dir, SPOOL_DEFAULT_MAX_BYTES)) _exit(2);
            static struct spool_entry e[BATCHES];
            for (int round = 0; round < 50; round++) {
                size_t n;
                if (spool_list(&mine, e, BATCHES, &n, NULL) || !n) break;
                for (size_t i = 0; i < n; i++) {
                    char claimed[SPOOL_NAME_MAX + 32];
                    if (spool_claim(&mine, e[i].name, claimed, sizeof claimed)) continue;
                    struct spool_header h;
                    uint8_t *b;
                    if (spool_read(&mine, claimed, &h, &b)) _exit(3);
                    int v;
                    memcpy(&v, b, sizeof v);
                    free(b);
                    if (write(fds[1], &v, sizeof v) != sizeof v) _exit(4);
                    if (spool_remove(&mine, claimed)) _exit(5);
                }
            }
            _exit(0);
        }
    }
    close(fds[1]);
    int seen[BATCHES] = {0}, v, got = 0;
    while (read(fds[0], &v, sizeof v) == sizeof v) {
        if (v >= 0 && v < BATCHES) seen[v]++;
        got++;
    }
    close(fds[0]);
    for (int k = 0; k < DRAINERS; k++) {
        int st;
        waitpid(kids[k], &st, 0);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    CHECK_EQ_INT(got, BATCHES);
    for (int i = 0; i < BATCHES; i++)
        if (seen[i] != 1) TEST_FAIL_("batch %d sent %d times", i, seen[i]);
    rm_rf(dir);
}

struct sent_log {
    int n, fail_sig;
    int sig[64], val[64];
};

static int log_send(void *ctx, const struct spool_header *h, const uint8_t *body,
                    uint64_t deadline) {
    struct sent_log *l = ctx;
    (void)deadline;
    if (h->signal == l->fail_sig || l->n == 64) return -EIO;
    memcpy(&l->val[l->n], body, sizeof(int));
    l->sig[l->n++] = h->signal;
    return 0;
}

/* outbox_drain_routes: each routed signal's batches for its endpoint, once,
 * oldest first, past more than a listing's worth of another collector's;
 * an unrouted signal's left; a failing route stops its own signal only. */
static void test_drain_routes(void) {
    char dir[300], env[400];
    fresh_dir(dir, sizeof dir, "routes");
    snprintf(env, sizeof env, "OTEL_PRELOAD_SPOOL_DIR=%s", dir);
    char *envp[] = {env, NULL};
    outbox_init(envp, SPOOL_DEFAULT_MAX_BYTES);
    struct spool sp;
    REQUIRE(spool_init(&sp, dir, SPOOL_DEFAULT_MAX_BYTES) == 0);
    for (int i = 0; i < 40; i++) {
        struct spool_header h = header(0, "http://other/v1/traces", 1);
        REQUIRE(spool_write(&sp, &h, &i, sizeof i) == 0);
    }
    const char *urls[3] = {"http://x/v1/traces", "http://x/v1/logs", "http://x/v1/metrics"};
    int order[4] = {0, 1, 2, 0};
    for (int i = 0; i < 4; i++) {
        struct spool_header h = header(order[i], urls[order[i]], (uint64_t)i + 1);
        int v = 100 + i;
        REQUIRE(spool_write(&sp, &h, &v, sizeof v) == 0);
    }
    /* Names carry their endpoint's key; the first of ours gets an earlier
     * version's name, without it (its header then says). */
    static struct spool_entry all[64];
    size_t na, total_all;
    REQUIRE(spool_list(&sp, all, 64, &na, &total_all) == 0 && na == 44);
    uint32_t key0 = spool_key(urls[0], "http/protobuf");
    CHECK(all[0].keyed && all[0].key == spool_key("http://other/v1/traces", "http/protobuf"));
    CHECK(all[40].keyed && all[40].key == key0 && all[41].key != key0);
    char old_name[SPOOL_NAME_MAX], from[600], to[600];
    const char *k = strstr(all[40].name, "-traces-") - 8; /* "<key>-traces-..." */
    snprintf(old_name, sizeof old_name, "%.*s%s", (int)(k - all[40].name), all[40].name, k + 9);
    snprintf(from, sizeof from, "%s/%s", dir, all[40].name);
    snprintf(to, sizeof to, "%s/%s", dir, old_name);
    REQUIRE(rename(from, to) == 0);
    struct sent_log l = {.fail_sig = -1};
    struct outbox_route routes[SIGNAL_COUNT] = {{0}};
    routes[0] = (struct outbox_route){urls[0], OTLP_HTTP_PROTOBUF, log_send, &l};
    routes[2] = (struct outbox_route){urls[2], OTLP_HTTP_PROTOBUF, log_send, &l};
    uint64_t got[SIGNAL_COUNT];
    CHECK_EQ_INT((int)outbox_drain_routes(routes, 16, UINT64_MAX, got), 1 + 3 + 4);
    CHECK_EQ_INT(l.n, 3);
    CHECK(l.val[0] == 100 && l.val[1] == 102 && l.val[2] == 103);
    CHECK(l.sig[0] == 0 && l.sig[1] == 2 && l.sig[2] == 0);
    CHECK(got[0] == 5 && got[1] == 0 && got[2] == 3);
    /* The logs batch: its route fails (given back), then works. */
    l.fail_sig = 1;
    routes[1] = (struct outbox_route){urls[1], OTLP_HTTP_PROTOBUF, log_send, &l};
    CHECK_EQ_INT((int)outbox_drain_routes(routes, 16, UINT64_MAX, got), 0);
    l.fail_sig = -1;
    CHECK_EQ_INT((int)outbox_drain_routes(routes, 16, UINT64_MAX, got), 2);
    CHECK(l.n == 4 && l.val[3] == 101 && l.sig[3] == 1);
    struct spool_entry e[4];
    size_t n, total;
    REQUIRE(spool_list(&sp, e, 4, &n, &total) == 0);
    CHECK_EQ_INT((int)total, 40); /* the other collector's, untouched */
    rm_rf(dir);
}

int main(void) {
    snprintf(base, sizeof base, "/tmp/test_spool.%d", (int)getpid());
    if (mkdir(base, 0700) < 0) return 1;
    RUN(test_default_dir);
    RUN(test_write_read_round_trip);
    RUN(test_half_written_never_listed);
    RUN(test_stale_claims_and_temps);
    RUN(test_cap_oldest_first);
    RUN(test_cap_usage_file_and_rounds);
    RUN(test_refused_directories);
    RUN(test_parse_header);
    RUN(test_concurrent_drainers);
    RUN(test_drain_routes);
    rm_rf(base);
    return test_report("spool");
}
