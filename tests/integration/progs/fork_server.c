/* fork_server: a forking TCP server on loopback (an ephemeral port) and a
 * client process that talks to it, for test_faults.py. The server forks a
 * handler per connection, which answers "pong N" to "ping N"; the client
 * connects CONNS times and prints the answers; the server prints how many
 * it served once the client is done. Usage: fork_server [CONNS] */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static int client(const struct sockaddr_in *a, int conns) {
    for (int i = 0; i < conns; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, (const struct sockaddr *)a, sizeof *a) != 0) return 2;
        char msg[32], reply[32];
        int len = snprintf(msg, sizeof msg, "ping %d", i);
        if (write(fd, msg, (size_t)len) != len) return 3;
        shutdown(fd, SHUT_WR);
        ssize_t n = read(fd, reply, sizeof reply - 1);
        if (n <= 0) return 4;
        reply[n] = '\0';
        printf("%s\n", reply);
        close(fd);
    }
    return 0;
}

static void handle(int conn) {
    char buf[32];
    ssize_t n = read(conn, buf, sizeof buf - 1);
    if (n <= 5) _exit(5);
    buf[n] = '\0';
    char reply[40];
    int len = snprintf(reply, sizeof reply, "pong %s", buf + 5);
    _exit(write(conn, reply, (size_t)len) == len ? 0 : 6);
}

int main(int argc, char **argv) {
    int conns = argc > 1 ? atoi(argv[1]) : 3;
    if (conns < 1 || conns > 100) conns = 3;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 16) != 0 ||
        getsockname(s, (struct sockaddr *)&a, &alen) != 0)
        return 1;
    fflush(stdout);
    pid_t cl = fork();
    if (cl == 0) {
        close(s);
        exit(client(&a, conns));
    }
    int served = 0, failed = 0;
    for (int i = 0; i < conns; i++) {
        int conn = accept(s, NULL, NULL);
        if (conn < 0) break;
        pid_t h = fork();
        if (h == 0) {
            close(s);
            handle(conn);
        }
        close(conn);
        int st;
        if (h > 0 && waitpid(h, &st, 0) == h && WIFEXITED(st) && WEXITSTATUS(st) == 0)
            served++;
        else
            failed++;
    }
    int st = 0;
    waitpid(cl, &st, 0);
    printf("served %d, failed %d, client %d\n", served, failed, WEXITSTATUS(st));
    return failed ? 1 : 0;
}
