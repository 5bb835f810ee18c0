/* summary: what `otel-preload run` prints when the command ends. Depends on cli.h,
 * server/retrieve.h.
 *
 * Read from the store after the command ended: the process tree (spans
 * with a pid; a process's parent is the nearest process span above it),
 * where children of one parent that share a name collapse into one line
 * ("cc x 36, 41 ms median, max 190 ms"); wall and CPU time; the slowest
 * programs; every failed program with its exit code (the first 20);
 * crashes with their stacks; error log lines; and where to look further.
 * Every list is bounded, so a 10,000-process build prints a screenful.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "server/retrieve.h"
#include "server/sbuf.h"

#define TREE_LINES 40
#define LIST_ITEMS 5
#define FAILED_ITEMS 20
#define STACK_LINES 12

struct proc {
    char span_id[17], parent[17];
    char *name;
    int64_t start, dur, pid;
    int64_t exit_code, sig;
    bool has_exit, has_sig, is_process, is_root;
    int up;                    /* index of the nearest process above, -1: none */
    int first_child, next_sib; /* process tree, -1: none */
};

struct ctx {
    struct proc *p;
    int n;
    int lines, hidden;
    struct sbuf *out;
};

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_dur_desc(const void *a, const void *b, void *arg) {
    const struct proc *p = arg;
    int x = *(const int *)a, y = *(const int *)b;
    return p[x].dur > p[y].dur ? -1 : p[x].dur < p[y].dur;
}

static bool failed(const struct proc *x) {
    return x->has_sig || (x->has_exit && x->exit_code != 0);
}

static int count_desc(struct ctx *c, int i, int depth) {
    int n = 0;
    if (depth > 256) return 0;
    for (int k = c->p[i].first_child; k >= 0; k = c->p[k].next_sib)
        n += 1 + count_desc(c, k, depth + 1);
    return n;
}

static void tree(struct ctx *c, int i, int depth) {
    struct proc *p = c->p;
    char d[32];
    if (c->lines >= TREE_LINES) {
        c->hidden++;
        return;
    }
    retrieve_duration(p[i].dur, d, sizeof(d));
    sbuf_printf(c->out, "  %*s%s  %s", depth * 2, "", p[i].name, d);
    if (p[i].has_sig)
        sbuf_printf(c->out, "  killed by signal %lld", (long long)p[i].sig);
    else if (p[i].has_exit && p[i].exit_code != 0)
        sbuf_printf(c->out, "  exit %lld", (long long)p[i].exit_code);
    sbuf_add(c->out, "\n", 1);
    c->lines++;
    if (depth > 32) return;
    /* children grouped by name, in order of first start */
    int kids[4096], nk = 0;
    for (int k = p[i].first_child; k >= 0 && nk < 4096; k = p[k].next_sib)
        kids[nk++] = k;
    bool done[4096] = {false};
    for (int a = 0; a < nk; a++) {
        if (done[a]) continue;
        int same = 0;
        for (int b = a; b < nk; b++)
            if (!done[b] && strcmp(p[kids[a]].name, p[kids[b]].name) == 0) same++;
        if (same < 3) {
            for (int b = a; b < nk; b++)
                if (!done[b] && strcmp(p[kids[a]].name, p[kids[b]].name) == 0) {
                    done[b] = true;
                    tree(c, kids[b], depth + 1);
                }
            continue;
        }
        int64_t *durs = malloc((size_t)same * sizeof(*durs));
        int nf = 0, m = 0, desc = 0;
        for (int b = a; b < nk; b++)
            if (!done[b] && strcmp(p[kids[a]].name, p[kids[b]].name) == 0) {
                done[b] = true;
                if (durs) durs[m++] = p[kids[b]].dur;
                if (failed(&p[kids[b]])) nf++;
                desc += count_desc(c, kids[b], 0);
            }
        if (c->lines >= TREE_LINES) {
            c->hidden += same;
            free(durs);
            continue;
        }
        char med[32] = "?", max[32] = "?";
        if (durs != NULL) {
            qsort(durs, (size_t)m, sizeof(*durs), cmp_i64);
            retrieve_duration(durs[m / 2], med, sizeof(med));
            retrieve_duration(durs[m - 1], max, sizeof(max));
        }
        free(durs);
        sbuf_printf(c->out, "  %*s%s x %d, %s median, max %s", (depth + 1) * 2, "", p[kids[a]].name,
                    same, med, max);
        if (nf > 0) sbuf_printf(c->out, ", %d failed", nf);
        if (desc > 0) sbuf_printf(c->out, " (+%d programs they ran)", desc);
        sbuf_add(c->out, "\n", 1);
        c->lines++;
    }
}

static const char *signame(int64_t s) {
    const char *n = s > 0 && s < 65 ? sigabbrev_np((int)s) : NULL;
    return n ? n : "?";
}

