/* fd_race: a harness's stdout juggling while the shim's relay thread
 * accepts a child's connection (found by GNU make's test driver under
 * perl: its make's output went to the terminal). The program closes its
 * stdout and dups a saved copy back, expecting 1, as perl's open does,
 * while a connection to its own relay waits to be read. Prints
 * "dup gave N" on the restored stdout; without the shim, or with the
 * relay's connection out of the program's numbers, N is 1.
 * Run with OTEL_BSP_SCHEDULE_DELAY small (the relay thread starts once
 * the process is older than the delay). */
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void pause_ms(long ms) {
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0) {
    }
}

/* Our relay's abstract name, from /proc/net/unix ("@otel-preload/UID/PID/..."). */
static socklen_t relay_name(struct sockaddr_un *a) {
    char want[64], line[512];
    snprintf(want, sizeof(want), "@otel-preload/%u/%d/", (unsigned)getuid(), (int)getpid());
    FILE *f = fopen("/proc/net/unix", "r");
    if (f == NULL) return 0;
    socklen_t len = 0;
    while (len == 0 && fgets(line, sizeof(line), f) != NULL) {
        char *at = strstr(line, want);
        if (at == NULL) continue;
        at[strcspn(at, " \n")] = '\0';
        memset(a, 0, sizeof(*a));
        a->sun_family = AF_UNIX;
        size_t n = strlen(at + 1);
        if (n + 1 >= sizeof(a->sun_path)) break;
        memcpy(a->sun_path + 1, at + 1, n); /* sun_path[0] = '\0': abstract */
        len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
    }
    fclose(f);
    return len;
}

int main(void) {
    pause_ms(150); /* older than the schedule delay: the relay gets its thread */
    /* The shim starts listening for the child. The child leaves nothing to
     * hand off (killed): the relay has nothing to forward, so it opens no
     * connection of its own while we juggle. */
    pid_t child = fork();
    if (child == 0) raise(SIGKILL);
    waitpid(child, NULL, 0);
    struct sockaddr_un a;
    socklen_t alen = relay_name(&a);
    int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    int saved = dup(1);
    if (s < 0 || saved < 0) return 3;
    close(1);
    /* Connected, nothing sent: the relay accepts and waits for the
     * message (up to 100 ms). Should its connection take our number 1 (the
     * lowest free), we see it within a millisecond and dup while it is
     * still being read; moved high at once, we never see it and dup after
     * a second. */
    if (alen > 0 && connect(s, (struct sockaddr *)&a, alen) != 0) alen = 0;
    for (int i = 0; i < 1000; i++) {
        if (fcntl(1, F_GETFD) >= 0) {
            pause_ms(30);
            break;
        }
        pause_ms(1);
    }
    int fd = dup(saved);
    if (fd != 1 && fd >= 0) {
        dup2(fd, 1); /* as perl does */
        close(fd);
    }
    close(saved);
    close(s);
    printf("relay %s, dup gave %d\n", alen > 0 ? "found" : "absent", fd);
    return fd == 1 ? 0 : 1;
}
