/* secure_probe: linked against libotelpreload.so (not preloaded: the loader
 * ignores LD_PRELOAD paths for set-user-ID programs), so the shim's
 * constructor runs in whatever mode the kernel started us in. Prints
 * whether that mode is secure-execution. */
#include <stdio.h>
#include <sys/auxv.h>

int main(void) {
    printf("secure=%lu\n", getauxval(AT_SECURE));
    return 0;
}
