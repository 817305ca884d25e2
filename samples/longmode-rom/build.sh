#!/bin/sh
# Rebuild longmode.rom (64 KiB flat ROM image) and its listing longmode.lst
# from longmode.asm. Requires NASM (apt-get install nasm).
set -eu
cd "$(dirname "$0")"
nasm -f bin -w+all -l longmode.lst -o longmode.rom longmode.asm
size=$(wc -c < longmode.rom)
if [ "$size" -ne 65536 ]; then
    echo "build.sh: longmode.rom is $size bytes, expected 65536" >&2
    exit 1
fi
echo "built longmode.rom ($size bytes) and longmode.lst"
