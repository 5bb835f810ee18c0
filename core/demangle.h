/* demangle: a readable name for a mangled C++ symbol (Itanium ABI), enough
 * to name a thread after its start routine: the qualified name, with "()"
 * for functions, "{lambda}" for lambdas and "<...>" for template
 * arguments, no parameter types. Not a full demangler (no malloc, bounded
 * by the input); what it cannot read leaves the name as it was. Depends on
 * libc only. */
#ifndef OTELP_CORE_DEMANGLE_H
#define OTELP_CORE_DEMANGLE_H

#include <stdbool.h>
#include <stddef.h>

/* Writes the readable form of sym into out (cap bytes, NUL-terminated).
 * False (out untouched) when sym is not a mangled name this reads. */
bool demangle_name(const char *sym, char *out, size_t cap);

#endif
