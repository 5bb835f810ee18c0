/* api_fake_shim: a stand-in for the shim with an older table (the version
 * handshake test): FAKE_VERSION and FAKE_FUNCTIONS (how many functions its
 * table has) are set at build time. It carries the note otelp.h looks for,
 * written here from docs/API.md's description, and reports each call it
 * gets on stderr. */
#include <stdio.h>
#include <unistd.h>

#include "otelp.h"

static otelp_span *fake_start(const char *name, const otelp_span *parent,
                              const otelp_span_context *remote, int kind, const otelp_attr *attrs,
                              size_t n) {
    (void)parent, (void)remote, (void)kind, (void)attrs, (void)n;
    fprintf(stderr, "fake start %s\n", name);
    return (otelp_span *)1;
}

static void fake_end(otelp_span *span) {
    fprintf(stderr, "fake end %p\n", (void *)span);
}

/* The table as an older shim had it: the header and FAKE_FUNCTIONS
 * pointers. */
static const struct {
    uint32_t version, size;
    void *fns[2];
} table __attribute__((used)) = {FAKE_VERSION,
                                 2 * sizeof(uint32_t) + FAKE_FUNCTIONS * sizeof(void *),
                                 {(void *)fake_start, (void *)fake_end}};

__asm__(".pushsection .note.otelp,\"a\",%note\n"
        ".balign 4\n"
        ".long 6\n"
        ".long 8\n"
        ".long 0x4f544c50\n"
        ".asciz \"otelp\"\n"
        ".balign 4\n"
        "1: .quad table - 1b\n"
        ".popsection\n");
