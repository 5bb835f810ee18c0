/* web: the dashboard's pages, live feed and API paths (docs/DASHBOARD.md). Depends on httpd,
 * retrieve, query, sbuf, SQLite, pthreads.
 *
 * The live feed: one poller thread looks at the store every LIVE_POLL_MS through its own
 * read connection (PRAGMA data_version tells whether any
 * other connection committed; then the rows past the last ids seen; with no page listening
 * it only moves its marks). What changed becomes
 * one Server-Sent Event per kind (runs, spans, logs, metrics) in a ring of LIVE_RING events;
 * each open page's stream thread sends what it has not sent yet. A page that falls more than
 * the ring behind gets a "reset" and fetches again. Polling the store rather than hooking the
 * receiver also shows what another process (an `otel-preload run` of its own) wrote.
 */
#include "server/web.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "server/query.h"
#include "server/retrieve.h"
#include "server/sbuf.h"

#define LIVE_POLL_MS 100
#define LIVE_RING 64
#define LIVE_PING_MS 15000
#define FLAT_MAX 50000
#define RUNS_MAX 5000
#define OPEN_RUNS_MAX 256

struct live_event {
    uint64_t seq;
    char *text;
    size_t len;
};

struct web {
    char *db_path;
    char assets[PATH_MAX];
    char token[256];
    bool loopback;
    pthread_mutex_t lock;
    pthread_cond_t news;   /* a new event, or stopping */
    pthread_cond_t listen; /* a page started listening, or stopping */
    pthread_t poller;
    bool poller_started, stopping;
    int listeners;
    uint64_t seq; /* of the newest event */
    struct live_event ring[LIVE_RING];
    /* the poller's own state */
    sqlite3 *db;
    int64_t data_version;
    int64_t last_span, last_log, last_point, last_run;
};

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void json_error(struct http_response *resp, int status, const char *msg) {
    struct sbuf b = {0};
    sbuf_puts(&b, "{\"error\":");
    sbuf_json_str(&b, msg, strlen(msg));
    sbuf_puts(&b, "}\n");
    http_respond(resp, status, "application/json", b.data, b.len);
    sbuf_free(&b);
}

static void respond_sbuf(struct http_response *resp, struct sbuf *b) {
    if (b->failed)
        json_error(resp, 500, "out of memory");
    else
        http_respond(resp, 200, "application/json", b->data, b->len);
}

/* ---- assets ------------------------------------------------------------ */

static const struct asset {
    const char *path, *file, *type;
} ASSETS[] = {
    {"/", "index.html", "text/html; charset=utf-8"},
    {"/index.html", "index.html", "text/html; charset=utf-8"},
    {"/boot.js", "boot.js", "text/javascript; charset=utf-8"},
    {"/app.js", "app.js", "text/javascript; charset=utf-8"},
    {"/util.js", "util.js", "text/javascript; charset=utf-8"},
    {"/waterfall.js", "waterfall.js", "text/javascript; charset=utf-8"},
    {"/logs.js", "logs.js", "text/javascript; charset=utf-8"},
    {"/metrics.js", "metrics.js", "text/javascript; charset=utf-8"},
    {"/style.css", "style.css", "text/css; charset=utf-8"},
    {"/uPlot.iife.min.js", "uPlot.iife.min.js", "text/javascript; charset=utf-8"},
    {"/uPlot.min.css", "uPlot.min.css", "text/css; charset=utf-8"},
};

static const char SECURITY_HEADERS[] =
    "X-Content-Type-Options: nosniff\r\n"
    "X-Frame-Options: DENY\r\n"
    "Referrer-Policy: no-referrer\r\n"
    "Content-Security-Policy: default-src 'self'; style-src 'self' 'unsafe-inline';"
    " img-src 'self' data:; frame-ancestors 'none'\r\n";

const char *web_find_assets(char *buf, size_t cap) {
    const char *env = getenv("OTEL_PRELOAD_WEB_DIR");
    if (env != NULL && env[0] != '\0') {
        snprintf(buf, cap, "%s", env);
        return buf;
    }
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0) return NULL;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash == NULL) return NULL;
    *slash = '\0';
    static const char *const rel[] = {"/web", "/../share/otel-preload/web"};
    for (size_t i = 0; i < 2; i++) {
        char probe[PATH_MAX + 64];
        snprintf(probe, sizeof(probe), "%s%s/index.html", self, rel[i]);
        if (access(probe, R_OK) == 0 && strlen(self) + strlen(rel[i]) < cap) {
            snprintf(buf, cap, "%s%s", self, rel[i]);
            return buf;
        }
    }
    return NULL;
}

static bool serve_asset(struct web *w, const struct http_request *req, struct http_response *resp) {
    const struct asset *a = NULL;
    for (size_t i = 0; i < sizeof(ASSETS) / sizeof(ASSETS[0]); i++)
        if (strcmp(req->path, ASSETS[i].path) == 0) a = &ASSETS[i];
    if (a == NULL) return false;
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
        json_error(resp, 405, "use GET");
        return true;
    }
    char path[PATH_MAX + 64];
    snprintf(path, sizeof(path), "%s/%s", w->assets, a->file);
    FILE *f = w->assets[0] ? fopen(path, "rb") : NULL;
    if (f == NULL) {
        static const char msg[] =
            "the dashboard's files are not installed (build the web target, or set"
            " OTEL_PRELOAD_WEB_DIR)\n";
        http_respond(resp, 404, "text/plain", msg, sizeof(msg) - 1);
        return true;
    }
    struct sbuf b = {0};
    char chunk[16384];
    size_t got;
    while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
        sbuf_add(&b, chunk, got);
    fclose(f);
    http_respond(resp, b.failed ? 500 : 200, a->type, b.data, b.len);
    sbuf_free(&b);
    snprintf(resp->headers, sizeof(resp->headers), "%sCache-Control: no-cache\r\n",
             SECURITY_HEADERS);
    return true;
}

