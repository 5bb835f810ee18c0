/* runtime: the runtime file of a running server. Depends on libc and loopback sockets. */
#include "server/runtime.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

const char *runtime_path(char *buf, size_t cap) {
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    int n = xdg != NULL && xdg[0] == '/'
                ? snprintf(buf, cap, "%s/otel-preload/server", xdg)
                : snprintf(buf, cap, "/tmp/otel-preload-%u/server", (unsigned)getuid());
    return n < 0 || (size_t)n >= cap ? NULL : buf;
}

int runtime_write(const struct runtime_info *info) {
    char path[4096], tmp[4200];
    if (runtime_path(path, sizeof(path)) == NULL) return -ENAMETOOLONG;
    char *slash = strrchr(path, '/');
    *slash = '\0';
    if (mkdir(path, 0700) != 0 && errno != EEXIST) return -errno;
    struct stat st;
    if (lstat(path, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != getuid()) return -EPERM;
    *slash = '/';
    snprintf(tmp, sizeof(tmp), "%s.%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return -errno;
    char line[4200];
    int n = snprintf(line, sizeof(line), "%d %d %d %s\n", (int)info->pid, info->http_port,
                     info->grpc_port, info->db);
    int rc = n > 0 && write(fd, line, (size_t)n) == n ? 0 : -EIO;
    close(fd);
    if (rc == 0 && rename(tmp, path) != 0) rc = -errno;
    if (rc != 0) unlink(tmp);
    return rc;
}

static int port_answers(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return 0;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return ok;
}

int runtime_find(struct runtime_info *info) {
    char path[4096];
    if (runtime_path(path, sizeof(path)) == NULL) return -ENAMETOOLONG;
    FILE *f = fopen(path, "re");
    if (f == NULL) return -ENOENT;
    char line[4200];
    int rc = -ENOENT;
    memset(info, 0, sizeof(*info));
    if (fgets(line, sizeof(line), f) != NULL) {
        int pid, hp, gp, off = 0;
        if (sscanf(line, "%d %d %d %n", &pid, &hp, &gp, &off) == 3 && off > 0) {
            info->pid = pid;
            info->http_port = hp;
            info->grpc_port = gp;
            snprintf(info->db, sizeof(info->db), "%s", line + off);
            info->db[strcspn(info->db, "\n")] = '\0';
            if (pid > 0 && hp > 0 && hp < 65536 && (kill(pid, 0) == 0 || errno == EPERM) &&
                port_answers(hp))
                rc = 0;
        }
    }
    fclose(f);
    return rc;
}

void runtime_remove(void) {
    char path[4096];
    struct runtime_info info;
    if (runtime_path(path, sizeof(path)) == NULL) return;
    FILE *f = fopen(path, "re");
    if (f == NULL) return;
    int pid = 0;
    if (fscanf(f, "%d", &pid) == 1 && pid == (int)getpid()) unlink(path);
    fclose(f);
    (void)info;
}
