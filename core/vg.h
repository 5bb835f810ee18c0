/* vg: valgrind client requests, so that tools judging the program judge
 * only the program (issue 17, SAFETY.md). A client request is a few
 * instructions that do nothing outside valgrind; without valgrind's headers
 * (package valgrind) they compile to nothing.
 *
 * VG_RUNNING(): nonzero under valgrind.
 * VG_BENIGN_RACE(addr, len): memory the shim reads and writes from several
 * threads without a lock on purpose (C11 atomics, which helgrind and drd do
 * not model): neither tool reports it.
 * Depends on nothing of ours. */
#ifndef OTELP_CORE_VG_H
#define OTELP_CORE_VG_H

#if defined(__has_include)
#if __has_include(<valgrind/helgrind.h>) && __has_include(<valgrind/drd.h>)
#define OTELP_HAVE_VALGRIND 1
#endif
#endif

#if defined(OTELP_HAVE_VALGRIND)
#include <valgrind/drd.h>
#include <valgrind/helgrind.h>
#include <valgrind/valgrind.h>
#define VG_RUNNING() RUNNING_ON_VALGRIND
/* helgrind's request, and drd's by its own name (both headers define the
 * ANNOTATE_* macros, for one tool or the other); each tool ignores the
 * other's. */
#define VG_BENIGN_RACE(addr, len)                                                                  \
    do {                                                                                           \
        VALGRIND_HG_DISABLE_CHECKING((addr), (len));                                               \
        VALGRIND_DO_CLIENT_REQUEST_STMT(VG_USERREQ__DRD_START_SUPPRESSION, (addr), (len), 0, 0,    \
                                        0);                                                        \
    } while (0)
#else
#define VG_RUNNING() 0
#define VG_BENIGN_RACE(addr, len) ((void)(addr), (void)(len))
#endif

#endif