/* ---- request checks ------------------------------------------------------ */

static bool same_secret(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    unsigned diff = (unsigned)(la ^ lb);
    for (size_t i = 0; i < la; i++)
        diff |= (unsigned)(unsigned char)a[i] ^ (unsigned char)b[i % (lb ? lb : 1)];
    return diff == 0 && la == lb;
}

/* The value of cookie `name` in a Cookie header, copied into out. */
static bool cookie_value(const char *cookies, const char *name, char *out, size_t cap) {
    size_t nl = strlen(name);
    for (const char *p = cookies; p && *p;) {
        while (*p == ' ' || *p == ';')
            p++;
        const char *end = strchr(p, ';');
        if (end == NULL) end = p + strlen(p);
        if ((size_t)(end - p) > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
            size_t vl = (size_t)(end - p) - nl - 1;
            if (vl >= cap) return false;
            memcpy(out, p + nl + 1, vl);
            out[vl] = '\0';
            return true;
        }
        p = end;
    }
    return false;
}

static bool loopback_host(const char *host) {
    char h[256];
    snprintf(h, sizeof(h), "%s", host);
    char *end = h;
    if (h[0] == '[') { /* [::1]:port */
        char *close = strchr(h, ']');
        if (close == NULL) return false;
        *close = '\0';
        return strcmp(h + 1, "::1") == 0;
    }
    if ((end = strchr(h, ':')) != NULL) *end = '\0';
    for (char *c = h; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    if (strcmp(h, "localhost") == 0 ||
        (strlen(h) > 10 && strcmp(h + strlen(h) - 10, ".localhost") == 0))
        return true;
    return http_addr_is_loopback(h) && strchr(h, '.') != NULL;
}

bool web_admit(struct web *w, const struct http_request *req, struct http_response *resp) {
    if (w->loopback && req->host[0] != '\0' && !loopback_host(req->host)) {
        json_error(resp, 403,
                   "this server listens on loopback: the Host header must name it (localhost,"
                   " 127.0.0.1)");
        return false;
    }
    bool read = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
    if (!read) {
        const char *site = req->sec_fetch_site;
        if (site[0] != '\0' && strcmp(site, "same-origin") != 0 && strcmp(site, "none") != 0) {
            json_error(resp, 403, "cross-origin writes are refused");
            return false;
        }
        if (req->origin[0] != '\0') {
            char want[300];
            snprintf(want, sizeof(want), "http://%s", req->host);
            if (req->host[0] == '\0' || strcasecmp(req->origin, want) != 0) {
                json_error(resp, 403, "cross-origin writes are refused");
                return false;
            }
        }
    }
    if (w->token[0] == '\0') return true;
    /* OTLP from this machine needs no token (`otel-preload run`'s programs have none) */
    if (req->peer_loopback && strncmp(req->path, "/v1/", 4) == 0) return true;
    char given[300] = "";
    bool have = false;
    if (strncasecmp(req->authorization, "Bearer ", 7) == 0) {
        snprintf(given, sizeof(given), "%s", req->authorization + 7);
        have = true;
    } else if (cookie_value(req->cookie, "otelp_token", given, sizeof(given))) {
        have = true;
    }
    if (have && same_secret(given, w->token)) return true;
    /* The first page load: ?token= sets the cookie and drops the token from the address. */
    char qt[300];
    bool page = strcmp(req->path, "/") == 0 || strcmp(req->path, "/index.html") == 0;
    if (page && read && http_query_param(req->query, "token", qt, sizeof(qt)) == 0 &&
        same_secret(qt, w->token)) {
        http_respond(resp, 302, "text/plain", "", 0);
        snprintf(resp->headers, sizeof(resp->headers),
                 "Location: /\r\nSet-Cookie: otelp_token=%s; Path=/; HttpOnly;"
                 " SameSite=Strict\r\n",
                 w->token);
        return false;
    }
    json_error(resp, 401,
               "a token is needed: Authorization: Bearer TOKEN, or open the page once with"
               " ?token=TOKEN");
    snprintf(resp->headers, sizeof(resp->headers), "WWW-Authenticate: Bearer\r\n");
    return false;
}

/* ---- runs ------------------------------------------------------------------ */

/* The command: the launcher's argv, else the root span's name. The service: of a run
 * (`otel-preload run`), the launcher's first child's (the command's); of a trace, its
 * root's. Both kept on the run at write time (runs.root_name, runs.service: server/store.c),
 * so the list reads the runs table alone. */
static const char RUN_COLS[] =
    "r.id, r.trace_id, r.kind, coalesce(r.command, r.root_name), r.service, r.start_ns, r.end_ns,"
    " r.exit_code, r.signal, r.span_count, r.process_count, r.error_count, r.crash_count,"
    " r.log_count, r.pinned, r.cwd";

/* Appends the prefix ("" or one character) and v in decimal, without printf (the runs
 * list and the flat rows write thousands). */
static void add_int(struct sbuf *b, const char *prefix, long long v) {
    char tmp[24], *p = tmp + sizeof(tmp);
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) *--p = '-';
    if (prefix[0]) *--p = prefix[0];
    sbuf_add(b, p, (size_t)(tmp + sizeof(tmp) - p));
}

/* One run as JSON, its keys in RUN_COLS' order. Without printf: /api/v1/runs writes 1,000. */
static void run_row_json(sqlite3_stmt *st, struct sbuf *b) {
    static const char *const keys[] = {
        "{\"id\":",          ",\"trace_id\":",   ",\"kind\":",          ",\"command\":",
        ",\"service\":",     ",\"start_ns\":",   ",\"end_ns\":",        ",\"exit_code\":",
        ",\"signal\":",      ",\"span_count\":", ",\"process_count\":", ",\"error_count\":",
        ",\"crash_count\":", ",\"log_count\":",  ",\"pinned\":",        ",\"cwd\":"};
    for (int i = 0; i < 16; i++) {
        sbuf_puts(b, keys[i]);
        int t = sqlite3_column_type(st, i);
        if (t == SQLITE_NULL) {
            sbuf_add(b, "null", 4);
        } else if (t == SQLITE_INTEGER) {
            add_int(b, "", (long long)sqlite3_column_int64(st, i));
        } else {
            sbuf_json_str(b, (const char *)sqlite3_column_text(st, i),
                          (size_t)sqlite3_column_bytes(st, i));
        }
    }
    sbuf_add(b, "}", 1);
}

