/* web: the dashboard's side of the server (docs/DASHBOARD.md): its pages, the live feed
 * (Server-Sent Events), the dashboard's API paths and the request checks of a server that
 * a browser can reach. Depends on httpd.h, retrieve.h, query.h, SQLite.
 *
 * Pages are a fixed list of files read from the asset folder (the build's web/, or
 * share/otel-preload/web): nothing else on disk is served. The checks, in web_admit():
 * with a token every request needs it (Authorization: Bearer, or the cookie set by the
 * page's first load with ?token=), but OTLP (/v1/...) sent from this machine; on a loopback address
 * the Host header must be a loopback name (DNS rebinding); a write (not GET/HEAD) from another
 * origin is refused.
 */
#ifndef OTELP_SERVER_WEB_H
#define OTELP_SERVER_WEB_H

#include <stdbool.h>

#include "server/httpd.h"

struct web_options {
    const char *asset_dir; /* NULL: next to the executable (see web_find_assets) */
    const char *token;     /* NULL or "": no token */
    bool loopback;         /* listening on a loopback address */
};

struct web;

/* db_path: the store the pages read (read connections of its own). NULL with errno. */
struct web *web_new(const char *db_path, const struct web_options *o)
    __attribute__((warn_unused_result));
/* The checks for every request (OTLP and API too). false: refused, resp filled. */
bool web_admit(struct web *w, const struct http_request *req, struct http_response *resp);
/* Serves the pages and the dashboard's API paths. false: not one of its paths. */
bool web_handle(struct web *w, const struct http_request *req, struct http_response *resp);
/* Ends the live streams (call before httpd_stop, which waits for them). */
void web_stop(struct web *w);
void web_free(struct web *w);

/* The asset folder: $OTEL_PRELOAD_WEB_DIR, else <exe dir>/web, else
 * <exe dir>/../share/otel-preload/web (the first holding index.html). */
const char *web_find_assets(char *buf, size_t cap);

#endif
