#!/bin/sh
# check_abi.sh: the shim loads on glibc 2.17 and later and into programs of
# other C libraries (preload/abi_floor.h): objdump -T shows no imported
# symbol version above GLIBC_2.17 and no fortified (_chk) import. Exported
# _chk names (the interposed __syslog_chk, __printf_chk, ...) are fine.
# Usage: check_abi.sh libotelpreload.so
set -u
so=$1
status=0
imports=$(objdump -T "$so" | awk '$0 ~ /\*UND\*/ { print $(NF-1), $NF }') || exit 2
if [ -z "$imports" ]; then
    echo "objdump -T found no imports in $so" >&2
    exit 1
fi
too_new=$(printf '%s\n' "$imports" | awk '
    $1 ~ /^\(GLIBC_[0-9.]+\)$/ {
        v = $1; gsub(/[()]|GLIBC_/, "", v); split(v, p, ".")
        if (p[1] > 2 || (p[1] == 2 && p[2] > 17)) print $2 " " $1
    }')
if [ -n "$too_new" ]; then
    echo "imports newer than GLIBC_2.17:" >&2
    printf '%s\n' "$too_new" >&2
    status=1
fi
fortified=$(printf '%s\n' "$imports" | awk '$2 ~ /_chk$/ { print $2 }')
if [ -n "$fortified" ]; then
    echo "fortified imports (musl has none; _FORTIFY_SOURCE must stay off for the shim):" $fortified >&2
    status=1
fi
private=$(printf '%s\n' "$imports" | awk '$1 ~ /GLIBC_PRIVATE/ { print $2 }')
if [ -n "$private" ]; then
    echo "GLIBC_PRIVATE imports:" $private >&2
    status=1
fi
[ $status -eq 0 ] && echo "abi: $(printf '%s\n' "$imports" | wc -l) imports, none above GLIBC_2.17, no _chk"
exit $status
