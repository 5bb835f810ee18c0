/* curl: libcurl through dlopen, and the connection both curl transports
 * use. See curl.h. */
#include "exporters/curl.h"

#include <curl/curl.h>
#include <dlfcn.h>
#include <link.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/diag.h"
#include "core/fds.h"
#include "core/ids.h"
#include "core/pool.h"
#include "exporters/otlp_response.h"
#include "exporters/retry.h"

/* OpenSSL 3's crypto.h: skip registering OPENSSL_cleanup with atexit; and
 * the base-only initialisation, which reports (returning 0) whether
 * OPENSSL_cleanup has already run, without raising an error. */
#define OTELP_OPENSSL_INIT_NO_ATEXIT 0x00080000L
#define OTELP_OPENSSL_INIT_BASE_ONLY 0x00040000L

static struct {
    CURLcode (*global_init)(long);
    CURL *(*init)(void);
    CURLcode (*setopt)(CURL *, CURLoption, ...);
    CURLcode (*perform)(CURL *);
    CURLcode (*getinfo)(CURL *, CURLINFO, ...);
    void (*cleanup)(CURL *);
    struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
    void (*slist_free_all)(struct curl_slist *);
    curl_version_info_data *(*version_info)(CURLversion);
} cu;
static _Atomic int state; /* 0 not tried, 1 loaded, 2 failed, 3 OpenSSL gone */
static pthread_once_t once = PTHREAD_ONCE_INIT;
static bool asynch_dns;

static int (*openssl_init)(uint64_t, const void *);

/* dl_iterate_phdr callback: whether an object of the process is
 * libcrypto.so.3. */
static int is_libcrypto(struct dl_phdr_info *info, size_t size, void *found) {
    (void)size;
    static const char name[] = "libcrypto.so.3";
    size_t n = info->dlpi_name ? strlen(info->dlpi_name) : 0, k = sizeof name - 1;
    if (n >= k && !memcmp(info->dlpi_name + n - k, name, k) &&
        (n == k || info->dlpi_name[n - k - 1] == '/'))
        *(bool *)found = true;
    return *(bool *)found;
}

/* False when we were first to initialise OpenSSL and it failed (no
 * memory): libcurl's own initialisation would then register
 * OPENSSL_cleanup with atexit, and the program's exit would free OpenSSL
 * under our export thread's feet (a crash). */
static bool openssl_no_atexit(void) {
    /* Only when nobody loaded OpenSSL yet: then we are first to initialise
     * it, and the first caller decides whether an atexit handler exists. */
    if (!dlopen) return true; /* weak: preload/abi_floor.h */
    void *h = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_NOLOAD);
    bool ours = !h;
    if (!h) h = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL);
    if (!h) return true; /* none (or no memory to load it): asked again after libcurl */
    *(void **)&openssl_init = dlsym(h, "OPENSSL_init_crypto");
    if (openssl_init && ours) return openssl_init(OTELP_OPENSSL_INIT_NO_ATEXIT, NULL) == 1;
    return true;
}

/* After libcurl is loaded: an OpenSSL that came with it (it could not be
 * loaded before) is initialised by us first, without atexit, or libcurl
 * is not used. */
static bool openssl_came_with_curl_no_atexit(void) {
    if (openssl_init || !dlopen) return true;
    bool found = false;
    dl_iterate_phdr(is_libcrypto, &found);
    if (!found) return true; /* libcurl of another TLS library */
    void *h = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_NOLOAD);
    if (h) *(void **)&openssl_init = dlsym(h, "OPENSSL_init_crypto");
    return openssl_init && openssl_init(OTELP_OPENSSL_INIT_NO_ATEXIT, NULL) == 1;
}

void curl_early(void) {
    /* A program linked with OpenSSL has it loaded by now (our constructor),
     * but not initialised: nothing initialises OpenSSL from a constructor.
     * Being first, NO_ATEXIT keeps OPENSSL_cleanup out of the program's
     * exit, so our final flush can still use TLS. Whether it is loaded is
     * asked of the loader's list first: dlopen with RTLD_NOLOAD of a
     * library that is not loaded searches the file system for it (the
     * cache mapped, the file opened and read), which every process of a
     * tree exporting over gRPC or https paid at start. */
    if (!dlopen) return; /* weak: preload/abi_floor.h */
    bool found = false;
    dl_iterate_phdr(is_libcrypto, &found);
    if (!found) return;
    void *h = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_NOLOAD);
    if (!h) return;
    int (*init)(uint64_t, const void *);
    *(void **)&init = dlsym(h, "OPENSSL_init_crypto");
    if (init) init(OTELP_OPENSSL_INIT_NO_ATEXIT, NULL);
}

