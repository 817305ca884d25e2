; post-loop: guest firmware for the built-in monitor (vmx-debug run --monitor).
;
; A 64-bit flat image (load at 0x100000, start in long mode: the loader builds identity page tables).
; It says hello over COM1, writes POST codes to port 0x80 in a tight loop (ITERATIONS times), says
; goodbye and halts with interrupts off. What the monitor sees of it depends on its I/O exiting:
;   kvm-2016.json     I/O bitmaps, port 0x80 passed through: only the UART writes exit
;   kvm-cve-2017.json unconditional I/O exiting: every OUT to 0x80 exits too
;
; Build: ./build.sh (nasm -f bin). Override the count with nasm -DITERATIONS=n.

bits 64
org 0x100000

%ifndef ITERATIONS
%define ITERATIONS 1000000
%endif

COM1 equ 0x3F8

start:
    lea rsi, [rel hello]
    call puts

    mov ecx, ITERATIONS
post_loop:
    mov eax, ecx
    out 0x80, al            ; the POST code: the instruction KVM used to pass through
    dec ecx
    jnz post_loop

    lea rsi, [rel bye]
    call puts
    cli
    hlt                     ; HLT with IF = 0: the monitor ends the run (exit status 0)
    jmp $

; puts: write the NUL-terminated string at RSI to COM1 (polling LSR.THRE like real firmware)
puts:
    mov dx, COM1 + 5
.wait:
    in al, dx
    test al, 0x20
    jz .wait
    lodsb
    test al, al
    jz .done
    mov dx, COM1
    out dx, al
    jmp puts
.done:
    ret

hello: db "post-loop: writing POST codes to port 0x80", 13, 10, 0
bye:   db "post-loop: done", 13, 10, 0