/* A filter text (span grammar) compiled for "EXISTS (... spans s ...)". */
struct span_filter {
    struct query *q;
    struct query_sql sql;
    bool on;
};

static int span_filter_parse(const char *where, struct span_filter *f, char *err, size_t cap) {
    memset(f, 0, sizeof(*f));
    if (where == NULL || where[0] == '\0') return 0;
    struct query_error qe;
    if (query_parse(where, QUERY_SPANS, &f->q, &qe) < 0 ||
        query_compile_sql(f->q, "s", &f->sql, &qe) < 0) {
        char caret[600] = "";
        if (qe.column > 0) query_error_caret(where, &qe, caret, sizeof(caret));
        snprintf(err, cap, "%s%s%s", qe.message, caret[0] ? "\n" : "", caret);
        query_free(f->q);
        f->q = NULL;
        return -EINVAL;
    }
    f->on = true;
    return 0;
}

static void span_filter_free(struct span_filter *f) {
    if (f->on) query_sql_free(&f->sql);
    query_free(f->q);
}

static void handle_runs(struct web *w, const struct http_request *req, struct http_response *resp) {
    char where[2048] = "", sort[32] = "time", val[64], ids[1024] = "", err[800];
    if (http_query_param(req->query, "where", where, sizeof(where)) == -ENAMETOOLONG) {
        json_error(resp, 400, "where: longer than 2 KiB");
        return;
    }
    http_query_param(req->query, "sort", sort, sizeof(sort));
    http_query_param(req->query, "ids", ids, sizeof(ids));
    long long limit = 200;
    if (http_query_param(req->query, "limit", val, sizeof(val)) == 0) {
        char *end;
        limit = strtoll(val, &end, 10);
        if (*end != '\0' || limit <= 0) {
            json_error(resp, 400, "limit: a positive number");
            return;
        }
        if (limit > RUNS_MAX) limit = RUNS_MAX;
    }
    const char *order;
    if (strcmp(sort, "time") == 0)
        order = "r.start_ns DESC, r.id DESC";
    else if (strcmp(sort, "duration") == 0)
        order = "coalesce(r.end_ns, r.start_ns) - r.start_ns DESC, r.id DESC";
    else if (strcmp(sort, "failures") == 0)
        order = "r.error_count + r.crash_count DESC, r.start_ns DESC";
    else if (strcmp(sort, "processes") == 0)
        order = "r.process_count DESC, r.start_ns DESC";
    else {
        json_error(resp, 400, "sort: time, duration, failures or processes");
        return;
    }
    struct span_filter f;
    if (span_filter_parse(where, &f, err, sizeof(err)) != 0) {
        json_error(resp, 400, err);
        return;
    }
    struct sbuf sql = {0};
    sbuf_printf(&sql, "SELECT %s FROM runs r WHERE 1", RUN_COLS);
    if (ids[0] != '\0') { /* "1,2,3" */
        sbuf_puts(&sql, " AND r.id IN (0");
        for (char *c = ids, *end; *c; c = *end ? end + 1 : end) {
            long long id = strtoll(c, &end, 10);
            if (end == c || (*end != ',' && *end != '\0')) {
                json_error(resp, 400, "ids: run numbers separated by commas");
                span_filter_free(&f);
                sbuf_free(&sql);
                return;
            }
            sbuf_printf(&sql, ",%lld", id);
        }
        sbuf_puts(&sql, ")");
    }
    if (f.on)
        sbuf_printf(&sql, " AND EXISTS (SELECT 1 FROM spans s WHERE s.run_id = r.id AND (%s))",
                    f.sql.text);
    sbuf_printf(&sql, " ORDER BY %s LIMIT %lld", order, limit);
    sqlite3 *db = retrieve_open(w->db_path, err, sizeof(err));
    if (db == NULL) {
        /* no store yet: nothing has been received */
        http_respond(resp, 200, "application/json", "[]\n", 3);
        span_filter_free(&f);
        sbuf_free(&sql);
        return;
    }
    sqlite3_stmt *st;
    if (sql.failed || sqlite3_prepare_v2(db, sbuf_cstr(&sql), -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, sizeof(err), "query failed: %s", sqlite3_errmsg(db));
        json_error(resp, 500, err);
    } else {
        if (f.on) query_sql_bind(&f.sql, st, 1);
        struct sbuf b = {0};
        sbuf_puts(&b, "[");
        for (int n = 0; sqlite3_step(st) == SQLITE_ROW; n++) {
            if (n) sbuf_puts(&b, ",\n");
            run_row_json(st, &b);
        }
        sbuf_puts(&b, "]\n");
        sqlite3_finalize(st);
        respond_sbuf(resp, &b);
        sbuf_free(&b);
    }
    sqlite3_close(db);
    span_filter_free(&f);
    sbuf_free(&sql);
}

/* ---- one trace: flat rows and span detail -------------------------------- */

