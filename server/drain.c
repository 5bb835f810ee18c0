/* drain: the spool taken into the store at server start. Depends on exporters/spool.h, otlp_decode,
 * store, httpd (inflate). */
#include "server/drain.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "exporters/spool.h"
#include "server/httpd.h"

extern char **environ;

int drain_spool(struct store *st, size_t max, struct drain_result *out) {
    memset(out, 0, sizeof(*out));
    char dir[512];
    struct spool sp;
    if (spool_dir_default(dir, sizeof(dir), environ) != 0 ||
        spool_init(&sp, dir, SPOOL_DEFAULT_MAX_BYTES) != 0)
        return -ENAMETOOLONG;
    struct spool_entry entries[64];
    size_t seen = 0;
    while (seen < max) {
        size_t n = 0, total = 0;
        int rc = spool_list(&sp, entries, 64, &n, &total);
        if (rc != 0) return rc;
        size_t progress = 0;
        for (size_t i = 0; i < n && seen < max; i++) {
            seen++;
            if (entries[i].signal == 2) { /* metrics are not stored yet */
                out->skipped++;
                continue;
            }
            char claimed[SPOOL_NAME_MAX + 32];
            if (spool_claim(&sp, entries[i].name, claimed, sizeof(claimed)) != 0) continue;
            struct spool_header h;
            uint8_t *body = NULL;
            rc = spool_read(&sp, claimed, &h, &body);
            if (rc == -EBADMSG) {
                out->corrupt++;
                progress++;
                (void)spool_remove(&sp, claimed);
                continue;
            }
            if (rc != 0) {
                (void)spool_release(&sp, claimed);
                return rc;
            }
            if (strcasecmp(h.content_type, "application/x-protobuf") != 0 || h.signal == 2) {
                free(body);
                out->skipped++;
                (void)spool_release(&sp, claimed);
                continue;
            }
            uint8_t *plain = body;
            size_t plain_len = (size_t)h.length;
            if (strcasecmp(h.content_encoding, "gzip") == 0) {
                if (http_inflate(body, (size_t)h.length, &plain, &plain_len) != 0) {
                    free(body);
                    out->corrupt++;
                    (void)spool_remove(&sp, claimed);
                    continue;
                }
            }
            char err[256], msg[256];
            int64_t rejected = 0;
            int stored = -EBADMSG;
            size_t records = 0;
            if (h.signal == 0) {
                struct otlp_traces *t = otlp_traces_decode(plain, plain_len, err, sizeof(err));
                if (t != NULL) {
                    stored = store_write_traces(st, t, &rejected, msg, sizeof(msg));
                    records = otlp_traces_span_count(t);
                    otlp_traces_free(t);
                }
            } else {
                struct otlp_logs *l = otlp_logs_decode(plain, plain_len, err, sizeof(err));
                if (l != NULL) {
                    stored = store_write_logs(st, l, &rejected, msg, sizeof(msg));
                    records = otlp_logs_record_count(l);
                    otlp_logs_free(l);
                }
            }
            if (plain != body) free(plain);
            free(body);
            if (stored == -EBADMSG) {
                out->corrupt++;
                progress++;
                (void)spool_remove(&sp, claimed);
            } else if (stored != 0) {
                (void)spool_release(&sp, claimed);
                return stored;
            } else {
                out->batches++;
                out->records += records - (size_t)rejected;
                progress++;
                (void)spool_remove(&sp, claimed);
            }
        }
        if (n == total || progress == 0) break; /* all seen, or only skipped ones left */
    }
    return 0;
}
