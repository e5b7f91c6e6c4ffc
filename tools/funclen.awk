# funclen.awk — every C function definition and its length, in the house
# style (the signature starts in column 0, the body's `{` and `}` stand alone
# in column 0).  Prints one line per function:
#     LENGTH FILE:LINE NAME WHY
# LENGTH counts the lines from `{` to `}`; LINE is the signature's first line;
# WHY is 1 when the comment block ending just above the signature says why the
# function is long (it contains the word "long"), else 0.
# Usage: awk -f tools/funclen.awk src/*/*.c | sort -rn
FNR == 1 { sig = 0; in_fn = 0; cmt = 0; why = 0 }
in_fn {
    if ($0 ~ /^}/) { printf "%d %s:%d %s %d\n", FNR - start + 1, FILENAME, sigline, name, fwhy; in_fn = 0 }
    next
}
/^\/\*/ { cmt = 1; why = 0 }
cmt { if (tolower($0) ~ /(^|[^a-z])long([^a-z]|$)/) why = 1; if ($0 ~ /\*\//) { cmt = 0; lastc = FNR } ; next }
/^[A-Za-z_].*\(/ && $0 !~ /;[ \t]*$/ && $0 !~ /^(typedef|struct|enum|union|static const|const)[^(]*=/ && $0 !~ /^#/ {
    sig = FNR; line = $0; sub(/\(.*/, "", line); n = split(line, w, /[ *]+/); name = w[n]
    sigwhy = (lastc == FNR - 1) ? why : 0
    next
}
/^{/ && sig { in_fn = 1; start = FNR; sigline = sig; fwhy = sigwhy; sig = 0; next }
/^[ \t]/ && sig { next }   # continuation of a multi-line signature
{ sig = 0 }
