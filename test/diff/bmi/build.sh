#!/usr/bin/env bash
# test/diff/bmi/build.sh — rebuild the BMI1/BMI2 vector generator (gen.c next to this script) and
# regenerate test/diff/vectors/bmi64.json.gz and bmi32.json.gz on this machine's CPU.
#
#   bash test/diff/bmi/build.sh
#
# Needs gcc + binutils on an x86-64 host whose CPU has BMI1 and BMI2, and gcc-multilib for the
# 32-bit file (skipped with a warning without it). Two stages per width:
#   1. gcc -DPRINT_ASM gen.c: prints build/bmi_forms<bits>.s, the assembly table of every form
#      (length byte + code; the assembler encodes everything);
#   2. gcc gen.c build/bmi_forms<bits>.s: runs each form natively on seeded inputs and writes
#      build/bmi<bits>.json, gzipped (-9 -n: byte-identical on every run) into ../vectors/.
# Intermediate files go to test/diff/bmi/build/ (ignored by git).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="$here/build"
vectors="$here/../vectors"
mkdir -p "$build" "$vectors"
grep -qw bmi2 /proc/cpuinfo || { echo "this CPU has no BMI2: cannot record native vectors" >&2; exit 1; }
# NVEC: vectors per form (default 2000, as ../build.sh)
CFLAGS=(-O2 -std=gnu11 -Wall -no-pie -fno-pie ${NVEC:+-DNVEC=$NVEC})

gen() { # $1 = 64 | 32
    local b=$1
    gcc -m"$b" "${CFLAGS[@]}" -Wno-unused-function -Wno-unused-variable -Wno-unused-const-variable -DPRINT_ASM "$here/gen.c" -o "$build/gen$b-stage1"
    "$build/gen$b-stage1" >"$build/bmi_forms$b.s"
    gcc -m"$b" "${CFLAGS[@]}" "$here/gen.c" "$build/bmi_forms$b.s" -o "$build/gen$b"
    "$build/gen$b" "$build/bmi$b.json"
    gzip -9 -n -c "$build/bmi$b.json" >"$vectors/bmi$b.json.gz"
}

gen 64
if echo 'int main(void){return 0;}' | gcc -m32 -x c - -o "$build/m32check" 2>/dev/null; then
    gen 32
else
    echo "warning: gcc -m32 cannot link (install gcc-multilib); bmi32 vectors not regenerated" >&2
fi
ls -l "$vectors"/bmi*.json.gz
