/* cold: where the shim's code and static storage go, so that a process
 * touches as few of our pages as it can (each page fault costs 1.5-5 us on
 * the VMs we measure on).
 *
 * OTELP_COLD: static storage most processes never touch (the thread table,
 * the resource's arena, the hand-off's clients, ...), kept apart from the
 * small state every process writes at start; with the big arrays
 * interleaved, a /bin/true under the shim touched 8 pages of .bss for a few
 * hundred bytes of state. On x86-64 a ".lbss.*" section is zero-filled
 * (NOBITS) and the linker places it after .bss; elsewhere the arrays stay
 * in .bss.
 *
 * OTELP_FIRST: see below. Depends on nothing. */
#ifndef OTELP_CORE_COLD_H
#define OTELP_CORE_COLD_H

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define OTELP_COLD __attribute__((section(".lbss.otelp")))
#else
#define OTELP_COLD
#endif

/* First: the code every process runs, at its start and its exit, kept
 * together at the front of the shim's text (the linker places .text.startup,
 * where compilers put constructors, before the rest). The kernel maps a
 * file's pages 64 KiB around each fault; spread over our 150 KiB of text, a
 * /bin/true under the shim faulted in three such windows of it. */
#if defined(__ELF__) && defined(__GNUC__)
#define OTELP_FIRST __attribute__((section(".text.startup")))
#else
#define OTELP_FIRST
#endif

#endif
