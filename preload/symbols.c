/* symbols: lazy dlsym(RTLD_NEXT) resolution of hooked symbols. See symbols.h.
 *
 * dlsym is a weak import (preload/abi_floor.h): glibc before 2.34 has it in
 * libdl only, which many programs do not load. Without it, the next
 * definition is found the way RTLD_NEXT finds it: the loaded objects in
 * load order (dl_iterate_phdr), those up to and including the shim skipped,
 * each one's dynamic symbol table searched through its hash table for a
 * defined global symbol of that name at its default version. */
#include "core/cold.h"
#include "preload/symbols.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/auxv.h>

#include "core/guard.h"
#include "core/vg.h"

#define HOOK(ret, name, params) ret(*real_##name) params;
#include "preload/hooks.def"
#undef HOOK

/* Each is resolved lazily by whichever thread gets there first (the same
 * value from each): helgrind and drd are told that is no race. One client
 * request outside valgrind. */
__attribute__((noinline)) static void annotate_all(void) {
#define HOOK(ret, name, params) VG_BENIGN_RACE(&real_##name, sizeof real_##name);
#include "preload/hooks.def"
#undef HOOK
}

/* The requests' argument blocks make a 9 KiB stack frame: only under
 * valgrind (its first store was a fresh stack page, a fault, in every
 * process). */
void symbols_annotate(void) {
    if (VG_RUNNING()) annotate_all();
}

struct table {
    uintptr_t base;
    const ElfW(Sym) * sym;
    const char *str;
    const uint32_t *gnu_hash, *sysv_hash;
    const ElfW(Half) * versym;
};

static uint32_t gnu_hash_of(const char *s) {
    uint32_t h = 5381;
    for (; *s; s++)
        h = h * 33 + (unsigned char)*s;
    return h;
}

/* A definition another object may bind to: defined, global or weak, at
 * its default version (a versym without the hidden bit). */
static bool usable(const struct table *t, uint32_t i, const char *name) {
    const ElfW(Sym) *s = &t->sym[i];
    int bind = ELF64_ST_BIND(s->st_info), type = ELF64_ST_TYPE(s->st_info);
    if (s->st_shndx == SHN_UNDEF || (bind != STB_GLOBAL && bind != STB_WEAK)) return false;
    if (type != STT_FUNC && type != STT_OBJECT && type != STT_GNU_IFUNC && type != STT_NOTYPE)
        return false;
    if (t->versym && (t->versym[i] & 0x8000)) return false;
    return strcmp(t->str + s->st_name, name) == 0;
}

static void *address_of(const struct table *t, uint32_t i) {
    const ElfW(Sym) *s = &t->sym[i];
    void *p = (void *)(t->base + s->st_value);
    if (ELF64_ST_TYPE(s->st_info) == STT_GNU_IFUNC) {
#if defined(__aarch64__)
        p = ((void *(*)(unsigned long))p)(getauxval(AT_HWCAP));
#else
        p = ((void *(*)(void))p)();
#endif
    }
    return p;
}

static void *table_find(const struct table *t, const char *name) {
    if (t->gnu_hash) {
        const uint32_t *h = t->gnu_hash;
        uint32_t nbuckets = h[0], symoffset = h[1], bloom_size = h[2], shift = h[3];
        if (!nbuckets || !bloom_size) return NULL;
        const ElfW(Addr) *bloom = (const ElfW(Addr) *)(h + 4);
        const uint32_t *buckets = (const uint32_t *)(bloom + bloom_size);
        const uint32_t *chain = buckets + nbuckets;
        uint32_t hash = gnu_hash_of(name);
        const unsigned bits = sizeof(ElfW(Addr)) * 8;
        ElfW(Addr) word = bloom[(hash / bits) % bloom_size];
        ElfW(Addr) mask =
            ((ElfW(Addr))1 << (hash % bits)) | ((ElfW(Addr))1 << ((hash >> shift) % bits));
        if ((word & mask) != mask) return NULL;
        uint32_t i = buckets[hash % nbuckets];
        if (i < symoffset) return NULL;
        for (uint32_t n = 0; n < (1u << 24); n++, i++) { /* bounded: a chain ends with bit 0 */
            uint32_t h2 = chain[i - symoffset];
            if ((h2 | 1) == (hash | 1) && usable(t, i, name)) return address_of(t, i);
            if (h2 & 1) break;
        }
        return NULL;
    }
    if (t->sysv_hash) {
        uint32_t nchain = t->sysv_hash[1];
        for (uint32_t i = 1; i < nchain; i++)
            if (usable(t, i, name)) return address_of(t, i);
    }
    return NULL;
}

struct next_search {
    const char *name;
    uintptr_t self; /* an address inside the shim */
    bool past_self;
    void *found;
};

static bool contains(const struct dl_phdr_info *info, uintptr_t addr) {
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && addr >= lo && addr - lo < ph->p_memsz) return true;
    }
    return false;
}

static int search_object(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    struct next_search *q = data;
    if (!q->past_self) {
        q->past_self = contains(info, q->self);
        return 0;
    }
    const ElfW(Dyn) *dyn = NULL;
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_DYNAMIC)
            dyn = (const ElfW(Dyn) *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
    if (!dyn) return 0;
    struct table t = {.base = info->dlpi_addr};
    for (int n = 0; dyn->d_tag != DT_NULL && n < 4096; dyn++, n++) {
        /* glibc's loader relocates these in place, musl's and the vDSO's
         * are offsets from the base. */
        uintptr_t p = dyn->d_un.d_ptr;
        if (p < t.base) p += t.base;
        switch (dyn->d_tag) {
        case DT_SYMTAB:
            t.sym = (const ElfW(Sym) *)p;
            break;
        case DT_STRTAB:
            t.str = (const char *)p;
            break;
        case DT_GNU_HASH:
            t.gnu_hash = (const uint32_t *)p;
            break;
        case DT_HASH:
            t.sysv_hash = (const uint32_t *)p;
            break;
        case DT_VERSYM:
            t.versym = (const ElfW(Half) *)p;
            break;
        }
    }
    if (!t.sym || !t.str) return 0;
    q->found = table_find(&t, q->name);
    return q->found != NULL;
}

OTELP_FIRST void *symbols_first_definition(const char *name) {
    struct next_search q = {.name = name, .past_self = true};
    dl_iterate_phdr(search_object, &q);
    return q.found;
}

OTELP_FIRST void *symbols_lookup(const char *name) {
    /* dlsym may allocate (dlerror state): keep it out of our hooks' view. */
    guard_enter();
    void *p;
    if (dlsym) {
        p = dlsym(RTLD_NEXT, name);
    } else {
        struct next_search q = {.name = name, .self = (uintptr_t)&symbols_lookup};
        dl_iterate_phdr(search_object, &q);
        p = q.found;
    }
    guard_leave();
    return p;
}
