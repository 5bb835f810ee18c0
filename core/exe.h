/* exe: the running executable's path, as the target of /proc/self/exe, and
 * its base name (process.executable.path/.name, unknown_service:<name>).
 * Found on first use, so a process that records nothing never looks, and,
 * where it can be, without procfs: a process's first access to /proc/self
 * costs it 15-80 us on the VMs we measure on (the kernel makes its
 * /proc/<pid> entries), realpath(3) of the name the program was executed
 * by (AT_EXECFN) a few. That name is the program itself unless the kernel
 * ran an interpreter for it (#! scripts, binfmt_misc: the name is then
 * among the interpreter's first arguments) or it was executed by
 * descriptor (fexecve: /dev/fd/N); those go to /proc/self/exe, as does a
 * caller in a signal handler (realpath may allocate). Depends on libc. */
#ifndef OTELP_CORE_EXE_H
#define OTELP_CORE_EXE_H

#include <stdbool.h>

/* Notes how this process image was executed (no system call). */
void exe_init(int argc, char **argv);

/* The path ("" when it cannot be found, or before exe_init). signal_safe:
 * only async-signal-safe calls if it has to be found now. */
const char *exe_path(bool signal_safe);

/* The base name of exe_path(), or NULL when the path is not known. */
const char *exe_name(bool signal_safe);

/* In a fork child: a parent thread may have been looking. */
void exe_after_fork_child(void);

#endif
