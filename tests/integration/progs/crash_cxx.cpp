// crash_cxx: an uncaught C++ exception (argv[1]: "std" throws
// std::out_of_range, "own" a type not derived from std::exception).
#include <cstring>
#include <stdexcept>

struct not_std {
    int code;
};

static __attribute__((noinline)) void throw_it(const char *what) {
    if (!std::strcmp(what, "own")) throw not_std{7};
    throw std::out_of_range("index 7 past the end");
}

int main(int argc, char **argv) {
    throw_it(argc > 1 ? argv[1] : "std");
    return 0;
}
