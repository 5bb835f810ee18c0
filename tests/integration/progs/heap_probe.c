/* heap_probe: prints, first thing in main, how much heap malloc has taken
 * from the system (brk and mmap), then allocates and frees a little and
 * prints what is in use then (its own stdout buffer among it). Under the
 * shim both lines must be what they are without it: the shim makes no
 * malloc call of its own before main (core/pool.h). */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
    struct mallinfo2 m = mallinfo2();
    char line[96];
    int n = snprintf(line, sizeof line, "at main: arena %zu mmap %zu\n", m.arena, m.hblkhd);
    fwrite(line, 1, (size_t)n, stdout);
    void *p = malloc(100);
    memset(p, 1, 100);
    free(p);
    m = mallinfo2();
    printf("after: in use %zu\n", m.uordblks);
    return 0;
}