/* False once OpenSSL's exit-time cleanup has run: a program that uses
 * OpenSSL itself registered it with atexit, and at exit it runs before our
 * final flush (a destructor). TLS after that would crash; libcurl's global
 * init too. */
static bool openssl_alive(void) {
    return !openssl_init || openssl_init(OTELP_OPENSSL_INIT_BASE_ONLY, NULL) == 1;
}

static void load(void) {
    if (!openssl_no_atexit()) {
        diag_warn("https and gRPC exports are off: OpenSSL could not be initialised");
        atomic_store(&state, 2);
        return;
    }
    if (!openssl_alive()) {
        atomic_store(&state, 3);
        return;
    }
    void *h = dlopen ? dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL) : NULL;
    if (h && !openssl_came_with_curl_no_atexit()) {
        diag_warn("https and gRPC exports are off: OpenSSL could not be initialised");
        atomic_store(&state, 2);
        return;
    }
    if (h) {
        *(void **)&cu.global_init = dlsym(h, "curl_global_init");
        *(void **)&cu.init = dlsym(h, "curl_easy_init");
        *(void **)&cu.setopt = dlsym(h, "curl_easy_setopt");
        *(void **)&cu.perform = dlsym(h, "curl_easy_perform");
        *(void **)&cu.getinfo = dlsym(h, "curl_easy_getinfo");
        *(void **)&cu.cleanup = dlsym(h, "curl_easy_cleanup");
        *(void **)&cu.slist_append = dlsym(h, "curl_slist_append");
        *(void **)&cu.slist_free_all = dlsym(h, "curl_slist_free_all");
        *(void **)&cu.version_info = dlsym(h, "curl_version_info");
    }
    if (!h || !cu.global_init || !cu.init || !cu.setopt || !cu.perform || !cu.getinfo ||
        !cu.cleanup || !cu.slist_append || !cu.slist_free_all || !cu.version_info ||
        cu.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        diag_warn("https and gRPC exports need libcurl (libcurl.so.4), which cannot be loaded%s%s",
                  h ? "" : ": ",
                  h          ? ""
                  : !dlerror ? "no dlopen (glibc < 2.34 without libdl)"
                             : dlerror());
        atomic_store(&state, 2);
        return;
    }
    curl_version_info_data *v = cu.version_info(CURLVERSION_NOW);
    asynch_dns = v && (v->features & CURL_VERSION_ASYNCHDNS);
    if (!asynch_dns)
        diag_debug("libcurl has no threaded resolver: name look-ups are not bounded by the "
                   "export timeout");
    if (v && !(v->features & CURL_VERSION_HTTP2))
        diag_warn("libcurl %s has no HTTP/2: OTLP/gRPC cannot work", v->version);
    atomic_store(&state, 1);
}

int curl_load(void) {
    if (pthread_once)
        pthread_once(&once, load);
    else if (atomic_load(&state) == 0)
        load(); /* glibc before 2.34 without libpthread: one thread */
    int s = atomic_load(&state);
    return s == 1 ? 0 : s == 3 ? -ESHUTDOWN : -ENOSYS;
}

bool curl_loaded(void) {
    return atomic_load(&state) == 1;
}

char *curl_concat(const char *a, const char *b, const char *c) {
    size_t la = a ? strlen(a) : 0, lb = b ? strlen(b) : 0, lc = c ? strlen(c) : 0;
    char *d = pool_alloc(la + lb + lc + 1);
    if (!d) return NULL;
    if (la) memcpy(d, a, la);
    if (lb) memcpy(d + la, b, lb);
    if (lc) memcpy(d + la + lb, c, lc);
    d[la + lb + lc] = '\0';
    return d;
}

/* Strings live as long as the process (pool.h: no malloc at start). */
static char *dup_opt(const char *s, bool *fail) {
    if (!s) return NULL;
    char *d = curl_concat(s, NULL, NULL);
    if (!d) *fail = true;
    return d;
}

int curl_conn_init(struct curl_conn *c, const char *url, const char *headers,
                   const char *more_headers, bool grpc, const struct otlp_config *cfg) {
    memset(c, 0, sizeof *c);
    for (int i = 0; i < CURL_CONN_MAX_FDS; i++)
        c->fds[i] = -1;
    bool fail = false;
    c->url = dup_opt(url, &fail);
    c->headers = curl_concat(headers, more_headers, NULL);
    if (!c->headers) fail = true;
    c->ca = dup_opt(cfg->certificate, &fail);
    c->cert = dup_opt(cfg->client_certificate, &fail);
    c->key = dup_opt(cfg->client_key, &fail);
    c->grpc = grpc;
    c->insecure = cfg->insecure;
    return fail ? -ENOMEM : 0;
}

/* ---- callbacks ---- */

