/* api_lib: a shared library that uses include/otelp.h, for a program that
 * dlopen()s it (api_cases dlopen): the library finds the shim's table on
 * its own, and its span joins the program's trace. */
#include "otelp.h"

__attribute__((visibility("default"))) int lib_work(int n);

int lib_work(int n) {
    otelp_attr attrs[] = {otelp_attr_int("lib.n", n)};
    otelp_span *s = otelp_span_start("lib.work", NULL, OTELP_SPAN_KIND_INTERNAL, attrs, 1);
    int r = n * n;
    otelp_span_end(s);
    return r;
}
