; Port I/O loop in real mode: POST codes to port 0x80.
bits 16
org 0x7C00
    mov cx, 2000
outer:
    mov dx, 1000
inner:
    mov al, dl
    out 0x80, al
    dec dx
    jnz inner
    loop outer
    cli
    hlt
