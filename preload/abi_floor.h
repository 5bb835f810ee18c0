/* abi_floor: what the shim may import from the C library, so that one build
 * loads on glibc 2.17 and later and into programs of other C libraries.
 * Force-included (-include) into every object of the shim; checked by
 * tests/deploy/check_abi.sh (objdump -T: no version above GLIBC_2.17, no
 * _chk import).
 *
 * - Functions that glibc moved from libdl and libpthread into libc in 2.34
 *   are imported at their first version, and weak: on glibc before 2.34
 *   they exist only when the program loaded libdl or libpthread. Callers
 *   test them for NULL (a program without libpthread has no other thread;
 *   one without libdl gets the symbol table walk of preload/symbols.c).
 * - Functions newer than 2.17 (strerrorname_np, getrandom, the fortified
 *   printf family) are looked up at run time or replaced by system calls.
 * - Names that only glibc has (gnu_get_libc_version, error_one_per_line,
 *   __register_atfork) are weak: a musl program loads the shim, which sees
 *   gnu_get_libc_version missing and stays inert (preload/preload.c).
 * Depends on the C library's headers only. */
#ifndef OTELP_PRELOAD_ABI_FLOOR_H
#define OTELP_PRELOAD_ABI_FLOOR_H

#include <features.h>

#include <dlfcn.h>
#include <pthread.h>

#if defined(__GLIBC__)
#if defined(__x86_64__)
#define ABI_FLOOR_BASE "GLIBC_2.2.5"
#define ABI_FLOOR_CANCEL "GLIBC_2.3.3"
#elif defined(__aarch64__)
#define ABI_FLOOR_BASE "GLIBC_2.17"
#define ABI_FLOOR_CANCEL "GLIBC_2.17"
#endif

#ifdef ABI_FLOOR_BASE
/* A weak import bound to an old version (ld keeps the version of a weak
 * reference only when the object also imports something strongly from the
 * same library, which the shim always does). */
#define ABI_FLOOR_WEAK(name, version)                                                              \
    extern __typeof__(name) name __attribute__((weak));                                            \
    __asm__(".symver " #name "," #name "@" version)

ABI_FLOOR_WEAK(dlopen, ABI_FLOOR_BASE);
ABI_FLOOR_WEAK(dlsym, ABI_FLOOR_BASE);
ABI_FLOOR_WEAK(dlerror, ABI_FLOOR_BASE);
ABI_FLOOR_WEAK(dladdr, ABI_FLOOR_BASE);
ABI_FLOOR_WEAK(pthread_once, ABI_FLOOR_BASE);
ABI_FLOOR_WEAK(pthread_key_create, ABI_FLOOR_BASE);
ABI_FLOOR_WEAK(pthread_setspecific, ABI_FLOOR_BASE);
ABI_FLOOR_WEAK(pthread_attr_setstacksize, ABI_FLOOR_BASE);
ABI_FLOOR_WEAK(pthread_getcpuclockid, ABI_FLOOR_BASE);
ABI_FLOOR_WEAK(__pthread_register_cancel, ABI_FLOOR_CANCEL);
ABI_FLOOR_WEAK(__pthread_unregister_cancel, ABI_FLOOR_CANCEL);
ABI_FLOOR_WEAK(__pthread_unwind_next, ABI_FLOOR_CANCEL);
#endif
#else
/* Another C library (the musl flavour): the same names are weak too, so
 * the callers' NULL tests mean the same everywhere. */
#define ABI_FLOOR_WEAK(name) extern __typeof__(name) name __attribute__((weak))
ABI_FLOOR_WEAK(dlopen);
ABI_FLOOR_WEAK(dlsym);
ABI_FLOOR_WEAK(dlerror);
ABI_FLOOR_WEAK(dladdr);
ABI_FLOOR_WEAK(pthread_once);
ABI_FLOOR_WEAK(pthread_key_create);
ABI_FLOOR_WEAK(pthread_setspecific);
ABI_FLOOR_WEAK(pthread_attr_setstacksize);
ABI_FLOOR_WEAK(pthread_getcpuclockid);
#endif /* __GLIBC__ */

/* glibc only: absent under musl (then the shim is inert). */
extern const char *gnu_get_libc_version(void) __attribute__((weak));
extern int error_one_per_line __attribute__((weak));
extern int __register_atfork(void (*)(void), void (*)(void), void (*)(void), void *)
    __attribute__((weak));

#endif
