/* otel-preload-copy: the init image's only program (the image is FROM
 * scratch: no shell, no cp). Copies every regular file of /otel-preload-src
 * into the directory given (the shared emptyDir), mode 0444, through a
 * temporary name and a rename, so the application never sees half a shim.
 * Built statically with musl-gcc. Depends on libc. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SRC "/otel-preload-src"

static int copy(int srcdir, int dstdir, const char *name) {
    int in = openat(srcdir, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (in < 0) return -1;
    char tmp[300];
    snprintf(tmp, sizeof tmp, ".%s.tmp", name);
    int out = openat(dstdir, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0444);
    if (out < 0) {
        close(in);
        return -1;
    }
    char buf[65536];
    ssize_t n;
    int rc = 0;
    while ((n = read(in, buf, sizeof buf)) != 0) {
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            rc = -1;
            break;
        }
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) {
                rc = -1;
                break;
            }
            off += w;
        }
        if (rc) break;
    }
    if (fchmod(out, 0444) != 0 || fsync(out) != 0) rc = -1;
    close(out);
    close(in);
    if (rc == 0 && renameat(dstdir, tmp, dstdir, name) != 0) rc = -1;
    if (rc) unlinkat(dstdir, tmp, 0);
    return rc;
}

int main(int argc, char **argv) {
    const char *src = argc > 2 ? argv[2] : SRC;
    if (argc < 2) {
        fprintf(stderr, "usage: otel-preload-copy DESTINATION [SOURCE]\n");
        return 2;
    }
    int srcdir = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int dstdir = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = srcdir >= 0 ? fdopendir(dup(srcdir)) : NULL;
    if (!d || dstdir < 0) {
        fprintf(stderr, "otel-preload-copy: cannot open %s or %s: %s\n", src, argv[1],
                strerror(errno));
        return 1;
    }
    int copied = 0, failed = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        struct stat st;
        if (fstatat(srcdir, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (copy(srcdir, dstdir, e->d_name) == 0) {
            printf("otel-preload-copy: %s/%s\n", argv[1], e->d_name);
            copied++;
        } else {
            fprintf(stderr, "otel-preload-copy: %s: %s\n", e->d_name, strerror(errno));
            failed++;
        }
    }
    closedir(d);
    return failed || !copied ? 1 : 0;
}
