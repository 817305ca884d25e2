; ALU loop in 16-bit real mode (boot-sector style): register arithmetic and a counted loop.
; Built per mode: -DBITS=16 (real mode, org 0x7c00), 32 (flat protected mode), 64 (long mode).
%ifndef BITS
%define BITS 16
%endif
bits BITS
%if BITS == 16
org 0x7C00
%define A ax
%define B bx
%define C cx
%define D dx
%define S si
%define DI_ di
%define LOOPS 2000
%elif BITS == 32
org 0x100000
%define A eax
%define B ebx
%define C ecx
%define D edx
%define S esi
%define DI_ edi
%define LOOPS 2000
%else
org 0x100000
%define A rax
%define B rbx
%define C rcx
%define D rdx
%define S rsi
%define DI_ rdi
%define LOOPS 2000
%endif
    mov bp, LOOPS
outer:
    mov C, 10000
    xor A, A
    mov B, 3
inner:
    add A, B
    xor D, A
    sub S, 7
    and DI_, A
    inc B
    dec C
    jnz inner
    dec bp
    jnz outer
    cli
    hlt