static int64_t trace_run_id(sqlite3 *db, const char *trace) {
    sqlite3_stmt *st;
    int64_t id = 0;
    if (sqlite3_prepare_v2(db, "SELECT id FROM runs WHERE trace_id = ?1", -1, &st, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_text(st, 1, trace, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) id = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    return id;
}

/* Index of s in the name table (appended when new). A linear table with a small hash. */
struct names {
    char **v;
    size_t n, cap;
    size_t *hash; /* open addressing, index+1 */
    size_t hcap;
};

static uint64_t fnv(const char *s) {
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static long names_index(struct names *t, const char *s) {
    if (t->n * 2 >= t->hcap) {
        size_t ncap = t->hcap ? t->hcap * 2 : 256;
        size_t *nh = calloc(ncap, sizeof(*nh));
        if (nh == NULL) return -1;
        for (size_t i = 0; i < t->n; i++) {
            size_t k = fnv(t->v[i]) & (ncap - 1);
            while (nh[k])
                k = (k + 1) & (ncap - 1);
            nh[k] = i + 1;
        }
        free(t->hash);
        t->hash = nh;
        t->hcap = ncap;
    }
    size_t k = fnv(s) & (t->hcap - 1);
    while (t->hash[k]) {
        if (strcmp(t->v[t->hash[k] - 1], s) == 0) return (long)t->hash[k] - 1;
        k = (k + 1) & (t->hcap - 1);
    }
    if (t->n == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 64;
        char **nv = realloc(t->v, nc * sizeof(*nv));
        if (nv == NULL) return -1;
        t->v = nv;
        t->cap = nc;
    }
    char *copy = strdup(s);
    if (copy == NULL) return -1;
    t->v[t->n] = copy;
    t->hash[k] = t->n + 1;
    return (long)t->n++;
}

static void names_free(struct names *t) {
    for (size_t i = 0; i < t->n; i++)
        free(t->v[i]);
    free(t->v);
    free(t->hash);
}

/* Appends ",N": the flat rows' hot path. */
static void put_int(struct sbuf *b, long long v) {
    add_int(b, ",", v);
}

static void col_int_or_null(struct sbuf *b, sqlite3_stmt *st, int i) {
    if (sqlite3_column_type(st, i) == SQLITE_NULL)
        sbuf_add(b, ",null", 5);
    else
        put_int(b, (long long)sqlite3_column_int64(st, i));
}

/* The span ids of a trace that have log records (one query instead of one per span). */
static void spans_with_logs(sqlite3 *db, const char *trace, struct names *set) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db,
                           "SELECT DISTINCT span_id FROM logs WHERE trace_id = ?1 AND span_id IS"
                           " NOT NULL",
                           -1, &st, NULL) != SQLITE_OK)
        return;
    sqlite3_bind_text(st, 1, trace, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW)
        names_index(set, (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
}

static bool names_has(const struct names *t, const char *s) {
    if (t->hcap == 0) return false;
    size_t k = fnv(s) & (t->hcap - 1);
    while (t->hash[k]) {
        if (strcmp(t->v[t->hash[k] - 1], s) == 0) return true;
        k = (k + 1) & (t->hcap - 1);
    }
    return false;
}

static void handle_flat(sqlite3 *db, const char *trace, const struct http_request *req,
                        struct http_response *resp) {
    char val[64];
    long long after = 0, limit = FLAT_MAX;
    if (http_query_param(req->query, "after", val, sizeof(val)) == 0)
        after = strtoll(val, NULL, 10);
    if (http_query_param(req->query, "limit", val, sizeof(val)) == 0) {
        limit = strtoll(val, NULL, 10);
        if (limit <= 0 || limit > FLAT_MAX) limit = FLAT_MAX;
    }
    /* With its run known, the run's index yields the rows in id order (no sort). */
    int64_t run = trace_run_id(db, trace);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db,
                           run > 0 ? "SELECT s.id, s.span_id, s.parent_span_id, s.name, s.start_ns,"
                                     " s.duration_ns, s.pid, s.exit_code, s.signal, s.status_code,"
                                     " coalesce(s.service_name, ''), s.kind, s.ppid FROM spans s"
                                     " WHERE s.run_id = ?4 AND s.trace_id = ?1 AND s.id > ?2"
                                     " ORDER BY s.id LIMIT ?3"
                                   : "SELECT s.id, s.span_id, s.parent_span_id, s.name, s.start_ns,"
                                     " s.duration_ns, s.pid, s.exit_code, s.signal, s.status_code,"
                                     " coalesce(s.service_name, ''), s.kind, s.ppid FROM spans s"
                                     " WHERE s.trace_id = ?1 AND s.id > ?2 ORDER BY s.id LIMIT ?3",
                           -1, &st, NULL) != SQLITE_OK) {
        json_error(resp, 500, sqlite3_errmsg(db));
        return;
    }
    sqlite3_bind_text(st, 1, trace, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, after);
    sqlite3_bind_int64(st, 3, limit + 1);
    if (run > 0) sqlite3_bind_int64(st, 4, run);
    struct names logged = {0};
    spans_with_logs(db, trace, &logged);
    struct sbuf rows = {0};
    struct names names = {0};
    long long n = 0, max_id = after;
    bool more = false;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (n == limit) {
            more = true;
            break;
        }
        long long id = sqlite3_column_int64(st, 0);
        if (id > max_id) max_id = id;
        const char *name = (const char *)sqlite3_column_text(st, 3);
        const char *sid = (const char *)sqlite3_column_text(st, 1);
        long ni = names_index(&names, name ? name : "");
        long si = names_index(&names, (const char *)sqlite3_column_text(st, 10));
        sbuf_printf(&rows, "%s[%lld,\"", n ? ",\n" : "", id);
        sbuf_add(&rows, sid, strnlen(sid, 16));
        if (sqlite3_column_type(st, 2) == SQLITE_NULL) {
            sbuf_add(&rows, "\",null", 6);
        } else {
            sbuf_add(&rows, "\",\"", 3);
            const char *psid = (const char *)sqlite3_column_text(st, 2);
            sbuf_add(&rows, psid, strnlen(psid, 16));
            sbuf_add(&rows, "\"", 1);
        }
        /* start in microseconds (exact in a double), duration in nanoseconds */
        put_int(&rows, ni);
        put_int(&rows, (long long)(sqlite3_column_int64(st, 4) / 1000));
        put_int(&rows, (long long)sqlite3_column_int64(st, 5));
        col_int_or_null(&rows, st, 6);
        col_int_or_null(&rows, st, 7);
        col_int_or_null(&rows, st, 8);
        put_int(&rows, sqlite3_column_int(st, 9));
        put_int(&rows, names_has(&logged, sid) ? 1 : 0);
        put_int(&rows, si);
        put_int(&rows, sqlite3_column_int(st, 11));
        col_int_or_null(&rows, st, 12);
        sbuf_add(&rows, "]", 1);
        n++;
    }
    sqlite3_finalize(st);
    names_free(&logged);
    struct sbuf b = {0};
    sbuf_printf(&b,
                "{\"trace_id\":\"%s\",\"run_id\":%lld,\"max_id\":%lld,\"more\":%s,"
                "\"columns\":[\"id\",\"span_id\",\"parent_span_id\",\"name\",\"start_us\","
                "\"duration_ns\",\"pid\",\"exit_code\",\"signal\",\"status\",\"has_logs\","
                "\"service\",\"kind\",\"ppid\"],\"names\":[",
                trace, (long long)run, max_id, more ? "true" : "false");
    for (size_t i = 0; i < names.n; i++) {
        if (i) sbuf_add(&b, ",", 1);
        sbuf_json_str(&b, names.v[i], strlen(names.v[i]));
    }
    sbuf_puts(&b, "],\"spans\":[\n");
    sbuf_add(&b, rows.data, rows.len);
    sbuf_puts(&b, "]}\n");
    if (rows.failed) b.failed = true;
    respond_sbuf(resp, &b);
    sbuf_free(&b);
    sbuf_free(&rows);
    names_free(&names);
}

