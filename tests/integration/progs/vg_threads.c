/* vg_threads: a leak-free, race-free threaded program for the valgrind
 * tests (test_valgrind.py): threads, half of them named by themselves, sharing a counter under a
 * mutex; a syslog line; a forked child that runs a program; stdio. Prints
 * the counter and the child's exit code. Usage: vg_threads [THREADS] */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long counter;

static void *work(void *arg) {
    long n = (long)arg;
    if (n % 2) pthread_setname_np(pthread_self(), "vg-worker");
    for (long i = 0; i < 1000; i++) {
        pthread_mutex_lock(&lock);
        counter += n;
        pthread_mutex_unlock(&lock);
    }
    return NULL;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 4;
    if (threads < 1 || threads > 64) threads = 4;
    pthread_t t[64];
    for (int i = 0; i < threads; i++) {
        if (pthread_create(&t[i], NULL, work, (void *)(long)(i + 1)) != 0) return 2;
    }
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    openlog("vg_threads", LOG_PID, LOG_USER);
    syslog(LOG_INFO, "counter %ld", counter);
    closelog();
    pid_t pid = fork();
    if (pid == 0) {
        execl("/bin/true", "true", (char *)NULL);
        _exit(127);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid) return 3;
    printf("counter %ld child %d\n", counter, WEXITSTATUS(status));
    return 0;
}
