#!/bin/sh
# Rebuilds post-loop.bin (1,000,000 POST codes) and post-loop-1000.bin (1,000: quick runs and tests),
# with listings, from post-loop.asm. Requires NASM (apt-get install nasm).
set -eu
cd "$(dirname "$0")"
nasm -f bin -w+all -l post-loop.lst -o post-loop.bin post-loop.asm
nasm -f bin -w+all -DITERATIONS=1000 -o post-loop-1000.bin post-loop.asm
echo "built post-loop.bin ($(wc -c < post-loop.bin) bytes) and post-loop-1000.bin"
