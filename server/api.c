/* api: GET /api/v1/{spans,logs,metrics,metric-names,traces,traces/ID}: the retrievers over HTTP.
 * Depends on httpd, retrieve. */
#include "server/api.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/alerts.h"
#include "server/retrieve.h"
#include "server/sbuf.h"

static void json_error(struct http_response *resp, int status, const char *msg) {
    struct sbuf b = {0};
    sbuf_puts(&b, "{\"error\":");
    sbuf_json_str(&b, msg, strlen(msg));
    sbuf_puts(&b, "}\n");
    http_respond(resp, status, "application/json", b.data, b.len);
    sbuf_free(&b);
}

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void api_handle(const char *db_path, const struct http_request *req, struct http_response *resp) {
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
        json_error(resp, 405, "the API is read-only: use GET");
        return;
    }
    struct retrieve_opts o = {.format = RETRIEVE_JSON};
    const char *p = req->path;
    if (strcmp(p, "/api/v1/alerts") == 0) {
        char aerr[512] = "";
        sqlite3 *adb = retrieve_open(db_path, aerr, sizeof(aerr));
        if (adb == NULL) {
            json_error(resp, 503, aerr);
            return;
        }
        struct sbuf out = {0};
        int rc = alerts_json(adb, req->query, &out, aerr, sizeof(aerr));
        sqlite3_close(adb);
        if (rc != 0)
            json_error(resp, rc == -EINVAL ? 400 : 500, aerr);
        else
            http_respond(resp, 200, "application/json", out.data, out.len);
        sbuf_free(&out);
        return;
    }
    const char *tree_id = NULL;
    if (strcmp(p, "/api/v1/spans") == 0)
        o.what = RETRIEVE_SPANS;
    else if (strcmp(p, "/api/v1/logs") == 0)
        o.what = RETRIEVE_LOGS;
    else if (strcmp(p, "/api/v1/metrics") == 0 || strcmp(p, "/api/v1/metric-names") == 0)
        o.what = RETRIEVE_METRICS;
    else if (strcmp(p, "/api/v1/traces") == 0)
        o.what = RETRIEVE_TRACES;
    else if (strncmp(p, "/api/v1/traces/", 15) == 0 && p[15] != '\0')
        tree_id = p + 15;
    else {
        json_error(resp, 404,
                   "unknown API path: /api/v1/spans, /api/v1/logs, /api/v1/metrics,"
                   " /api/v1/metric-names,"
                   " /api/v1/traces, /api/v1/traces/ID, /api/v1/alerts");
        return;
    }
    char where[2048] = "", name[256] = "", trace[64] = "", val[64], fmt[16] = "";
    char err[512] = "";
    int64_t now = now_ns();
    if (http_query_param(req->query, "where", where, sizeof(where)) == -ENAMETOOLONG) {
        json_error(resp, 400, "where: longer than 2 KiB");
        return;
    }
    if (strcmp(p, "/api/v1/metric-names") != 0)
        http_query_param(req->query, "name", name, sizeof(name));
    if (o.what == RETRIEVE_METRICS && http_query_param(req->query, "agg", val, sizeof(val)) == 0 &&
        (o.agg = retrieve_metric_agg(val)) <= 0) {
        json_error(resp, 400, "agg: sum, avg, min, max, last or rate");
        return;
    }
    if (o.what == RETRIEVE_METRICS && http_query_param(req->query, "step", val, sizeof(val)) == 0 &&
        (retrieve_parse_duration(val, &o.step_ns) != 0 || o.step_ns <= 0)) {
        json_error(resp, 400, "step: a duration (10s, 1m)");
        return;
    }
    http_query_param(req->query, "trace", trace, sizeof(trace));
    http_query_param(req->query, "format", fmt, sizeof(fmt));
    o.where = where;
    o.name = name;
    o.trace_id = trace;
    if (strcmp(fmt, "csv") == 0)
        o.format = RETRIEVE_CSV;
    else if (fmt[0] != '\0' && strcmp(fmt, "json") != 0) {
        json_error(resp, 400, "format: json or csv");
        return;
    }
    static const char *const times[] = {"since", "from", "to"};
    for (int i = 0; i < 3; i++) {
        if (http_query_param(req->query, times[i], val, sizeof(val)) != 0) continue;
        int64_t t;
        if (retrieve_parse_time(val, now, &t) != 0) {
            snprintf(err, sizeof(err),
                     "%s: '%s' is not a time (2026-12-07T05:00:00Z, unix"
                     " seconds) or a duration (1h, 30m)",
                     times[i], val);
            json_error(resp, 400, err);
            return;
        }
        if (i < 2)
            o.from_ns = t;
        else
            o.to_ns = t;
    }
    if (http_query_param(req->query, "limit", val, sizeof(val)) == 0) {
        char *end;
        o.limit = strtoll(val, &end, 10);
        if (*end != '\0' || o.limit <= 0) {
            json_error(resp, 400, "limit: a positive number");
            return;
        }
    }
    if (http_query_param(req->query, "after", val, sizeof(val)) == 0) {
        char *end;
        o.after_id = strtoll(val, &end, 10);
        if (*end != '\0' || o.after_id < 0) {
            json_error(resp, 400, "after: a row id (the \"id\" of a row)");
            return;
        }
    }
    sqlite3 *db = retrieve_open(db_path, err, sizeof(err));
    if (db == NULL) {
        json_error(resp, 503, err);
        return;
    }
    struct sbuf out = {0};
    int rc = tree_id ? retrieve_trace_tree(db, tree_id, RETRIEVE_JSON, &out, err, sizeof(err))
                     : retrieve(db, &o, &out, err, sizeof(err));
    sqlite3_close(db);
    if (rc != 0)
        json_error(resp, rc == -ENOENT ? 404 : rc == -EINVAL ? 400 : 500, err);
    else
        http_respond(resp, 200, o.format == RETRIEVE_CSV ? "text/csv" : "application/json",
                     out.data, out.len);
    sbuf_free(&out);
}
