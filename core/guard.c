/* guard: storage for the re-entry guard. See guard.h. */
#include "core/guard.h"

_Thread_local unsigned guard_depth __attribute__((tls_model("initial-exec")));
