; Call/return recursion in 16-bit real mode: fib(n) the slow way.
; -DSAMEPAGE puts the stack just below the code in the same 4 KiB page (boot-sector layout, SP=0x7C00);
; otherwise the stack is at 0x9F000, far from the code.
bits 16
org 0x7C00
    xor ax, ax
    mov ds, ax
%ifdef SAMEPAGE
    mov ss, ax
    mov sp, 0x7C00
%else
    mov ax, 0x9000
    mov ss, ax
    mov sp, 0xF000
%endif
    mov di, 150
again:
    mov ax, 18
    call fib
    dec di
    jnz again
    cli
    hlt
; fib: AX = n -> AX = fib(n), clobbers BX, CX
fib:
    cmp ax, 2
    jb .done
    push ax
    dec ax
    call fib
    mov bx, ax
    pop ax
    push bx
    sub ax, 2
    call fib
    pop bx
    add ax, bx
.done:
    ret
