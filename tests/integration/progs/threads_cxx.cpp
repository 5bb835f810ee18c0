// A C++ program whose threads start on mangled routines, as node's do: a
// captureless lambda's static invoker inside a member function, and a
// static member function; exported with -rdynamic like node's symbols.
#include <pthread.h>
#include <cstdio>

namespace work {
struct Runner {
    static void *loop(void *) { return nullptr; }
    void start() {
        pthread_t a, b;
        pthread_create(
            &a, nullptr, [](void *) -> void * { return nullptr; }, nullptr);
        pthread_create(&b, nullptr, &Runner::loop, nullptr);
        pthread_join(a, nullptr);
        pthread_join(b, nullptr);
    }
};
} // namespace work

int main() {
    work::Runner().start();
    std::puts("done");
    return 0;
}
