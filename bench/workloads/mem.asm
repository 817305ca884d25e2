; Memory loads and stores in 32-bit protected mode, then REP MOVSD copies.
bits 32
org 0x100000
SRC equ 0x200000
DST equ 0x300000
    mov ebp, 400
outer:
    mov esi, SRC
    mov edi, DST
    mov ecx, 4096
inner:
    mov eax, [esi]
    add [edi], eax
    mov edx, [esi + 4]
    mov [edi + 8], edx
    add esi, 4
    add edi, 4
    dec ecx
    jnz inner
    mov esi, SRC
    mov edi, DST
    mov ecx, 16384          ; 64 KiB per copy
    cld
    rep movsd
    dec ebp
    jnz outer
    cli
    hlt