static bool is_hex(const char *s, size_t n) {
    if (strlen(s) != n) return false;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i])) return false;
    return true;
}

static void handle_span(sqlite3 *db, const char *trace, const char *sid,
                        struct http_response *resp) {
    if (!is_hex(sid, 16)) {
        json_error(resp, 400, "a span id is 16 hex digits");
        return;
    }
    char where[64], err[512];
    snprintf(where, sizeof(where), "span_id = \"%s\"", sid);
    for (char *c = where; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    struct retrieve_opts o = {.what = RETRIEVE_SPANS,
                              .format = RETRIEVE_JSON,
                              .where = where,
                              .trace_id = trace,
                              .limit = 1};
    struct sbuf span = {0}, logs = {0};
    int rc = retrieve(db, &o, &span, err, sizeof(err));
    if (rc == 0) {
        o.what = RETRIEVE_LOGS;
        o.limit = 1000;
        rc = retrieve(db, &o, &logs, err, sizeof(err));
    }
    if (rc != 0) {
        json_error(resp, rc == -EINVAL ? 400 : 500, err);
    } else if (span.len < 4) { /* "[]\n" */
        json_error(resp, 404, "no such span in this trace");
    } else {
        struct sbuf b = {0};
        /* the spans array holds one object: strip the brackets */
        const char *s = sbuf_cstr(&span);
        const char *open = strchr(s, '{'), *close = strrchr(s, '}');
        sbuf_puts(&b, "{\"span\":");
        sbuf_add(&b, open, (size_t)(close - open) + 1);
        sbuf_puts(&b, ",\"logs\":");
        sbuf_add(&b, logs.data, logs.len);
        sbuf_puts(&b, "}\n");
        respond_sbuf(resp, &b);
        sbuf_free(&b);
    }
    sbuf_free(&span);
    sbuf_free(&logs);
}

static void handle_trace(struct web *w, const char *rest, const struct http_request *req,
                         struct http_response *resp) {
    /* rest: "ID/flat" or "ID/spans/SID" */
    char id[80];
    const char *slash = strchr(rest, '/');
    if (slash == NULL || (size_t)(slash - rest) >= sizeof(id)) {
        json_error(resp, 404, "unknown trace path");
        return;
    }
    memcpy(id, rest, (size_t)(slash - rest));
    id[slash - rest] = '\0';
    char err[512], trace[33];
    sqlite3 *db = retrieve_open(w->db_path, err, sizeof(err));
    if (db == NULL) {
        json_error(resp, 404, err);
        return;
    }
    int rc = retrieve_resolve_trace(db, id, trace, err, sizeof(err));
    if (rc != 0)
        json_error(resp, rc == -ENOENT ? 404 : 400, err);
    else if (strcmp(slash, "/flat") == 0)
        handle_flat(db, trace, req, resp);
    else if (strncmp(slash, "/spans/", 7) == 0)
        handle_span(db, trace, slash + 7, resp);
    else
        json_error(resp, 404, "unknown trace path: /api/v1/traces/ID/flat, .../spans/SPAN_ID");
    sqlite3_close(db);
}

/* ---- views (the documents' register_view) ------------------------------- */

static const char VIEWS_SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS views (id INTEGER PRIMARY KEY, metric TEXT NOT NULL,"
    " chart TEXT NOT NULL, created_ns INTEGER NOT NULL) STRICT";

static bool chart_ok(const char *c) {
    return strcmp(c, "line") == 0 || strcmp(c, "bars") == 0 || strcmp(c, "heatmap") == 0;
}

static void handle_views(struct web *w, const struct http_request *req,
                         struct http_response *resp) {
    char err[512];
    const char *p = req->path + strlen("/api/v1/views");
    if (strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0) {
        sqlite3 *db = retrieve_open(w->db_path, err, sizeof(err));
        sqlite3_stmt *st;
        struct sbuf b = {0};
        sbuf_puts(&b, "[");
        if (db != NULL && sqlite3_prepare_v2(db,
                                             "SELECT id, metric, chart, created_ns FROM views"
                                             " ORDER BY id",
                                             -1, &st, NULL) == SQLITE_OK) {
            for (int n = 0; sqlite3_step(st) == SQLITE_ROW; n++) {
                sbuf_printf(&b, "%s{\"id\":%lld,\"metric\":", n ? "," : "",
                            (long long)sqlite3_column_int64(st, 0));
                sbuf_json_str(&b, (const char *)sqlite3_column_text(st, 1),
                              (size_t)sqlite3_column_bytes(st, 1));
                sbuf_puts(&b, ",\"chart\":");
                sbuf_json_str(&b, (const char *)sqlite3_column_text(st, 2),
                              (size_t)sqlite3_column_bytes(st, 2));
                sbuf_printf(&b, ",\"created_ns\":%lld}", (long long)sqlite3_column_int64(st, 3));
            }
            sqlite3_finalize(st);
        }
        sqlite3_close(db);
        sbuf_puts(&b, "]\n");
        respond_sbuf(resp, &b);
        sbuf_free(&b);
        return;
    }
    bool post = strcmp(req->method, "POST") == 0, del = strcmp(req->method, "DELETE") == 0;
    if (!post && !del) {
        json_error(resp, 405, "views: GET, POST or DELETE");
        return;
    }
    char metric[256] = "", chart[32] = "line";
    long long id = 0;
    if (post) {
        /* metric=NAME&chart=line|bars|heatmap, in the query or a form body */
        char body[1024] = "";
        if (req->body_len < sizeof(body)) memcpy(body, req->body, req->body_len);
        const char *src =
            http_query_param(req->query, "metric", metric, sizeof(metric)) == 0 ? req->query : body;
        if (src == body && http_query_param(body, "metric", metric, sizeof(metric)) != 0)
            metric[0] = '\0';
        http_query_param(src, "chart", chart, sizeof(chart));
        if (metric[0] == '\0' || !chart_ok(chart)) {
            json_error(resp, 400, "views: metric=NAME and chart=line, bars or heatmap");
            return;
        }
    } else {
        char *end;
        id = p[0] == '/' ? strtoll(p + 1, &end, 10) : 0;
        if (id <= 0 || *end != '\0') {
            json_error(resp, 400, "DELETE /api/v1/views/ID");
            return;
        }
    }
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(w->db_path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        json_error(resp, 503, "the store cannot be opened for writing");
        sqlite3_close(db);
        return;
    }
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt *st = NULL;
    bool ok = sqlite3_exec(db, VIEWS_SCHEMA, NULL, NULL, NULL) == SQLITE_OK &&
              sqlite3_prepare_v2(db,
                                 post ? "INSERT INTO views (metric, chart, created_ns) VALUES"
                                        " (?1, ?2, ?3)"
                                      : "DELETE FROM views WHERE id = ?1",
                                 -1, &st, NULL) == SQLITE_OK;
    if (ok) {
        if (post) {
            sqlite3_bind_text(st, 1, metric, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 2, chart, -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 3, now_ns());
        } else {
            sqlite3_bind_int64(st, 1, id);
        }
        ok = sqlite3_step(st) == SQLITE_DONE;
    }
    sqlite3_finalize(st);
    if (!ok) {
        snprintf(err, sizeof(err), "views: %s", sqlite3_errmsg(db));
        json_error(resp, 500, err);
    } else if (post) {
        struct sbuf b = {0};
        sbuf_printf(&b, "{\"id\":%lld,\"metric\":", (long long)sqlite3_last_insert_rowid(db));
        sbuf_json_str(&b, metric, strlen(metric));
        sbuf_printf(&b, ",\"chart\":\"%s\"}\n", chart);
        respond_sbuf(resp, &b);
        resp->status = 201;
        sbuf_free(&b);
    } else if (sqlite3_changes(db) == 0) {
        json_error(resp, 404, "no such view");
    } else {
        http_respond(resp, 204, "application/json", "", 0);
    }
    sqlite3_close(db);
}

/* ---- the live feed ------------------------------------------------------- */

static int64_t scalar(sqlite3 *db, const char *sql) {
    sqlite3_stmt *st;
    int64_t v = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    return v;
}

static void publish(struct web *w, const char *event, struct sbuf *data) {
    if (data->failed) return;
    struct sbuf b = {0};
    sbuf_printf(&b, "event: %s\ndata: ", event);
    sbuf_add(&b, data->data, data->len);
    sbuf_puts(&b, "\n\n");
    if (b.failed) {
        sbuf_free(&b);
        return;
    }
    pthread_mutex_lock(&w->lock);
    struct live_event *e = &w->ring[(w->seq + 1) % LIVE_RING];
    free(e->text);
    e->seq = ++w->seq;
    e->text = b.data;
    e->len = b.len;
    pthread_cond_broadcast(&w->news);
    pthread_mutex_unlock(&w->lock);
}

/* Adds id to a small set (kept sorted is not needed: linear, bounded). */
static void idset_add(int64_t *set, size_t *n, size_t cap, int64_t id) {
    if (id <= 0) return;
    for (size_t i = 0; i < *n; i++)
        if (set[i] == id) return;
    if (*n < cap) set[(*n)++] = id;
}

/* Publishes {"t":T,"max_id":M,"KEY":[ITEMS]} as an event of the kind. */
static void publish_list(struct web *w, const char *kind, int64_t t_ms, int64_t max_id,
                         const char *key, const struct sbuf *items) {
    struct sbuf e = {0};
    sbuf_printf(&e, "{\"t\":%lld,\"max_id\":%lld,\"%s\":[", (long long)t_ms, (long long)max_id,
                key);
    sbuf_add(&e, items->data, items->len);
    sbuf_puts(&e, "]}");
    publish(w, kind, &e);
    sbuf_free(&e);
}

static void poll_once(struct web *w) {
    if (w->db == NULL) {
        char err[512];
        w->db = retrieve_open(w->db_path, err, sizeof(err));
        if (w->db == NULL) return;
        /* what is there already is fetched by the pages; only news from here on */
        w->last_span = scalar(w->db, "SELECT max(id) FROM spans");
        w->last_log = scalar(w->db, "SELECT max(id) FROM logs");
        w->last_point = scalar(w->db, "SELECT max(id) FROM metric_points");
        w->last_run = scalar(w->db, "SELECT max(id) FROM runs");
        w->data_version = scalar(w->db, "PRAGMA data_version");
        return;
    }
    int64_t dv = scalar(w->db, "PRAGMA data_version");
    if (dv == w->data_version) return;
    w->data_version = dv;
    int64_t t_ms = now_ns() / 1000000;
    int64_t runs[OPEN_RUNS_MAX];
    size_t n_runs = 0;
    sqlite3_stmt *st;
    /* spans, per trace */
    if (sqlite3_prepare_v2(w->db,
                           "SELECT trace_id, run_id, count(*), max(id) FROM spans WHERE id > ?1"
                           " GROUP BY trace_id LIMIT 200",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, w->last_span);
        struct sbuf d = {0};
        int64_t max_id = w->last_span;
        int n = 0;
        for (; sqlite3_step(st) == SQLITE_ROW; n++) {
            int64_t run = sqlite3_column_int64(st, 1), mx = sqlite3_column_int64(st, 3);
            if (mx > max_id) max_id = mx;
            idset_add(runs, &n_runs, OPEN_RUNS_MAX, run);
            sbuf_printf(&d, "%s{\"trace_id\":\"%.32s\",\"run_id\":%lld,\"n\":%lld}", n ? "," : "",
                        (const char *)sqlite3_column_text(st, 0), (long long)run,
                        (long long)sqlite3_column_int64(st, 2));
        }
        sqlite3_finalize(st);
        if (n > 0) {
            publish_list(w, "spans", t_ms, max_id, "traces", &d);
            w->last_span = max_id; /* not a fresh max(id): what came since is news next time */
        }
        sbuf_free(&d);
    }
    /* logs */
    if (sqlite3_prepare_v2(w->db,
                           "SELECT run_id, count(*), max(id) FROM logs WHERE id > ?1"
                           " GROUP BY run_id LIMIT 200",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, w->last_log);
        int64_t max_id = w->last_log, total = 0;
        while (sqlite3_step(st) == SQLITE_ROW) {
            idset_add(runs, &n_runs, OPEN_RUNS_MAX, sqlite3_column_int64(st, 0));
            total += sqlite3_column_int64(st, 1);
            if (sqlite3_column_int64(st, 2) > max_id) max_id = sqlite3_column_int64(st, 2);
        }
        sqlite3_finalize(st);
        if (total > 0) {
            struct sbuf e = {0};
            sbuf_printf(&e, "{\"t\":%lld,\"max_id\":%lld,\"n\":%lld}", (long long)t_ms,
                        (long long)max_id, (long long)total);
            publish(w, "logs", &e);
            sbuf_free(&e);
            w->last_log = max_id;
        }
    }
    /* metric points, per name */
    if (sqlite3_prepare_v2(w->db,
                           "SELECT name, count(*), max(id) FROM metric_points WHERE id > ?1"
                           " GROUP BY name LIMIT 500",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, w->last_point);
        struct sbuf d = {0};
        int64_t max_id = w->last_point;
        int n = 0;
        for (; sqlite3_step(st) == SQLITE_ROW; n++) {
            if (sqlite3_column_int64(st, 2) > max_id) max_id = sqlite3_column_int64(st, 2);
            if (n) sbuf_add(&d, ",", 1);
            sbuf_json_str(&d, (const char *)sqlite3_column_text(st, 0),
                          (size_t)sqlite3_column_bytes(st, 0));
        }
        sqlite3_finalize(st);
        if (n > 0) {
            publish_list(w, "metrics", t_ms, max_id, "names", &d);
            w->last_point = max_id;
        }
        sbuf_free(&d);
    }
    /* runs: new ones, open ones, and those that got records */
    if (sqlite3_prepare_v2(w->db,
                           "SELECT id FROM runs WHERE id > ?1 OR end_ns IS NULL"
                           " ORDER BY id DESC LIMIT 128",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, w->last_run);
        while (sqlite3_step(st) == SQLITE_ROW)
            idset_add(runs, &n_runs, OPEN_RUNS_MAX, sqlite3_column_int64(st, 0));
        sqlite3_finalize(st);
    }
    if (n_runs > 0) {
        struct sbuf sql = {0};
        sbuf_printf(&sql, "SELECT %s FROM runs r WHERE r.id IN (", RUN_COLS);
        for (size_t i = 0; i < n_runs; i++)
            sbuf_printf(&sql, "%s%lld", i ? "," : "", (long long)runs[i]);
        sbuf_puts(&sql, ") ORDER BY r.id");
        if (!sql.failed && sqlite3_prepare_v2(w->db, sbuf_cstr(&sql), -1, &st, NULL) == SQLITE_OK) {
            struct sbuf e = {0};
            sbuf_printf(&e, "{\"t\":%lld,\"runs\":[", (long long)t_ms);
            for (int n = 0; sqlite3_step(st) == SQLITE_ROW; n++) {
                if (n) sbuf_add(&e, ",", 1);
                run_row_json(st, &e);
                if (sqlite3_column_int64(st, 0) > w->last_run)
                    w->last_run = sqlite3_column_int64(st, 0);
            }
            sqlite3_finalize(st);
            sbuf_puts(&e, "]}");
            publish(w, "runs", &e);
            sbuf_free(&e);
        }
        sbuf_free(&sql);
    }
}

/* Nobody listens: only move the marks, so a page that comes gets news from its "hello" on.
 * Moved only if still nobody listens once they are read: a page that came meanwhile (its
 * hello sent, what it fetched maybe older than these marks) gets news from the old marks. */
static void poll_marks(struct web *w) {
    int64_t dv = scalar(w->db, "PRAGMA data_version");
    if (dv == w->data_version) return;
    int64_t span = scalar(w->db, "SELECT max(id) FROM spans");
    int64_t log = scalar(w->db, "SELECT max(id) FROM logs");
    int64_t point = scalar(w->db, "SELECT max(id) FROM metric_points");
    int64_t run = scalar(w->db, "SELECT max(id) FROM runs");
    pthread_mutex_lock(&w->lock);
    bool alone = w->listeners == 0;
    pthread_mutex_unlock(&w->lock);
    if (!alone) return;
    w->data_version = dv;
    w->last_span = span;
    w->last_log = log;
    w->last_point = point;
    w->last_run = run;
}

static void *poller_main(void *arg) {
    struct web *w = arg;
    pthread_mutex_lock(&w->lock);
    while (!w->stopping) {
        bool listened = w->listeners > 0;
        pthread_mutex_unlock(&w->lock);
        if (w->db != NULL && !listened)
            poll_marks(w);
        else
            poll_once(w);
        pthread_mutex_lock(&w->lock);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += LIVE_POLL_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        if (!w->stopping) pthread_cond_timedwait(&w->listen, &w->lock, &until);
    }
    pthread_mutex_unlock(&w->lock);
    sqlite3_close(w->db);
    w->db = NULL;
    return NULL;
}

static void live_stream(void *ctx, struct http_stream *s) {
    struct web *w = ctx;
    pthread_mutex_lock(&w->lock);
    if (w->stopping) {
        pthread_mutex_unlock(&w->lock);
        return;
    }
    w->listeners++;
    uint64_t sent = w->seq;
    pthread_mutex_unlock(&w->lock);
    char hello[96];
    int hn = snprintf(hello, sizeof(hello), "retry: 1000\nevent: hello\ndata: {\"t\":%lld}\n\n",
                      (long long)(now_ns() / 1000000));
    bool ok = http_stream_write(s, hello, (size_t)hn);
    int64_t idle_ms = 0;
    while (ok) {
        pthread_mutex_lock(&w->lock);
        if (w->seq == sent && !w->stopping) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += 1;
            pthread_cond_timedwait(&w->news, &w->lock, &until);
        }
        if (w->stopping) {
            pthread_mutex_unlock(&w->lock);
            break;
        }
        /* copy out what this page has not had, then write without the lock */
        struct sbuf out = {0};
        if (w->seq - sent > LIVE_RING - 1) {
            sbuf_puts(&out, "event: reset\ndata: {}\n\n");
            sent = w->seq;
        }
        for (; sent < w->seq; sent++) {
            struct live_event *e = &w->ring[(sent + 1) % LIVE_RING];
            sbuf_add(&out, e->text, e->len);
        }
        pthread_mutex_unlock(&w->lock);
        if (out.len > 0) {
            ok = http_stream_write(s, out.data, out.len);
            idle_ms = 0;
        } else {
            idle_ms += 1000;
            if (http_stream_closed(s, 0)) ok = false;
            if (ok && idle_ms >= LIVE_PING_MS) {
                ok = http_stream_write(s, ": ping\n\n", 8);
                idle_ms = 0;
            }
        }
        sbuf_free(&out);
    }
    pthread_mutex_lock(&w->lock);
    w->listeners--;
    pthread_mutex_unlock(&w->lock);
}

/* ---- dispatch ------------------------------------------------------------ */

bool web_handle(struct web *w, const struct http_request *req, struct http_response *resp) {
    const char *p = req->path;
    bool read = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
    if (strncmp(p, "/api/", 5) != 0) return serve_asset(w, req, resp);
    if (strcmp(p, "/api/v1/views") == 0 || strncmp(p, "/api/v1/views/", 14) == 0) {
        handle_views(w, req, resp);
        return true;
    }
    if (!read) return false;
    if (strcmp(p, "/api/v1/live") == 0) {
        resp->status = 200;
        snprintf(resp->content_type, sizeof(resp->content_type), "text/event-stream");
        resp->stream = live_stream;
        resp->stream_ctx = w;
        return true;
    }
    if (strcmp(p, "/api/v1/runs") == 0) {
        handle_runs(w, req, resp);
        return true;
    }
    if (strncmp(p, "/api/v1/traces/", 15) == 0 && strchr(p + 15, '/') != NULL) {
        handle_trace(w, p + 15, req, resp);
        return true;
    }
    return false;
}

struct web *web_new(const char *db_path, const struct web_options *o) {
    struct web *w = calloc(1, sizeof(*w));
    if (w == NULL) return NULL;
    w->db_path = strdup(db_path);
    if (w->db_path == NULL) {
        free(w);
        errno = ENOMEM;
        return NULL;
    }
    if (o->asset_dir != NULL)
        snprintf(w->assets, sizeof(w->assets), "%s", o->asset_dir);
    else if (web_find_assets(w->assets, sizeof(w->assets)) == NULL)
        w->assets[0] = '\0';
    if (o->token != NULL) snprintf(w->token, sizeof(w->token), "%s", o->token);
    w->loopback = o->loopback;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->news, NULL);
    pthread_cond_init(&w->listen, NULL);
    int e = pthread_create(&w->poller, NULL, poller_main, w);
    if (e != 0) {
        web_free(w);
        errno = e;
        return NULL;
    }
    w->poller_started = true;
    return w;
}

void web_stop(struct web *w) {
    if (w == NULL) return;
    pthread_mutex_lock(&w->lock);
    w->stopping = true;
    pthread_cond_broadcast(&w->news);
    pthread_cond_broadcast(&w->listen);
    pthread_mutex_unlock(&w->lock);
}

void web_free(struct web *w) {
    if (w == NULL) return;
    web_stop(w);
    if (w->poller_started) pthread_join(w->poller, NULL);
    for (size_t i = 0; i < LIVE_RING; i++)
        free(w->ring[i].text);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->news);
    pthread_cond_destroy(&w->listen);
    free(w->db_path);
    free(w);
}
