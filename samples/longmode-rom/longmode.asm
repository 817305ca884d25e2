; =============================================================================
; longmode.asm - vmx-debug sample firmware: reset vector -> real mode ->
;                protected mode -> 64-bit long mode, with serial + POST output.
;
; Build:   nasm -f bin -l longmode.lst -o longmode.rom longmode.asm   (build.sh)
; Output:  a 64 KiB ROM image that is mapped at physical 0xFFFF0000-0xFFFFFFFF.
;
; The CPU leaves reset in real mode with CS.selector = 0xF000 but with a hidden
; CS.base of 0xFFFF0000 and IP = 0xFFF0, so the first instruction fetched is at
; physical 0xFFFFFFF0 (the last 16 bytes of this image). As long as we never
; reload CS in real mode, the hidden base stays 0xFFFF0000 and every 16-bit
; offset within CS is simply "ROM address - 0xFFFF0000". That is why this image
; does not need the legacy 0xF0000-0xFFFFF alias of the BIOS ROM.
;
; Stages (each one writes a POST code to port 0x80 and a line to COM1):
;   1  real mode: init COM1 (115200 8N1, FIFO)   "vmx-debug sample: real mode"
;   2  fast A20 via port 0x92                    "A20 enabled"
;   3  GDT + CR0.PE + far jump to 32-bit code    "protected mode"
;   4  identity-mapping page tables in RAM       "page tables built"
;   5  PAE + CR3 + EFER.LME + CR0.PG + far jump  "long mode" + a 64-bit result
;   6  done; cli; hlt (with -DQEMU_EXIT first write 0 to isa-debug-exit 0xF4)    "done"
;
; RAM used (all below 32 KiB):
;   0x1000-0x1FFF  PML4            (1 entry used)
;   0x2000-0x2FFF  PDPT            (4 entries used)
;   0x3000-0x6FFF  4 page dirs     (2048 x 2 MiB pages = first 4 GiB identity)
;   0x7000-0x7FFF  stack           (grows down from 0x8000; only a few bytes)
; =============================================================================

ROMBASE         equ 0xFFFF0000      ; physical address of the first ROM byte
ROMSIZE         equ 0x10000         ; 64 KiB
CODE_OFFSET     equ 0x8000          ; where the code starts inside the ROM (see below)

; --- I/O ports ---------------------------------------------------------------
POST_PORT       equ 0x80            ; POST code / diagnostic port
SYSCTL_A        equ 0x92            ; "System Control Port A" (fast A20, bit 1)
DEBUG_EXIT      equ 0xF4            ; QEMU isa-debug-exit (value v -> exit (v<<1)|1)

COM1            equ 0x3F8
COM1_THR        equ COM1 + 0        ; transmit holding register   (DLAB=0)
COM1_DLL        equ COM1 + 0        ; divisor latch, low byte     (DLAB=1)
COM1_IER        equ COM1 + 1        ; interrupt enable register   (DLAB=0)
COM1_DLM        equ COM1 + 1        ; divisor latch, high byte    (DLAB=1)
COM1_FCR        equ COM1 + 2        ; FIFO control register (write)
COM1_LCR        equ COM1 + 3        ; line control register
COM1_MCR        equ COM1 + 4        ; modem control register
COM1_LSR        equ COM1 + 5        ; line status register
LSR_THRE        equ 0x20            ; bit 5: transmit holding register empty

; --- control registers / MSRs ------------------------------------------------
CR0_PE          equ 1 << 0
CR0_PG          equ 1 << 31
CR4_PAE         equ 1 << 5
MSR_EFER        equ 0xC0000080
EFER_LME        equ 1 << 8

; --- page-table layout (physical RAM) ----------------------------------------
PML4_ADDR       equ 0x1000
PDPT_ADDR       equ 0x2000
PD_ADDR         equ 0x3000          ; 4 consecutive page directories
PD_COUNT        equ 4               ; 4 x 1 GiB = identity map of 0..4 GiB
PT_END          equ PD_ADDR + PD_COUNT * 0x1000
STACK_TOP       equ 0x8000

PTE_P           equ 1 << 0          ; present
PTE_RW          equ 1 << 1          ; writable
PTE_PS          equ 1 << 7          ; in a PD entry: 2 MiB page
PAGE_2M         equ 0x200000

; --- GDT selectors (see gdt: below) -------------------------------------------
SEL_CODE32      equ 0x08
SEL_DATA        equ 0x10
SEL_CODE64      equ 0x18

; In real mode, code and data are addressed relative to CS.base = ROMBASE.
; $$ is the start of the (only) section, i.e. ROMBASE because of "org ROMBASE";
; "label - $$" is a plain assemble-time constant, the offset within the ROM.
%define OFS(label) ((label) - $$)

; Write a POST code. Works unchanged in 16-, 32- and 64-bit code.
%macro POST 1
        mov     al, %1
        out     POST_PORT, al
%endmacro