static curl_socket_t open_socket(void *ctx, curlsocktype purpose, struct curl_sockaddr *a) {
    struct curl_conn *c = ctx;
    (void)purpose;
    /* High, out of the way of the program's numbers (core/fds.h; libcurl
     * keeps the number, so it is not moved when the program names it). */
    int fd = fd_move_high(socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol));
    if (fd < 0) return CURL_SOCKET_BAD;
    for (int i = 0; i < CURL_CONN_MAX_FDS; i++)
        if (c->fds[i] < 0) {
            c->fds[i] = fd;
            break;
        }
    return fd;
}

static int close_socket(void *ctx, curl_socket_t fd) {
    struct curl_conn *c = ctx;
    for (int i = 0; i < CURL_CONN_MAX_FDS; i++)
        if (c->fds[i] == fd) c->fds[i] = -1;
    return close(fd);
}

static size_t on_body(char *p, size_t size, size_t n, void *ctx) {
    struct curl_conn *c = ctx;
    struct transport_result *r = c->res;
    size_t len = size * n;
    c->total += len;
    if (c->total > TRANSPORT_MAX_RESPONSE) {
        c->too_big = true;
        return 0; /* aborts the transfer */
    }
    size_t room = r->body_cap - r->body_len;
    size_t take = len < room ? len : room;
    if (take) {
        memcpy(r->body + r->body_len, p, take);
        r->body_len += take;
    }
    return len;
}

/* Header and trailer lines ("name: value\r\n"). */
static size_t on_header(char *p, size_t size, size_t n, void *ctx) {
    struct curl_conn *c = ctx;
    struct transport_result *r = c->res;
    size_t len = size * n;
    c->got_header = true;
    char line[4096];
    size_t l = len < sizeof line - 1 ? len : sizeof line - 1;
    memcpy(line, p, l);
    while (l && (line[l - 1] == '\n' || line[l - 1] == '\r'))
        l--;
    line[l] = '\0';
    char *colon = strchr(line, ':');
    if (!colon) return len;
    *colon = '\0';
    char *v = colon + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    if (!strcasecmp(line, "retry-after")) {
        int64_t s = retry_after_parse(v, (int64_t)(clock_now_ns() / 1000000000u));
        if (s >= 0) r->server_delay_ms = s * 1000;
    } else if (c->grpc && !strcasecmp(line, "grpc-status")) {
        int code = grpc_status_parse(v); /* atoi of 20 digits is undefined */
        r->grpc_status = code >= 0 ? code : GRPC_UNKNOWN;
    } else if (c->grpc && !strcasecmp(line, "grpc-message")) {
        grpc_message_decode(v, strlen(v), r->message, sizeof r->message);
    } else if (c->grpc && !strcasecmp(line, "grpc-status-details-bin")) {
        int64_t delay;
        if (grpc_retry_info(v, strlen(v), &delay)) {
            r->retry_info = true;
            if (delay >= 0) r->server_delay_ms = delay;
        }
    }
    return len;
}

static void *make_easy(struct curl_conn *c) {
    CURL *h = cu.init();
    if (!h) return NULL;
    cu.setopt(h, CURLOPT_URL, c->url);
    cu.setopt(h, CURLOPT_NOSIGNAL, 1L);
    cu.setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    /* CURLOPT_PROTOCOLS (its number, 181: the name is deprecated) for
     * libcurl older than 7.85. */
    if (cu.setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK)
        cu.setopt(h, (CURLoption)181, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
    cu.setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)TRANSPORT_MAX_RESPONSE);
    cu.setopt(h, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    cu.setopt(h, CURLOPT_OPENSOCKETDATA, c);
    cu.setopt(h, CURLOPT_CLOSESOCKETFUNCTION, close_socket);
    cu.setopt(h, CURLOPT_CLOSESOCKETDATA, c);
    cu.setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    cu.setopt(h, CURLOPT_WRITEDATA, c);
    cu.setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    cu.setopt(h, CURLOPT_HEADERDATA, c);
    cu.setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
    cu.setopt(h, CURLOPT_TCP_NODELAY, 1L);
    cu.setopt(h, CURLOPT_HTTP_VERSION,
              c->grpc ? (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE : (long)CURL_HTTP_VERSION_1_1);
    cu.setopt(h, CURLOPT_SSL_VERIFYPEER, c->insecure ? 0L : 1L);
    cu.setopt(h, CURLOPT_SSL_VERIFYHOST, c->insecure ? 0L : 2L);
    if (c->ca) cu.setopt(h, CURLOPT_CAINFO, c->ca);
    if (c->cert) cu.setopt(h, CURLOPT_SSLCERT, c->cert);
    if (c->key) cu.setopt(h, CURLOPT_SSLKEY, c->key);
    return h;
}

static int map_error(CURLcode rc, bool too_big) {
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
        return -ECONNREFUSED;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return -ENONET; /* retry_error_text: the name did not resolve */
    case CURLE_OPERATION_TIMEDOUT:
        return -ETIMEDOUT;
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return -ECONNRESET;
    case CURLE_WRITE_ERROR:
        return too_big ? -E2BIG : -EIO;
    case CURLE_FILESIZE_EXCEEDED:
        return -E2BIG;
    case CURLE_OUT_OF_MEMORY:
        return -ENOMEM;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_USE_SSL_FAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
        return -EKEYREJECTED; /* never retried: TLS does not fix itself */
    default:
        return -EPROTO;
    }
}

