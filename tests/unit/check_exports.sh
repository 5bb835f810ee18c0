#!/bin/sh
# check_exports.sh: the shared object exports exactly the interposed libc
# names of preload/hooks.def (HOOK's second argument) plus otelp_api (the
# table include/otelp.h calls), the version script lists the same names, and the object needs no
# library beyond libc, libdl, libpthread, libm and the dynamic loader (no
# curl, no ssl at load time; sanitizer runtimes are allowed for sanitizer
# builds), and it is laid out in two load segments without RELRO.
# Version nodes (absolute "A" symbols) are not exports.
# Usage: check_exports.sh libotelpreload.so hooks.def libotelpreload.map
set -u
so=$1
def=$2
map=$3
status=0
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT

# C comments out, one line; then the names after "HOOK(type,".
strip_comments() {
    awk '
    {
        line = $0; out = ""
        while (length(line) > 0) {
            if (incomment) {
                i = index(line, "*/")
                if (i == 0) { line = ""; break }
                line = substr(line, i + 2); incomment = 0
            } else {
                i = index(line, "/*")
                if (i == 0) { out = out line; line = "" }
                else { out = out substr(line, 1, i - 1); line = substr(line, i + 2); incomment = 1 }
            }
        }
        printf "%s ", out
    }' "$1"
}

strip_comments "$def" | grep -o 'HOOK([^,]*,[[:space:]]*[A-Za-z_][A-Za-z0-9_]*' |
    sed 's/.*,[[:space:]]*//' | sort -u >"$tmp/hooks"
if [ ! -s "$tmp/hooks" ]; then
    echo "no HOOK(...) entries found in $def" >&2
    exit 1
fi

nm -D --defined-only "$so" | awk 'NF >= 3 && $2 != "A" { print $3 }' | sed 's/@.*//' | sort -u >"$tmp/exported"
if [ ! -s "$tmp/exported" ]; then
    echo "nm found no exported symbols in $so" >&2
    exit 1
fi

grep -v '^otelp_api$' "$tmp/exported" >"$tmp/exported_hooks"
if ! grep -qx 'otelp_api' "$tmp/exported"; then
    echo "otelp_api (the otelp.h table) is not exported" >&2
    status=1
fi
extra=$(comm -13 "$tmp/hooks" "$tmp/exported_hooks")
missing=$(comm -23 "$tmp/hooks" "$tmp/exported_hooks")
if [ -n "$extra" ]; then
    echo "exported but not in hooks.def:" $extra >&2
    status=1
fi
if [ -n "$missing" ]; then
    echo "in hooks.def but not exported:" $missing >&2
    status=1
fi

# The version script's global names (less otelp_api) are the hooks.
strip_comments "$map" | sed 's/local:.*//; s/.*global://' | tr ';' '\n' |
    sed 's/^[[:space:]]*//; s/[[:space:]]*$//' | grep -v '^$' | grep -v '^otelp_api$' |
    sort -u >"$tmp/map"
if ! cmp -s "$tmp/hooks" "$tmp/map"; then
    echo "version script and hooks.def differ:" >&2
    diff "$tmp/hooks" "$tmp/map" >&2
    status=1
fi

readelf -d "$so" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' >"$tmp/needed"
while read -r lib; do
    case $lib in
    libc.so.6 | libdl.so.2 | libpthread.so.0 | libm.so.6 | ld-linux*.so.*) ;;
    libasan.so.* | libubsan.so.* | libtsan.so.*) ;; # OTELP_SANITIZE builds only
    *)
        echo "unexpected NEEDED library: $lib" >&2
        status=1
        ;;
    esac
done <"$tmp/needed"

# Two PT_LOAD segments and no PT_GNU_RELRO: the loader maps each segment
# and mprotects the RELRO range in every process (see CMakeLists.txt).
loads=$(readelf -lW "$so" | grep -c '^ *LOAD ')
if [ "$loads" -ne 2 ]; then
    echo "expected 2 LOAD segments, found $loads" >&2
    status=1
fi
if readelf -lW "$so" | grep -q 'GNU_RELRO'; then
    echo "unexpected GNU_RELRO segment" >&2
    status=1
fi

if [ $status -eq 0 ]; then
    echo "exports: $(wc -l <"$tmp/hooks") hooks and otelp_api," \
        "NEEDED: $(tr '\n' ' ' <"$tmp/needed")"
fi
exit $status
