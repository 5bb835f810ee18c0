/* cold: static storage most processes never touch (the thread table, the
 * resource's arena, the hand-off's clients, ...), kept apart from the small
 * state every process writes at start. Each page of .bss a process touches
 * costs it a page fault (1.5-5 us on the VMs we measure on); with the big
 * arrays interleaved, a /bin/true under the shim touched 8 pages of .bss
 * for a few hundred bytes of state. On x86-64 a ".lbss.*" section is
 * zero-filled (NOBITS) and the linker places it after .bss; elsewhere the
 * arrays stay in .bss. Depends on nothing. */
#ifndef OTELP_CORE_COLD_H
#define OTELP_CORE_COLD_H

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define OTELP_COLD __attribute__((section(".lbss.otelp")))
#else
#define OTELP_COLD
#endif

#endif
