#!/bin/sh
# Rebuilds the benchmark workloads (apt-get install nasm).
set -eu
cd "$(dirname "$0")"
nasm -f bin -DBITS=16 -o alu16.bin alu.asm
nasm -f bin -DBITS=32 -o alu32.bin alu.asm
nasm -f bin -DBITS=64 -o alu64.bin alu.asm
nasm -f bin -o mem32.bin mem.asm
nasm -f bin -o call16.bin call.asm
nasm -f bin -DSAMEPAGE -o call16-samepage.bin call.asm
nasm -f bin -o io16.bin io.asm
echo "built benchmark workloads"
