/* retry: OTLP retry rules, backoff, Retry-After. See retry.h. */
#include "exporters/retry.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

const struct retry_policy retry_default_policy = {100000000u, 5000000000u, 8};

enum retry_verdict retry_http_status(int status) {
    if (status >= 200 && status <= 299) return RETRY_DELIVERED;
    if (status == 429 || status == 502 || status == 503 || status == 504) return RETRY_RETRYABLE;
    return RETRY_DROP;
}

enum retry_verdict retry_grpc_status(int code, bool has_retry_info) {
    switch (code) {
    case GRPC_OK:
        return RETRY_DELIVERED;
    case GRPC_CANCELLED:
    case GRPC_DEADLINE_EXCEEDED:
    case GRPC_ABORTED:
    case GRPC_OUT_OF_RANGE:
    case GRPC_UNAVAILABLE:
    case GRPC_DATA_LOSS:
        return RETRY_RETRYABLE;
    case GRPC_RESOURCE_EXHAUSTED:
        return has_retry_info ? RETRY_RETRYABLE : RETRY_DROP;
    default:
        return RETRY_DROP;
    }
}

enum retry_verdict retry_errno(int err) {
    switch (-err) {
    case ECONNREFUSED:
    case ECONNRESET:
    case ECONNABORTED:
    case EPIPE:
    case EHOSTUNREACH:
    case ENETUNREACH:
    case ENETDOWN:
    case ETIMEDOUT:
    case EADDRNOTAVAIL:
    case ENONET: /* the name did not resolve: DNS may come back */
        return RETRY_RETRYABLE;
    default: /* E2BIG, EPROTO, ENOMEM, EAGAIN (no resolver here), TLS errors... */
        return RETRY_DROP;
    }
}

const char *retry_error_text(int err) {
    switch (-err) {
    case ENONET:
        return "the collector's host name did not resolve";
    case EPROTO:
        return "the response is not valid HTTP (or not the protocol expected)";
    case E2BIG:
        return "the response is too large";
    case EKEYREJECTED:
        return "TLS failed (handshake or certificate verification)";
    case ECONNRESET:
        return "the connection was closed before a whole response arrived";
    case ETIMEDOUT:
        return "timed out";
    case EAGAIN:
        return "the host name needs a look-up that cannot be made here";
    default:
        return strerror(-err);
    }
}

uint64_t retry_backoff_ns(const struct retry_policy *p, unsigned attempt, uint64_t rnd) {
    uint64_t base = p->initial_ns ? p->initial_ns : 1;
    for (unsigned i = 0; i < attempt && base < p->max_ns; i++)
        base *= 2;
    if (base > p->max_ns) base = p->max_ns;
    /* base * [0.5, 1.5): the top 32 random bits pick the point. */
    uint64_t r = rnd >> 32;
    uint64_t half = base / 2;
    uint64_t wait = half + (uint64_t)(((unsigned __int128)base * r) >> 32);
    return wait ? wait : 1;
}

bool retry_next(const struct retry_policy *p, unsigned attempt, int64_t server_delay_ns,
                uint64_t now, uint64_t deadline, uint64_t rnd, uint64_t *wait_ns) {
    if (attempt + 1 >= p->max_attempts) return false;
    uint64_t wait =
        server_delay_ns >= 0 ? (uint64_t)server_delay_ns : retry_backoff_ns(p, attempt, rnd);
    if (now >= deadline || wait >= deadline - now) return false;
    *wait_ns = wait;
    return true;
}

static int month_of(const char *s) {
    static const char names[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    for (int m = 0; m < 12; m++)
        if (!strncmp(s, names + 3 * m, 3)) return m;
    return -1;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; m 0-based). */
static int64_t days_from_civil(int64_t y, int m, int d) {
    y -= m < 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t mp = (m + 10) % 12;
    int64_t doy = (153 * mp + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static bool digits(const char *s, int n, int *out) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

#define DAY_S 86400

int64_t retry_after_parse(const char *v, int64_t now) {
    while (*v == ' ' || *v == '\t')
        v++;
    if (*v >= '0' && *v <= '9') {
        int64_t s = 0;
        for (; *v >= '0' && *v <= '9'; v++)
            if (s < DAY_S) s = s * 10 + (*v - '0');
        while (*v == ' ' || *v == '\t')
            v++;
        if (*v) return -1;
        return s > DAY_S ? DAY_S : s;
    }
    /* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
    int d, y, hh, mm, ss;
    if (strlen(v) < 29 || v[3] != ',' || v[4] != ' ' || !digits(v + 5, 2, &d) || v[7] != ' ' ||
        v[11] != ' ' || !digits(v + 12, 4, &y) || v[16] != ' ' || !digits(v + 17, 2, &hh) ||
        v[19] != ':' || !digits(v + 20, 2, &mm) || v[22] != ':' || !digits(v + 23, 2, &ss) ||
        strncmp(v + 25, " GMT", 4))
        return -1;
    int m = month_of(v + 8);
    if (m < 0 || d < 1 || d > 31 || hh > 23 || mm > 59 || ss > 60) return -1;
    int64_t t = days_from_civil(y, m, d) * DAY_S + hh * 3600 + mm * 60 + ss;
    int64_t rel = t - now;
    if (rel < 0) return 0;
    return rel > DAY_S ? DAY_S : rel;
}
