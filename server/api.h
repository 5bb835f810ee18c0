/* api: the read-only HTTP API (GET /api/v1/...), the retrievers over HTTP (docs/API-HTTP.md).
 * Depends on httpd.h and retrieve.h; opens its own read connection per request. */
#ifndef OTELP_SERVER_API_H
#define OTELP_SERVER_API_H

#include "server/httpd.h"

void api_handle(const char *db_path, const struct http_request *req, struct http_response *resp);

#endif
