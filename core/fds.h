/* fds: the descriptors the shim keeps, out of the program's way. Each sits
 * at a high number (fd_move_high), close-on-exec, and the variable that
 * holds it is registered (fd_hold). When the program names a number we hold
 * (dup2/dup3 onto it, fcntl, close, close_range: hooks/fds.c), ours is moved
 * to another high number first and the old number closed, so the program's
 * call does exactly what it would without the shim (a script's
 * `exec 900>file`, a daemon closing every descriptor) and the shim keeps
 * working. Never a low number: when no high one can be had (a tiny
 * RLIMIT_NOFILE), the shim goes without the descriptor. Depends on libc. */
#ifndef OTELP_CORE_FDS_H
#define OTELP_CORE_FDS_H

#include <stdbool.h>

/* The lowest number the shim keeps a descriptor at: 992 when the soft
 * RLIMIT_NOFILE is 1024 or more (never above, so the kernel's descriptor
 * table does not grow past its usual size), else the limit less 32; -1
 * when that is below 10 (the numbers shells and programs use for their
 * own). */
int fds_base(void);

/* Moves fd to fds_base() or above, close-on-exec. Returns the new fd (the
 * old one closed), or a negative errno (the old one closed too: the caller
 * goes without it). fd < 0 is returned unchanged. */
int fd_move_high(int fd);
/* The same, to fds_base() + offset or above (offset < 32): a number kept
 * apart from the ones other threads' descriptors take first. */
int fd_move_above(int fd, int offset);

/* Registers the variable that holds one of our descriptors (for good: a
 * variable holding -1 holds nothing). At most FDS_MAX variables. */
#define FDS_MAX 24
void fd_hold(int *where);
/* Closes the descriptor *where holds and sets it to -1; the shim's own
 * close of a registered descriptor goes through here, not close(2)'s hook. */
void fd_close(int *where);
/* The descriptor *where holds now (it may move at any time). */
static inline int fd_get(const int *where) {
    return __atomic_load_n(where, __ATOMIC_ACQUIRE);
}

/* Whether fd is one of ours; fast when it is below every number we hold. */
bool fd_is_ours(int fd);
/* The program is about to name fd: if it is ours, ours moves away and fd
 * is closed. */
void fd_vacate(int fd);
/* The program is about to close [first, last]: ours there move above last
 * (or, failing that, are given up). */
void fd_vacate_range(unsigned first, unsigned last);
/* After the program's F_DUPFD(min) got result: whether one of ours in
 * [min, result) made it skip a number (then ours moved away and the caller
 * closes result and asks again). */
bool fd_displaced(int min, int result);
/* Registers how to tell that this thread runs in a vfork child: memory
 * shared with the parent, a descriptor table of its own. There the three
 * calls above close ours in the child's table only and leave the numbers
 * the parent holds as they are (else a child that closes every descriptor
 * before exec, as Python's subprocess does, made the parent forget its
 * own). Asked only when the program names one of ours. */
void fds_set_vfork_check(bool (*in_vfork_child)(void));

#endif
