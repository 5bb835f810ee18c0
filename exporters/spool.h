/* spool: encoded export requests kept on disk, per user, until a process
 * (or the local server) can deliver them. The format, naming, the
 * write-temp-then-rename rule, claim-by-rename and the cap are the contract
 * in docs/SPOOL.md; this is its one implementation, for the shim and the
 * server alike.
 *
 * Each call opens the directory afresh (O_DIRECTORY | O_NOFOLLOW |
 * O_CLOEXEC, owner and mode checked) and works relative to it, so no
 * descriptor is kept and a directory swapped for a symlink is refused.
 * spool_write and spool_dir_default call no malloc and
 * no stdio (a dying process's signal handler may spool); the drain side
 * (spool_list, spool_claim, spool_read, ...) mallocs only in spool_read.
 * Depends on libc. */
#ifndef OTELP_EXPORTERS_SPOOL_H
#define OTELP_EXPORTERS_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SPOOL_MAGIC "OTEL-PRELOAD-SPOOL 1"
#define SPOOL_HEADER_MAX 4096
#define SPOOL_DEFAULT_MAX_BYTES (64ull << 20)
#define SPOOL_NAME_MAX 128
#define SPOOL_STALE_SECONDS 600

/* Signals as docs/SPOOL.md names them, in core/config.h's order. */
extern const char *const spool_signal_names[3];

struct spool_header {
    int signal; /* 0 traces, 1 logs, 2 metrics */
    char endpoint[1024];
    char protocol[16];         /* http/protobuf, http/json, grpc */
    char content_type[32];     /* application/x-protobuf or application/json */
    char content_encoding[16]; /* identity or gzip */
    uint64_t records, length;
};

/* A spool: where, how big, and what this process did with it. */
struct spool {
    char path[512];
    uint64_t max_bytes; /* 0: never spool */
    uint64_t written_batches, written_records;
    uint64_t evicted_batches, evicted_records; /* removed to hold the cap */
    uint64_t refused;                          /* writes refused (unusable directory, too big) */
};

/* One batch file, as its name describes it. */
struct spool_entry {
    char name[SPOOL_NAME_MAX];
    int signal;
    bool keyed;   /* the name has a <key> (earlier writers' names have none) */
    uint32_t key; /* spool_key of its endpoint and protocol */
    uint64_t records, bytes;
};

/* The <key> of a batch's name: a 32-bit hash (FNV-1a) of its protocol
 * (empty: http/protobuf), a newline and its endpoint, so that a drainer
 * passes over other endpoints' batches from the listing alone. */
uint32_t spool_key(const char *endpoint, const char *protocol);

/* The spool directory for this user (docs/SPOOL.md "Where"): from envp's
 * OTEL_PRELOAD_SPOOL_DIR, else $XDG_RUNTIME_DIR/otel-preload-spool, else
 * /tmp/otel-preload-<uid>. 0, or -ENAMETOOLONG. */
int spool_dir_default(char *out, size_t cap, char *const *envp) __attribute__((warn_unused_result));

/* Sets sp up for path (copied) and max_bytes; touches nothing on disk. */
int spool_init(struct spool *sp, const char *path, uint64_t max_bytes)
    __attribute__((warn_unused_result));

/* Writes one batch (body: len bytes, as docs/SPOOL.md says; h->length is
 * set from len) whole, then renamed into place, then enforces the cap.
 * Creates the directory (0700) when missing. 0, or a negative errno:
 * -EPERM (not ours, a symlink, or open to others), -EFBIG (larger than the
 * cap alone), -ENOSPC (max_bytes 0), ... */
int spool_write(struct spool *sp, const struct spool_header *h, const void *body, size_t len)
    __attribute__((warn_unused_result));

/* Removes the directory when it holds nothing but the usage file (which
 * goes first: a writer that finds it gone counts the batches afresh). 0, or
 * a negative errno (-ENOTEMPTY: batches or other files are there). */
int spool_prune(struct spool *sp);

/* The oldest batch files, up to max of them into out (oldest first); *n
 * their number, *total how many there are. Releases stale claims and
 * removes stale temporary files first. A missing directory is an empty
 * spool. 0 or a negative errno. */
int spool_list(struct spool *sp, struct spool_entry *out, size_t max, size_t *n, size_t *total)
    __attribute__((warn_unused_result));
/* The same, of the batch files whose names sort after `after` (NULL: all):
 * the next page of a listing. *total still counts them all. */
int spool_list_after(struct spool *sp, const char *after, struct spool_entry *out, size_t max,
                     size_t *n, size_t *total) __attribute__((warn_unused_result));

/* Claims name for this process (rename to .claim-<pid>-<name>), the claimed
 * name into claimed. -ENOENT: another drainer has it (or it went). */
int spool_claim(struct spool *sp, const char *name, char *claimed, size_t cap)
    __attribute__((warn_unused_result));

/* Reads a claimed batch: its header into h and its body into *body
 * (malloc'd, the caller frees; h->length bytes). -EBADMSG for a corrupt
 * file (the caller removes it), or another negative errno. */
int spool_read(struct spool *sp, const char *claimed, struct spool_header *h, uint8_t **body)
    __attribute__((warn_unused_result));
/* Reads an unclaimed batch's header only (a drainer learns whether it is
 * for its endpoint before claiming it): 0, -EBADMSG, or a negative errno
 * (-ENOENT: another drainer took it). */
int spool_peek(struct spool *sp, const char *name, struct spool_header *h)
    __attribute__((warn_unused_result));

/* After a success: removes the claimed batch. */
int spool_remove(struct spool *sp, const char *claimed);
/* After a failure: gives the claimed batch back (renamed to its name). */
int spool_release(struct spool *sp, const char *claimed);

/* Parses a header (text of len bytes, at least up to its empty line) into
 * h; *header_len: the bytes up to and including the empty line. 0 or
 * -EBADMSG. Exposed for tests and fuzzing. */
int spool_parse_header(const char *text, size_t len, struct spool_header *h, size_t *header_len)
    __attribute__((warn_unused_result));

#endif
