#!/bin/sh
# Rebuilds mini-hypervisor.bin (and its listing) from mini-hypervisor.asm. Requires NASM.
set -eu
cd "$(dirname "$0")"
nasm -f bin -w+all -l mini-hypervisor.lst -o mini-hypervisor.bin mini-hypervisor.asm
echo "built mini-hypervisor.bin ($(wc -c < mini-hypervisor.bin) bytes)"
