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
# I/O-exit workloads (VMX): the bare-metal one is the mini-hypervisor sample built with -DBENCH (its guest
# loops on OUT 0x80, its exit handler is 11 instructions); the monitor one is the post-loop sample.
nasm -f bin -DBENCH -DBENCH_ITERATIONS=100000 -o vmxio64-bare.bin ../../samples/mini-hypervisor/mini-hypervisor.asm
nasm -f bin -DITERATIONS=100000 -o vmxio64-guest.bin ../../samples/post-loop/post-loop.asm
echo "built benchmark workloads"
