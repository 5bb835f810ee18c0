/* exe: see exe.h. */
#include "core/exe.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "core/cold.h"
#include "core/once.h"
#include "core/text.h"

static char path[PATH_MAX] OTELP_COLD;
static const char *base;
static const char *execfn; /* AT_EXECFN, when it names the program itself */
static bool initialized;
static _Atomic int state; /* once.h: looked up */

/* (No libc string calls at start: each is a page of libc's code that a
 * small program may not otherwise touch.) */
static bool equal(const char *a, const char *b) {
    return text_prefix(a, b) && a[strlen(b)] == '\0';
}

OTELP_FIRST void exe_init(int argc, char **argv) {
    int saved_errno = errno;
    const char *fn = (const char *)getauxval(AT_EXECFN);
    errno = 0;
    bool by_fd = getauxval(AT_EXECFD) != 0 || errno != ENOENT; /* binfmt_misc 'O' */
    errno = saved_errno;
    bool direct = fn && *fn && !by_fd && !text_prefix(fn, "/dev/fd/") && !text_prefix(fn, "/proc/");
    for (int i = 1; direct && i < argc && i <= 3 && argv[i]; i++)
        if (equal(argv[i], fn)) direct = false; /* an interpreter's script */
    execfn = direct ? fn : NULL;
    base = NULL;
    initialized = true;
    atomic_store(&state, 0);
}

const char *exe_path(bool signal_safe) {
    if (!initialized) return "";
    if (once_claim(&state)) {
        if (!execfn || signal_safe || !realpath(execfn, path)) {
            ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
            path[n > 0 ? n : 0] = '\0';
        }
        const char *slash = strrchr(path, '/');
        base = path[0] ? slash ? slash + 1 : path : NULL;
        once_done(&state);
    }
    return once_wait(&state, 1000000) ? path : "";
}

const char *exe_name(bool signal_safe) {
    exe_path(signal_safe);
    return once_ready(&state) ? base : NULL;
}

void exe_after_fork_child(void) {
    int looking = 1;
    atomic_compare_exchange_strong(&state, &looking, 0); /* a parent thread was */
}
