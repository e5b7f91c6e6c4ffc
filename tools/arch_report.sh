#!/bin/sh
# arch_report.sh — the architecture measures of the code as it is, computed
# from the source alone (grep, awk, the C preprocessor), so that anyone can
# rerun them and compare two commits:
#
#   1. includes between src/ folders: which folder includes which (with the
#      number of #include lines), the includes that run up the layer order
#      below, and any loop between folders (tsort);
#   2. config lookups outside src/config and src/setup, per file: calls that
#      read a Config or a config value (cfg_get/num/int/str/path/is_set/arg...,
#      cfg_list_*, config_file/dir/stem), and the files that include
#      config/config.h;
#   3. functions longer than 80 lines (tools/funclen.awk), marked "why" when
#      the comment above them says why they are long;
#   4. "how to add ...": for one existing example of each kind of component,
#      the files whose code (comments stripped) names it — what a new one of
#      that kind has to touch.
#
# Usage: tools/arch_report.sh [SECTION...]     (sections: includes lookups
#        functions howto; default all).  Run from the repository root.
set -u
cd "$(dirname "$0")/.."

# Lowest first: a folder may include the folders before it.  config is read by
# the setup layer only (setup turns a Config into the modules' spec structs);
# interp rebuilds a model file's transforms through setup.  A folder missing
# here counts as the top.
LAYERS="core io nn models data dist learn config setup interp cmd"

rank() {
    i=0
    for l in $LAYERS; do
        [ "$l" = "$1" ] && { echo $i; return; }
        i=$((i + 1))
    done
    echo 99
}

includes() {
    echo "== includes between src/ folders (from -> to: #include lines)"
    edges=$(for f in $(find src -mindepth 2 -name '*.[ch]' | sort); do
        from=$(echo "$f" | cut -d/ -f2)
        grep -oE '^#include "[a-z_]+/' "$f" | sed 's/^#include "//; s#/$##' | while read -r to; do
            [ "$to" != "$from" ] && echo "$from $to"
        done
    done | sort | uniq -c | awk '{print $2, $3, $1}')
    echo "$edges" | awk '{printf "  %-7s -> %-7s %3d\n", $1, $2, $3}'
    echo "== includes up the layer order ($LAYERS)"
    up=0
    for f in $(find src -mindepth 2 -name '*.[ch]' | sort); do
        from=$(echo "$f" | cut -d/ -f2)
        rf=$(rank "$from")
        grep -nE '^#include "[a-z_]+/' "$f" | while IFS= read -r l; do
            to=$(echo "$l" | sed 's/^[0-9]*:#include "//; s#/.*##')
            [ "$to" = "$from" ] && continue
            rt=$(rank "$to")
            [ "$rt" -gt "$rf" ] && echo "  $f:${l%%:*}: $from -> $(echo "$l" | sed 's/^[0-9]*:#include //')"
        done
    done > /tmp/arch_up.$$
    up=$(wc -l < /tmp/arch_up.$$)
    cat /tmp/arch_up.$$
    rm -f /tmp/arch_up.$$
    echo "  total: $up"
    echo "== loops between folders"
    if echo "$edges" | awk '{print $1, $2}' | tsort > /dev/null 2> /tmp/arch_tsort.$$; then
        echo "  none"
    else
        sed 's/^tsort: /  /' /tmp/arch_tsort.$$
    fi
    rm -f /tmp/arch_tsort.$$
}

LOOKUP='\b(cfg_(get|num|int|str|path|resolve|is_set|where|arg|arg_num|arg_str|list_len|list_at)|config_(file|dir|stem))\('

lookups() {
    echo "== config lookups outside src/config and src/setup (calls per file)"
    total=0 files=0
    for f in $(find src -name '*.[ch]' ! -path 'src/config/*' ! -path 'src/setup/*' | sort); do
        n=$(grep -oE "$LOOKUP" "$f" | wc -l)
        [ "$n" -gt 0 ] || continue
        printf "  %-32s %3d\n" "$f" "$n"
        total=$((total + n)) files=$((files + 1))
    done
    echo "  total: $total in $files files"
    echo "== files outside src/config and src/setup that include config/config.h"
    grep -lE '^#include "config/config.h"' $(find src -name '*.[ch]' ! -path 'src/config/*' ! -path 'src/setup/*') |
        sort | sed 's/^/  /' || true
    echo "== folders holding config-reading code (files with a lookup)"
    grep -lE "$LOOKUP" $(find src -name '*.[ch]' ! -path 'src/config/*') | cut -d/ -f2 | sort | uniq -c |
        awk '{printf "  %-7s %d files\n", $2, $1}'
}

functions() {
    echo "== functions over 80 lines (lines from { to }; why = a comment says why)"
    awk -f tools/funclen.awk $(find src -name '*.c' | sort) | sort -rn |
        awk '$1 > 80 {printf "  %4d  %-38s %s%s\n", $1, $2, $3, $4 ? "  (why)" : ""; n++; if (!$4) u++}
             END {printf "  total: %d, without a why: %d\n", n, u}'
}

# The code of every source and test file with its comments removed (the
# preprocessor without expanding anything), once, under $STRIPPED.
STRIPPED=""
strip_all() {
    [ -n "$STRIPPED" ] && return
    STRIPPED=$(mktemp -d)
    for f in $(find src tests -name '*.[ch]' | sort); do
        mkdir -p "$STRIPPED/$(dirname "$f")"
        cc -fpreprocessed -dD -E -P -x c "$f" > "$STRIPPED/$f" 2> /dev/null || cp "$f" "$STRIPPED/$f"
    done
}

howto_one() {
    what=$1 pattern=$2
    set -- $(cd "$STRIPPED" && grep -lE "$pattern" $(find src tests -name '*.[ch]' | sort))
    n_src=0
    for f in "$@"; do case "$f" in src/*) n_src=$((n_src + 1)) ;; esac; done
    printf "  %-40s %2d in src/, %d tests:" "$what" $n_src $(($# - n_src))
    for f in "$@"; do printf " %s" "${f#src/}"; done
    echo
}

howto() {
    echo "== how to add ...: files whose code names an existing example"
    strip_all
    howto_one "a layer (Dropout)" '\bdropout_[a-z_]+\(|\bDropout[A-Z]?[a-z]*\b'
    howto_one "an item transform (RandomResizedCrop)" 'RandomResizedCrop\b|ITFM_RRC'
    howto_one "a batch transform (aug_transforms)" 'aug_transforms'
    howto_one "a config key ([data] cache_mb)" 'cache_mb|cache_bytes'
    howto_one "a command (show_batch)" 'show_batch'
    howto_one "a metric (rmse)" '"rmse"|\brmse\b|METRIC_RMSE'
}

[ $# -gt 0 ] || set -- includes lookups functions howto
for s in "$@"; do
    case "$s" in
    includes | lookups | functions | howto) "$s" ;;
    *) echo "arch_report.sh: unknown section $s (includes, lookups, functions, howto)" >&2; exit 2 ;;
    esac
done
[ -n "$STRIPPED" ] && rm -rf "$STRIPPED"
exit 0