; -----------------------------------------------------------------------------
; UART routines, assembled once per CPU mode. The source is identical; only the
; pointer register (si/esi/rsi) and the memory operand differ:
;   16-bit: strings are read through CS (DS is 0 at reset, CS.base = ROMBASE)
;   32/64:  flat segments, the string pointer is a linear address
;
;   putc<N>: send AL.                 Clobbers AX, DX.
;   puts<N>: send NUL-terminated string at <ptr>. Clobbers AX, DX, <ptr>.
; -----------------------------------------------------------------------------
%macro UART_ROUTINES 3          ; %1 = 16/32/64, %2 = pointer reg, %3 = [mem] operand
putc%1:
        mov     ah, al          ; keep the character; AL is needed for IN
        mov     dx, COM1_LSR
.wait:  in      al, dx          ; poll until the transmitter can take a byte
        test    al, LSR_THRE
        jz      .wait
        mov     al, ah
        mov     dx, COM1_THR
        out     dx, al
        ret

puts%1:
.next:  mov     al, %3
        test    al, al
        jz      .done
        call    putc%1
        inc     %2
        jmp     .next
.done:  ret
%endmacro

        org     ROMBASE

; The reset vector at offset 0xFFF0 reaches the entry point with a near jump
; (rel16). Keeping all code in the upper 32 KiB means that jump is a plain
; backwards displacement that does not depend on IP wrapping around 64 KiB.
; The lower half of the ROM is left erased (0xFF).
        times   CODE_OFFSET - ($ - $$) db 0xFF

; =============================================================================
; Stages 1-3: 16-bit real mode  (CS = F000, CS.base = 0xFFFF0000)
; =============================================================================
        bits    16
start16:
        cli                     ; no IDT yet: interrupts must stay off
        cld                     ; string instructions count upwards
        xor     ax, ax          ; DS/ES/SS base 0: stack in low RAM
        mov     ds, ax
        mov     es, ax
        mov     ss, ax
        mov     sp, STACK_TOP

; --- Stage 1: POST 0x01, COM1 at 115200 8N1 with FIFO ---------------------------
stage1:
        POST    0x01

        mov     dx, COM1_IER    ; polled I/O: no UART interrupts
        xor     al, al
        out     dx, al
        mov     dx, COM1_LCR    ; DLAB=1 to reach the divisor latch
        mov     al, 0x80
        out     dx, al
        mov     dx, COM1_DLL    ; divisor 1 = 115200 baud (1.8432 MHz / 16)
        mov     al, 1
        out     dx, al
        mov     dx, COM1_DLM
        xor     al, al
        out     dx, al
        mov     dx, COM1_LCR    ; DLAB=0, 8 data bits, no parity, 1 stop bit
        mov     al, 0x03
        out     dx, al
        mov     dx, COM1_FCR    ; enable + clear both FIFOs, 14-byte trigger
        mov     al, 0xC7
        out     dx, al
        mov     dx, COM1_MCR    ; DTR + RTS asserted
        mov     al, 0x03
        out     dx, al

        mov     si, OFS(msg_real)
        call    puts16

; --- Stage 2: POST 0x02, fast A20 ---------------------------------------------
; Without A20, physical address bit 20 is forced to 0. Set bit 1 of port 0x92;
; bit 0 of the same port is a fast CPU reset, so it must be written as 0.
stage2:
        POST    0x02
        in      al, SYSCTL_A
        or      al, 0x02
        and     al, 0xFE
        out     SYSCTL_A, al

        mov     si, OFS(msg_a20)
        call    puts16

; --- Stage 3: POST 0x03, enter 32-bit protected mode ----------------------------
; LGDT needs the o32 prefix: with a 16-bit operand size only 24 bits of the
; base are loaded, which would turn 0xFFFFxxxx into 0x00FFxxxx.
stage3:
        o32 lgdt [cs:OFS(gdtr)]
        mov     eax, cr0
        or      eax, CR0_PE
        mov     cr0, eax
        ; The far jump loads CS from the GDT (flat 32-bit code) and flushes
        ; the prefetch queue. The offset is a full 32-bit linear address.
        jmp     dword SEL_CODE32:pm32

        UART_ROUTINES 16, si, [cs:si]

; =============================================================================
; Stages 3 (continued) and 4: 32-bit protected mode, flat 4 GiB segments
; =============================================================================
        bits    32
pm32:
        mov     ax, SEL_DATA
        mov     ds, ax
        mov     es, ax
        mov     fs, ax
        mov     gs, ax
        mov     ss, ax
        mov     esp, STACK_TOP

        POST    0x03
        mov     esi, msg_pm
        call    puts32

; --- Stage 4: POST 0x04, identity-mapping page tables -------------------------
; PML4[0] -> PDPT; PDPT[0..3] -> 4 page directories; each PD maps 1 GiB with
; 512 x 2 MiB pages. Result: virtual == physical for 0..4 GiB, which covers the
; low RAM and the 64-bit code here in the ROM (0xFFFF0000-0xFFFFFFFF).
stage4:
        mov     edi, PML4_ADDR          ; zero all tables (upper dwords stay 0)
        mov     ecx, (PT_END - PML4_ADDR) / 4
        xor     eax, eax
        rep stosd

        mov     dword [PML4_ADDR], PDPT_ADDR | PTE_P | PTE_RW

        mov     edi, PDPT_ADDR
        mov     eax, PD_ADDR | PTE_P | PTE_RW
        mov     ecx, PD_COUNT
