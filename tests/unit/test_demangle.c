/* Unit tests for core/demangle.c: names a thread gets from its routine. */
#include "core/demangle.h"

#include "test.h"

static void check(const char *sym, const char *want) {
    char out[128] = "untouched";
    bool ok = demangle_name(sym, out, sizeof out);
    if (!want) {
        CHECK(!ok);
        CHECK_STR(out, "untouched");
        return;
    }
    CHECK(ok);
    CHECK_STR(out, want);
}

static void test_names(void) {
    check("_Z6workerPv", "worker()");
    check("_ZN4node6worker3runEPv", "node::worker::run()");
    check("_ZN4node23WorkerThreadsTaskRunner20DelayedTaskScheduler5StartEv",
          "node::WorkerThreadsTaskRunner::DelayedTaskScheduler::Start()");
    /* node's worker threads: a lambda's static invoker in a member function */
    check("_ZZN4node23WorkerThreadsTaskRunner20DelayedTaskScheduler5StartEvENUlPvE_4_FUNES2_",
          "node::WorkerThreadsTaskRunner::DelayedTaskScheduler::Start()::{lambda}::_FUN()");
    check("_ZZN4node23WorkerThreadsTaskRunnerC4EiSt10shared_ptrINS_8PlatformEEENUlPvE_4_FUNES6_",
          "node::WorkerThreadsTaskRunner::WorkerThreadsTaskRunner()::{lambda}::_FUN()");
    check("_ZNSt6thread11_State_implINS_8_InvokerISt5tupleIJPFvvEEEEEE6_M_runEv",
          "std::thread::_State_impl<...>::_M_run()");
    check("_ZN5boost6detail11thread_dataIPFvvEE3runEv", "boost::detail::thread_data<...>::run()");
    check("_ZN3FooC2Ev", "Foo::Foo()");
    check("_ZN3FooD1Ev", "Foo::~Foo()");
    check("worker", NULL);
    check("_Z", NULL);
    check("_Z999abc", NULL);
    check("_ZN3foo", NULL);
    check("_ZZ3fooE", NULL);
    check("_ZN3fooIiiiiiiiii", NULL);
    char small[8];
    CHECK(demangle_name("_ZN4node6worker3runEPv", small, sizeof small));
    CHECK_STR(small, "node::w");
}

int main(void) {
    RUN(test_names);
    return test_report("demangle");
}
