#!/usr/bin/env bash
# test/diff/build.sh — rebuild the native vector generator and regenerate every
# differential-test vector file in test/diff/vectors/.
#
#   bash test/diff/build.sh          # from anywhere
#
# Needs gcc + binutils (x86-64 host) and, for the 32-bit vectors, gcc-multilib
# (`apt-get install -y gcc-multilib`). Without multilib the 32-bit files are
# left as they are and a warning is printed.
#
# Steps, for each of -m64 and -m32:
#   1. compile gen.c with -DSTAGE1 and run it: it prints forms.s, one labelled
#      assembly line per instruction form (the assembler produces all machine
#      code; nothing is hand-encoded);
#   2. compile gen.c together with forms.s and run it: it executes every form
#      natively on seeded inputs and writes build/json/<group><bits>.json;
#   3. gzip -9 -n (no name/timestamp: byte-identical output on every run) into
#      vectors/<group><bits>.json.gz.
# Intermediate files go to test/diff/build/ (ignored by git).
# The output is deterministic: same CPU + same gen.c => identical files.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="$here/build"
vectors="$here/vectors"
mkdir -p "$build/json" "$vectors"
# NVEC: vectors per instruction form (default 2000, see README.md "Counts and size"); override
# with e.g. `NVEC=1000 bash test/diff/build.sh` for a quick local run (do not commit such files).
CFLAGS=(-O2 -std=gnu11 -Wall -Wno-unused-variable -Wno-unused-but-set-variable -Wno-unused-function -no-pie -fno-pie ${NVEC:+-DNVEC=$NVEC})

gen() { # $1 = 64 | 32
    local b=$1
    gcc -m"$b" "${CFLAGS[@]}" -DSTAGE1 "$here/gen.c" -o "$build/gen$b-stage1"
    "$build/gen$b-stage1" >"$build/forms$b.s"
    gcc -m"$b" "${CFLAGS[@]}" "$here/gen.c" "$build/forms$b.s" -o "$build/gen$b"
    # objdump listing of every form, for eyeballing encodings (not committed)
    gcc -m"$b" -c "$build/forms$b.s" -o "$build/forms$b.o"
    objdump -d -M intel -j .rodata "$build/forms$b.o" >"$build/forms$b.lst" 2>/dev/null || true
    rm -f "$build/json/"*"$b.json"
    "$build/gen$b" "$build/json"
    for f in "$build/json/"*"$b.json"; do
        gzip -9 -n -c "$f" >"$vectors/$(basename "$f").gz"
    done
}

gen 64
if echo 'int main(void){return 0;}' | gcc -m32 -x c - -o "$build/m32check" 2>/dev/null; then
    gen 32
else
    echo "warning: gcc -m32 cannot link (install gcc-multilib); 32-bit vectors not regenerated" >&2
fi
ls -l "$vectors"