.pdpt:  mov     [edi], eax
        add     eax, 0x1000
        add     edi, 8
        loop    .pdpt

        mov     edi, PD_ADDR
        mov     eax, PTE_P | PTE_RW | PTE_PS    ; physical 0, 2 MiB page
        mov     ecx, PD_COUNT * 512
.pd:    mov     [edi], eax
        add     eax, PAGE_2M
        add     edi, 8
        loop    .pd

        POST    0x04
        mov     esi, msg_pt
        call    puts32

; --- Stage 5 (entry): POST 0x05 comes once we run 64-bit code -----------------
; Order matters: PAE and CR3 first, then EFER.LME, then CR0.PG (which activates
; IA-32e mode in compatibility mode), then a far jump to a CS with L=1.
stage5:
        mov     eax, cr4
        or      eax, CR4_PAE
        mov     cr4, eax

        mov     eax, PML4_ADDR
        mov     cr3, eax

        mov     ecx, MSR_EFER
        rdmsr
        or      eax, EFER_LME
        wrmsr

        mov     eax, cr0
        or      eax, CR0_PG
        mov     cr0, eax

        jmp     SEL_CODE64:lm64

        UART_ROUTINES 32, esi, [esi]

; =============================================================================
; Stages 5 and 6: 64-bit long mode
; =============================================================================
        bits    64
        default rel             ; [label] is RIP-relative (ROM is at 0xFFFFxxxx;
                                ; a sign-extended disp32 would point elsewhere)
lm64:
        mov     ax, SEL_DATA    ; DS/ES/SS are ignored for addressing in 64-bit
        mov     ds, ax          ; mode, but give them a sane flat descriptor
        mov     es, ax
        mov     ss, ax
        mov     rsp, STACK_TOP

        POST    0x05
        lea     rsi, [msg_lm]
        call    puts64

        ; Prove 64-bit arithmetic: 0xDEADBEEF * 0x1_0000_0001 needs all 64 bits.
        mov     rax, 0xDEADBEEF
        mov     rbx, 0x100000001
        imul    rax, rbx                ; rax = 0xDEADBEEFDEADBEEF
        mov     rbx, rax
        lea     rsi, [msg_mul]
        call    puts64
        mov     rax, rbx
        call    puthex64
        lea     rsi, [msg_crlf]
        call    puts64

; --- Stage 6: POST 0x06, "done", exit --------------------------------------------
stage6:
        POST    0x06
        lea     rsi, [msg_done]
        call    puts64

%ifdef QEMU_EXIT
        ; Built with -DQEMU_EXIT: QEMU's isa-debug-exit ends the run with status (0 << 1) | 1 = 1.
        xor     eax, eax
        out     DEBUG_EXIT, al
%endif

        ; HLT with interrupts off: the end of the run (vmx-debug exits 0 on it).
.halt:  cli
        hlt
        jmp     .halt

; puthex64: print RAX as 16 hex digits. Clobbers RAX, RCX, RDX, RDI.
puthex64:
        mov     rdi, rax
        mov     ecx, 16
.digit: rol     rdi, 4                  ; next nibble, most significant first
        mov     eax, edi
        and     al, 0x0F
        add     al, '0'
        cmp     al, '9'
        jbe     .out
        add     al, 'A' - '9' - 1
.out:   call    putc64
        loop    .digit
        ret

        UART_ROUTINES 64, rsi, [rsi]

; =============================================================================
; Read-only data
; =============================================================================
msg_real:   db "vmx-debug sample: real mode", 13, 10, 0
msg_a20:    db "A20 enabled", 13, 10, 0
msg_pm:     db "protected mode", 13, 10, 0
msg_pt:     db "page tables built", 13, 10, 0
msg_lm:     db "long mode", 13, 10, 0
msg_mul:    db "64-bit: 0xDEADBEEF * 0x100000001 = 0x", 0
msg_crlf:   db 13, 10, 0
msg_done:   db "done", 13, 10, 0

; GDT: flat descriptors (base 0, limit 0xFFFFF with G=1 -> 4 GiB).
        align   8
gdt:
        dq      0                       ; 0x00 null
        dq      0x00CF9A000000FFFF      ; 0x08 code32: P, DPL0, exec/read, D=1, G=1
        dq      0x00CF92000000FFFF      ; 0x10 data:   P, DPL0, read/write, B=1, G=1
        dq      0x00AF9A000000FFFF      ; 0x18 code64: P, DPL0, exec/read, L=1, D=0, G=1
gdt_end:

gdtr:
        dw      gdt_end - gdt - 1       ; limit
        dd      gdt                     ; 32-bit linear base (inside the ROM)

; =============================================================================
; Reset vector: physical 0xFFFFFFF0 = CS.base 0xFFFF0000 + IP 0xFFF0
; =============================================================================
        times   0xFFF0 - ($ - $$) db 0xFF
        bits    16
reset_vector:
        jmp     near start16
        times   ROMSIZE - ($ - $$) db 0xFF
