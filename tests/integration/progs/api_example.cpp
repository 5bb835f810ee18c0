// api_example.cpp: include/otelp.h from C++. OTELP_SPAN_SCOPE ends its span
// in a destructor, so a scope left by an exception ends too; the program
// prints the same lines and exits the same with the shim or without it.
#include <cstdio>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "otelp.h"

static int parse(const std::string &text) {
    OTELP_SPAN_SCOPE("parse");
    otelp_span_set_attribute(otelp_span_current(), otelp_attr_str("parse.input", text.c_str()));
    size_t used = 0;
    int value = std::stoi(text, &used); // throws std::invalid_argument on "x"
    return value;
}

int main() {
    const otelp_attr attrs[] = {otelp_attr_str("app.lang", "c++")};
    otelp_span *run =
        otelp_span_start("cpp.run", nullptr, OTELP_SPAN_KIND_INTERNAL, attrs, OTELP_COUNT(attrs));
    otelp_scope scope = otelp_span_make_current(run);
    int total = 0;
    for (const char *text : {"12", "x", "30"}) {
        try {
            total += parse(text);
        } catch (const std::exception &e) {
            otelp_span_record_exception(run, "std::invalid_argument", e.what(), nullptr, nullptr,
                                        0);
            std::printf("skipped %s\n", text);
        }
    }
    std::vector<std::thread> workers;
    for (int i = 0; i < 2; i++)
        workers.emplace_back([i] {
            OTELP_SPAN_SCOPE("cpp.worker");
            otelp_span_set_attribute(otelp_span_current(), otelp_attr_int("worker.index", i));
        });
    for (auto &t : workers)
        t.join();
    otelp_log(OTELP_SEVERITY_INFO, "INFO", "cpp done", nullptr, 0);
    otelp_scope_end(scope);
    otelp_span_end(run);
    std::printf("total %d\n", total);
    return total == 42 ? 0 : 1;
}
