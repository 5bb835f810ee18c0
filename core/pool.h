/* pool: memory for what a process makes once, at its start (the
 * exporters, their transports, the batchers, the root span), from a static
 * reserve instead of the program's heap. A process that exports then makes
 * no malloc call before main, and the program's heap starts as it would
 * without us: our few freed chunks in it cost a malloc-heavy program at
 * its later allocations (cc1 ran 230K more instructions in malloc and
 * memset with them), and a small program's first malloc costs it brk calls
 * and fresh heap pages.
 *
 * The reserve is OTELP_COLD: a page of it costs something only once used.
 * What it gives is zeroed and never reused (pool_free leaves it); once it
 * is used up, and in sanitizer builds (whose checks need malloc'd
 * objects), pool_alloc is calloc. Thread-safe; signal-safe while the
 * reserve lasts. Depends on libc. */
#ifndef OTELP_CORE_POOL_H
#define OTELP_CORE_POOL_H

#include <stddef.h>

void *pool_alloc(size_t n);
void pool_free(void *p);

#endif