int summary_print(const char *db_path, int64_t run_id, bool json) {
    char err[512];
    sqlite3 *db = retrieve_open(db_path, err, sizeof(err));
    if (db == NULL) {
        cli_error("no summary: %s", err);
        return -EIO;
    }
    sqlite3_stmt *st;
    char trace[33] = "", *command = NULL;
    int64_t start = 0, end = 0, code = 0, sig = 0;
    bool has_sig = false;
    if (sqlite3_prepare_v2(db,
                           "SELECT trace_id, command, start_ns, end_ns, exit_code, signal FROM"
                           " runs WHERE id = ?1",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, run_id);
        if (sqlite3_step(st) == SQLITE_ROW) {
            snprintf(trace, sizeof(trace), "%s", sqlite3_column_text(st, 0));
            const char *cmdj = (const char *)sqlite3_column_text(st, 1);
            command = strdup(cmdj ? cmdj : "[]");
            start = sqlite3_column_int64(st, 2);
            end = sqlite3_column_int64(st, 3);
            code = sqlite3_column_int64(st, 4);
            has_sig = sqlite3_column_type(st, 5) != SQLITE_NULL;
            sig = sqlite3_column_int64(st, 5);
        }
        sqlite3_finalize(st);
    }
    if (trace[0] == '\0') {
        sqlite3_close(db);
        free(command);
        cli_error("no summary: run %lld is not in %s", (long long)run_id, db_path);
        return -ENOENT;
    }

    /* every span of the trace: processes, and the threads between them */
    struct proc *p = NULL;
    int n = 0, cap = 0;
    double cpu = -1;
    if (sqlite3_prepare_v2(
            db,
            "SELECT span_id, coalesce(parent_span_id, ''), name, start_ns, duration_ns, pid,"
            " exit_code, signal, (SELECT value FROM span_attrs a WHERE a.span_id = s.id AND"
            " a.key = 'otel_preload.run.cpu_time') FROM spans s WHERE trace_id = ?1"
            " ORDER BY start_ns",
            -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, trace, -1, SQLITE_STATIC);
        while (sqlite3_step(st) == SQLITE_ROW && n < 1000000) {
            if (n == cap) {
                int nc = cap ? cap * 2 : 256;
                struct proc *q = realloc(p, (size_t)nc * sizeof(*q));
                if (q == NULL) break;
                p = q;
                cap = nc;
            }
            struct proc *x = &p[n++];
            memset(x, 0, sizeof(*x));
            snprintf(x->span_id, sizeof(x->span_id), "%s", sqlite3_column_text(st, 0));
            snprintf(x->parent, sizeof(x->parent), "%s", sqlite3_column_text(st, 1));
            const char *nm = (const char *)sqlite3_column_text(st, 2);
            x->name = strdup(nm ? nm : "?");
            x->start = sqlite3_column_int64(st, 3);
            x->dur = sqlite3_column_int64(st, 4);
            x->is_process = sqlite3_column_type(st, 5) != SQLITE_NULL;
            x->pid = sqlite3_column_int64(st, 5);
            if ((x->has_exit = sqlite3_column_type(st, 6) != SQLITE_NULL))
                x->exit_code = sqlite3_column_int64(st, 6);
            if ((x->has_sig = sqlite3_column_type(st, 7) != SQLITE_NULL))
                x->sig = sqlite3_column_int64(st, 7);
            if (sqlite3_column_type(st, 8) != SQLITE_NULL) {
                x->is_root = x->is_process = true; /* the launcher's own span */
                cpu = sqlite3_column_double(st, 8);
            }
            if (x->name == NULL) x->name = strdup("?");
            x->first_child = x->next_sib = x->up = -1;
        }
        sqlite3_finalize(st);
    }
    /* nearest process above each span: parent chains through the span-id index */
    size_t hcap = 16;
    while (hcap < (size_t)n * 2)
        hcap *= 2;
    int *slots = malloc(hcap * sizeof(int));
    int nproc = 0, nfailed = 0, ncrash = 0;
    if (slots != NULL) {
        for (size_t k = 0; k < hcap; k++)
            slots[k] = -1;
        for (int i = 0; i < n; i++) {
            uint64_t h = 14695981039346656037ULL;
            for (int k = 0; p[i].span_id[k]; k++)
                h = (h ^ (unsigned char)p[i].span_id[k]) * 1099511628211ULL;
            size_t s = h & (hcap - 1);
            while (slots[s] >= 0)
                s = (s + 1) & (hcap - 1);
            slots[s] = i;
        }
        for (int i = 0; i < n; i++) {
            if (!p[i].is_process) continue;
            nproc += p[i].is_root ? 0 : 1;
            if (!p[i].is_root && failed(&p[i])) nfailed++;
            if (!p[i].is_root && p[i].has_sig) ncrash++;
            const char *par = p[i].parent;
            for (int hops = 0; par[0] && hops < 10000; hops++) {
                uint64_t h = 14695981039346656037ULL;
                for (int k = 0; par[k]; k++)
                    h = (h ^ (unsigned char)par[k]) * 1099511628211ULL;
                size_t s = h & (hcap - 1);
                int found = -1;
                while (slots[s] >= 0) {
                    if (strcmp(p[slots[s]].span_id, par) == 0) {
                        found = slots[s];
                        break;
                    }
                    s = (s + 1) & (hcap - 1);
                }
                if (found < 0) break;
                if (p[found].is_process) {
                    p[i].up = found;
                    break;
                }
                par = p[found].parent;
            }
        }
        /* children lists in start order */
        for (int i = n - 1; i >= 0; i--)
            if (p[i].is_process && p[i].up >= 0) {
                p[i].next_sib = p[p[i].up].first_child;
                p[p[i].up].first_child = i;
            }
    }
    free(slots);

    struct sbuf out = {0};
    char wall[32], cpus[32];
    retrieve_duration(end - start, wall, sizeof(wall));
    retrieve_duration(cpu < 0 ? 0 : (int64_t)(cpu * 1e9), cpus, sizeof(cpus));
    int *order = malloc((size_t)(n > 0 ? n : 1) * sizeof(int));
    int no = 0;
    for (int i = 0; order && i < n; i++)
        if (p[i].is_process && !p[i].is_root) order[no++] = i;
    if (order) qsort_r(order, (size_t)no, sizeof(int), cmp_dur_desc, p);

    if (json) {
        sbuf_printf(&out, "{\"run\":%lld,\"trace_id\":\"%s\",\"command\":%s,", (long long)run_id,
                    trace, command);
        if (has_sig)
            sbuf_printf(&out, "\"signal\":%lld,", (long long)sig);
        else
            sbuf_printf(&out, "\"exit_code\":%lld,", (long long)code);
        sbuf_printf(&out, "\"wall_ns\":%lld,\"cpu_ns\":%lld,\"processes\":%d,\"spans\":%d,",
                    (long long)(end - start), (long long)(cpu < 0 ? 0 : cpu * 1e9), nproc, n);
        sbuf_puts(&out, "\"slowest\":[");
        for (int k = 0; k < no && k < LIST_ITEMS; k++) {
            struct proc *x = &p[order[k]];
            sbuf_printf(&out, "%s{\"name\":", k ? "," : "");
            sbuf_json_str(&out, x->name, strlen(x->name));
            sbuf_printf(&out, ",\"pid\":%lld,\"duration_ns\":%lld}", (long long)x->pid,
                        (long long)x->dur);
        }
        sbuf_puts(&out, "],\"failed\":[");
        int k2 = 0;
        for (int i = 0; i < n; i++) {
            struct proc *x = &p[i];
            if (!x->is_process || x->is_root || !failed(x)) continue;
            sbuf_printf(&out, "%s{\"name\":", k2++ ? "," : "");
            sbuf_json_str(&out, x->name, strlen(x->name));
            sbuf_printf(&out, ",\"pid\":%lld", (long long)x->pid);
            if (x->has_exit) sbuf_printf(&out, ",\"exit_code\":%lld", (long long)x->exit_code);
            if (x->has_sig) sbuf_printf(&out, ",\"signal\":%lld", (long long)x->sig);
            sbuf_puts(&out, "}");
        }
        sbuf_puts(&out, "],\"errors\":[");
    } else {
        sbuf_printf(&out, "\notel-preload: run %lld: ", (long long)run_id);
        if (has_sig)
            sbuf_printf(&out, "killed by signal %lld (%s)", (long long)sig, signame(sig));
        else
            sbuf_printf(&out, "exit %lld", (long long)code);
        sbuf_printf(&out, ", wall %s, cpu %s, %d process%s, %d span%s\n", wall, cpus, nproc,
                    nproc == 1 ? "" : "es", n, n == 1 ? "" : "s");
        struct ctx c = {.p = p, .n = n, .out = &out};
        for (int i = 0; i < n; i++)
            if (p[i].is_process && p[i].up < 0) {
                if (p[i].is_root) {
                    /* the launcher: show what it ran directly */
                    for (int k = p[i].first_child; k >= 0; k = p[k].next_sib)
                        tree(&c, k, 0);
                } else {
                    tree(&c, i, 0);
                }
            }
        if (c.hidden > 0) sbuf_printf(&out, "  ... %d more\n", c.hidden);
        if (no > 1) {
            sbuf_puts(&out, "slowest:");
            for (int k = 0; k < no && k < LIST_ITEMS; k++) {
                char d[32];
                retrieve_duration(p[order[k]].dur, d, sizeof(d));
                sbuf_printf(&out, "%s %s %s (pid %lld)", k ? "," : "", p[order[k]].name, d,
                            (long long)p[order[k]].pid);
            }
            sbuf_add(&out, "\n", 1);
        }
        if (nfailed > 0) {
            sbuf_printf(&out, "failed: %d\n", nfailed);
            int shown = 0;
            for (int i = 0; i < n && shown < FAILED_ITEMS; i++) {
                struct proc *x = &p[i];
                if (!x->is_process || x->is_root || !failed(x)) continue;
                shown++;
                if (x->has_sig)
                    sbuf_printf(&out, "  %s (pid %lld) killed by signal %lld (%s)\n", x->name,
                                (long long)x->pid, (long long)x->sig, signame(x->sig));
                else
                    sbuf_printf(&out, "  %s (pid %lld) exit %lld\n", x->name, (long long)x->pid,
                                (long long)x->exit_code);
            }
            if (nfailed > shown) sbuf_printf(&out, "  ... %d more\n", nfailed - shown);
        }
    }

    /* crashes' stacks and error logs: log records of the trace, ERROR and above */
    int nerr = 0;
    if (sqlite3_prepare_v2(
            db,
            "SELECT severity_number, coalesce(severity_text, ''), body, coalesce(pid, (SELECT pid"
            " FROM spans sp WHERE sp.trace_id = l.trace_id AND sp.span_id = l.span_id)), (SELECT "
            "value FROM"
            " log_attrs a WHERE a.log_id = l.id AND a.key = 'exception.stacktrace'),"
            " (SELECT count(*) FROM logs l2 WHERE l2.trace_id = ?1 AND l2.severity_number >= 17)"
            " FROM logs l WHERE trace_id = ?1 AND severity_number >= 17 ORDER BY time_ns LIMIT 10",
            -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, trace, -1, SQLITE_STATIC);
        int total = 0;
        while (sqlite3_step(st) == SQLITE_ROW) {
            const char *body = (const char *)sqlite3_column_text(st, 2);
            const char *stack = (const char *)sqlite3_column_text(st, 4);
            total = sqlite3_column_int(st, 5);
            int sev = sqlite3_column_int(st, 0);
            const char *level = sev >= 21 ? "FATAL" : "ERROR";
            if (json) {
                sbuf_printf(&out,
                            "%s{\"severity_number\":%d,\"pid\":%lld,\"body\":", nerr ? "," : "",
                            sev, (long long)sqlite3_column_int64(st, 3));
                sbuf_json_str(&out, body ? body : "", body ? strlen(body) : 0);
                if (stack) {
                    sbuf_puts(&out, ",\"stack\":");
                    sbuf_json_str(&out, stack, strlen(stack));
                }
                sbuf_puts(&out, "}");
            } else {
                if (nerr == 0) sbuf_printf(&out, "error logs: %d\n", total);
                char line[300];
                snprintf(line, sizeof(line), "%s", body ? body : "");
                line[strcspn(line, "\n")] = '\0';
                sbuf_printf(&out, "  [%s] pid %lld: %s\n", level,
                            (long long)sqlite3_column_int64(st, 3), line);
                if (stack) {
                    int lines = 0;
                    for (const char *s = stack; *s && lines < STACK_LINES; lines++) {
                        size_t len = strcspn(s, "\n");
                        sbuf_printf(&out, "      %.*s\n", (int)len, s);
                        s += len + (s[len] == '\n');
                    }
                }
            }
            nerr++;
        }
        if (!json && total > nerr) sbuf_printf(&out, "  ... %d more\n", total - nerr);
        sqlite3_finalize(st);
    }
    if (json) {
        sbuf_puts(&out, "]}\n");
    } else {
        sbuf_printf(&out,
                    "more: otel-preload traces show %lld | otel-preload spans --trace %lld |"
                    " otel-preload logs --trace %lld",
                    (long long)run_id, (long long)run_id, (long long)run_id);
        /* the run's metrics: long-lived programs report them */
        sqlite3_stmt *mq;
        if (sqlite3_prepare_v2(db, "SELECT 1 FROM metric_points WHERE run_id = ?1 LIMIT 1", -1, &mq,
                               NULL) == SQLITE_OK) {
            sqlite3_bind_int64(mq, 1, run_id);
            if (sqlite3_step(mq) == SQLITE_ROW)
                sbuf_printf(&out, " | otel-preload metrics --trace %lld", (long long)run_id);
            sqlite3_finalize(mq);
        }
        sbuf_puts(&out, "\n");
    }
    fputs(sbuf_cstr(&out), stderr);
    fflush(stderr);
    sbuf_free(&out);
    free(order);
    for (int i = 0; i < n; i++)
        free(p[i].name);
    free(p);
    free(command);
    sqlite3_close(db);
    return 0;
}