int curl_conn_post(struct curl_conn *c, const struct transport_request *req, const char *extra,
                   uint64_t deadline, struct transport_result *res) {
    if (req->in_signal) return -EAGAIN; /* libcurl is not async-signal-safe */
    uint64_t now = clock_mono_ns();
    if (now >= deadline) return -ETIMEDOUT;
    int loaded = curl_load();
    if (loaded < 0) return loaded;
    if (!openssl_alive()) {
        snprintf(res->message, sizeof res->message,
                 "the program's exit already cleaned up OpenSSL");
        return -ESHUTDOWN;
    }
    if (!c->easy && !(c->easy = make_easy(c))) return -ENOMEM;
    struct curl_slist *list = NULL;
    bool fail = false;
    for (int pass = 0; pass < 2; pass++) {
        const char *p = pass ? extra : c->headers;
        while (p && *p) {
            const char *e = strstr(p, "\r\n");
            size_t n = e ? (size_t)(e - p) : strlen(p);
            char line[2048];
            if (n < sizeof line) {
                memcpy(line, p, n);
                line[n] = '\0';
                struct curl_slist *l = cu.slist_append(list, line);
                if (!l)
                    fail = true;
                else
                    list = l;
            }
            p += n + (e ? 2 : 0);
        }
    }
    if (fail) {
        cu.slist_free_all(list);
        return -ENOMEM;
    }
    long ms = (long)((deadline - now + 999999) / 1000000);
    CURL *h = c->easy;
    cu.setopt(h, CURLOPT_HTTPHEADER, list);
    cu.setopt(h, CURLOPT_POST, 1L);
    cu.setopt(h, CURLOPT_POSTFIELDS, (const char *)req->body);
    cu.setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->len);
    cu.setopt(h, CURLOPT_TIMEOUT_MS, ms);
    cu.setopt(h, CURLOPT_CONNECTTIMEOUT_MS, ms);
    c->res = res;
    /* libcurl's resolver thread inherits this mask: it never takes one of
     * the program's signals. */
    sigset_t all, old;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &old); /* per thread: preload/abi_floor.h */
    CURLcode rc;
    for (int attempt = 0;; attempt++) {
        c->total = 0;
        c->too_big = c->got_header = false;
        c->errbuf[0] = '\0';
        res->body_len = 0;
        rc = cu.perform(h);
        long connects = 1;
        cu.getinfo(h, CURLINFO_NUM_CONNECTS, &connects);
        /* A reused connection that failed before any answer (the server
         * closed it meanwhile, or an HTTP/2 session in a bad state): once
         * more on a fresh connection, like http.c. */
        bool stale = rc != CURLE_OK && rc != CURLE_OPERATION_TIMEDOUT && !connects &&
                     !c->got_header && !c->too_big;
        if (!stale || attempt) break;
        cu.setopt(h, CURLOPT_FRESH_CONNECT, 1L);
    }
    cu.setopt(h, CURLOPT_FRESH_CONNECT, 0L);
    sigprocmask(SIG_SETMASK, &old, NULL);
    cu.setopt(h, CURLOPT_HTTPHEADER, NULL);
    cu.slist_free_all(list);
    c->res = NULL;
    if (rc != CURLE_OK) {
        if (c->errbuf[0] && !res->message[0])
            snprintf(res->message, sizeof res->message, "%.159s", c->errbuf);
        return map_error(rc, c->too_big);
    }
    long status = 0, version = 0;
    cu.getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    cu.getinfo(h, CURLINFO_HTTP_VERSION, &version);
    res->http_status = (int)status;
    if (c->grpc && version != CURL_HTTP_VERSION_2_0) {
        snprintf(res->message, sizeof res->message, "the server did not speak HTTP/2");
        return -EPROTO;
    }
    return 0;
}

void curl_conn_after_fork(struct curl_conn *c) {
    for (int i = 0; i < CURL_CONN_MAX_FDS; i++)
        if (c->fds[i] >= 0) {
            close(c->fds[i]);
            c->fds[i] = -1;
        }
    c->easy = NULL; /* the parent's handle: never touched again */
}
