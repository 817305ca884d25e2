; mini-hypervisor: a bare-metal 64-bit VMM in NASM for vmx-debug (bare-metal mode: no --monitor).
;
; Loaded as a flat image at 0x100000 and started in long mode (vmx-debug run ... --mode long): the
; loader's identity page tables (4 GiB, 2-MiB pages) serve host and guest. The hypervisor
;   1. checks CPUID.1:ECX.VMX and IA32_FEATURE_CONTROL (the machine's firmware leaves it locked with
;      "VMX outside SMX" enabled, as real firmware does before a hypervisor runs),
;   2. sets CR0.NE and CR4.VMXE, loads its own GDT with a TSS (VM exits need a host TR),
;   3. VMXON, VMCLEAR, VMPTRLD, fills the VMCS: every control vector adjusted to the capability MSRs
;      ((wanted | allowed-0) & allowed-1, TRUE_ MSRs when IA32_VMX_BASIC[55] says so), guest and host state,
;   4. VMLAUNCHes a 64-bit guest that asks CPUID for the vendor, prints a line through COM1 (each OUT
;      exits: unconditional I/O exiting) and leaves with VMCALL,
;   5. handles I/O exits (forwards the byte to the real UART), CPUID exits (answers leaf 0 with its own
;      vendor "VMXdebugMini") and prints what the guest did.
; The guest is a 64-bit guest: a real-mode guest needs unrestricted guest + EPT, and the hypervisor checks
; IA32_VMX_PROCBASED_CTLS2 at run time and says whether the CPU model offers them.
;
; With -DBENCH the same code is the benchmark's bare-metal I/O-exit workload (bench/workloads): the guest
; loops on OUT 0x80 and the exit handler is 11 instructions (VMREAD reason, length and GUEST_RIP, add,
; VMWRITE, VMRESUME).

bits 64
org 0x100000

%ifndef BENCH_ITERATIONS
%define BENCH_ITERATIONS 1000000
%endif

COM1 equ 0x3F8

; VMCS field encodings (SDM Appendix B; the same numbers as src/cpu/vmx/spec/fields.ts)
F_PIN_BASED_VM_EXEC_CONTROL equ 0x4000
F_CPU_BASED_VM_EXEC_CONTROL equ 0x4002
F_SECONDARY_VM_EXEC_CONTROL equ 0x401e
F_VM_EXIT_CONTROLS equ 0x400c
F_VM_ENTRY_CONTROLS equ 0x4012
F_EXCEPTION_BITMAP equ 0x4004
F_VMCS_LINK_POINTER equ 0x2800
F_GUEST_CR0 equ 0x6800
F_GUEST_CR3 equ 0x6802
F_GUEST_CR4 equ 0x6804
F_GUEST_DR7 equ 0x681a
F_GUEST_ES_SELECTOR equ 0x0800
F_GUEST_LDTR_SELECTOR equ 0x080c
F_GUEST_TR_SELECTOR equ 0x080e
F_GUEST_ES_LIMIT equ 0x4800
F_GUEST_ES_AR_BYTES equ 0x4814
F_GUEST_ES_BASE equ 0x6806
F_GUEST_LDTR_AR_BYTES equ 0x4820
F_GUEST_TR_LIMIT equ 0x480e
F_GUEST_TR_AR_BYTES equ 0x4822
F_GUEST_TR_BASE equ 0x6814
F_GUEST_GDTR_BASE equ 0x6816
F_GUEST_GDTR_LIMIT equ 0x4810
F_GUEST_IDTR_LIMIT equ 0x4812
F_GUEST_RFLAGS equ 0x6820
F_GUEST_RSP equ 0x681c
F_GUEST_RIP equ 0x681e
F_HOST_CR0 equ 0x6c00
F_HOST_CR3 equ 0x6c02
F_HOST_CR4 equ 0x6c04
F_HOST_ES_SELECTOR equ 0x0c00
F_HOST_CS_SELECTOR equ 0x0c02
F_HOST_SS_SELECTOR equ 0x0c04
F_HOST_DS_SELECTOR equ 0x0c06
F_HOST_TR_SELECTOR equ 0x0c0c
F_HOST_TR_BASE equ 0x6c0a
F_HOST_GDTR_BASE equ 0x6c0c
F_HOST_RSP equ 0x6c14
F_HOST_RIP equ 0x6c16
F_VM_EXIT_REASON equ 0x4402
F_VM_EXIT_INSTRUCTION_LEN equ 0x440c
F_EXIT_QUALIFICATION equ 0x6400
F_VM_INSTRUCTION_ERROR equ 0x4400

; controls (bit masks, SDM 25.6-25.8)
UNCOND_IO_EXITING equ 1 << 24
HLT_EXITING equ 1 << 7
ACTIVATE_SECONDARY equ 1 << 31
ENABLE_VPID equ 1 << 5
HOST_ADDR_SPACE_SIZE equ 1 << 9
IA32E_MODE_GUEST equ 1 << 9

SEL_CODE equ 0x08
SEL_DATA equ 0x10
SEL_TSS equ 0x18

start:
    mov rsp, host_stack_top
    lgdt [rel gdtr]
    push SEL_CODE
    lea rax, [rel .reloaded]
    push rax
    retfq
.reloaded:
    mov eax, SEL_DATA
    mov ds, eax
    mov es, eax
    mov ss, eax
    mov fs, eax
    mov gs, eax
    mov ax, SEL_TSS
    ltr ax

%ifndef BENCH
    lea rsi, [rel msg_hello]
    call puts
%endif
    ; ---- 1. is VMX there, and did the firmware enable it? ----
    mov eax, 1
    cpuid
    bt ecx, 5
    jnc no_vmx
    mov ecx, 0x3A               ; IA32_FEATURE_CONTROL
    rdmsr
    and eax, 5
    cmp eax, 5                  ; locked + VMX outside SMX
    jne no_feature_control

%ifndef BENCH
    ; unrestricted guest (bit 7) and EPT (bit 1) in IA32_VMX_PROCBASED_CTLS2 allowed-1?
    mov ecx, 0x482
    rdmsr
    bt edx, 31                  ; "activate secondary controls" allowed?
    jnc .no_ug
    mov ecx, 0x48B
    rdmsr
    and edx, (1 << 7) | (1 << 1)
    cmp edx, (1 << 7) | (1 << 1)
    jne .no_ug
    mov byte [rel use_real], 1
    lea rsi, [rel msg_ug_yes]
    call puts
    jmp .ug_done
.no_ug:
    lea rsi, [rel msg_ug_no]
    call puts
.ug_done:
%endif

    ; ---- 2. CR0.NE, CR4.VMXE ----
    mov rax, cr0
    or eax, 1 << 5
    mov cr0, rax
    mov rax, cr4
    or eax, 1 << 13
    mov cr4, rax

    ; ---- 3. VMXON, VMCLEAR, VMPTRLD ----
    mov ecx, 0x480              ; IA32_VMX_BASIC: revision id in bits 30:0
    rdmsr
    mov [rel vmxon_region], eax
    mov [rel vmcs_region], eax
    bt edx, 55 - 32
    setc byte [rel use_true]
    vmxon [rel vmxon_ptr]
    jbe vmx_fail
    vmclear [rel vmcs_ptr]
    jbe vmx_fail
    vmptrld [rel vmcs_ptr]
    jbe vmx_fail

    ; controls: (wanted | allowed-0) & allowed-1
    mov r8d, 0x481              ; pin-based
    xor r9d, r9d
    mov r10d, F_PIN_BASED_VM_EXEC_CONTROL
    call set_control
    mov r8d, 0x482
    mov r9d, UNCOND_IO_EXITING | HLT_EXITING | ACTIVATE_SECONDARY
    mov r10d, F_CPU_BASED_VM_EXEC_CONTROL
    call set_control
    ; with secondary controls, give the guest a VPID: its TLB entries then survive VM exits
    mov eax, F_CPU_BASED_VM_EXEC_CONTROL
    vmread rdx, rax
    bt edx, 31
    jnc .no_secondary
    mov ecx, 0x48B              ; IA32_VMX_PROCBASED_CTLS2 (no TRUE_ form)
    rdmsr
    mov eax, ENABLE_VPID
    and eax, edx
    mov edx, eax
    mov eax, F_SECONDARY_VM_EXEC_CONTROL
    vmwrite rax, rdx
    jbe vmx_fail
    test edx, edx
    jz .no_secondary
    xor eax, eax                ; VIRTUAL_PROCESSOR_ID
    mov edx, 1
    vmwrite rax, rdx
    jbe vmx_fail
.no_secondary:
    mov r8d, 0x483
    mov r9d, HOST_ADDR_SPACE_SIZE
    mov r10d, F_VM_EXIT_CONTROLS
    call set_control
    mov r8d, 0x484
    mov r9d, IA32E_MODE_GUEST
    mov r10d, F_VM_ENTRY_CONTROLS
    call set_control

    ; the rest of the VMCS from a table of (encoding, value) pairs
    lea rsi, [rel vmcs_table]
.fill:
    mov rax, [rsi]
    cmp rax, -1
    je .filled
    mov rdx, [rsi + 8]
    vmwrite rax, rdx
    jbe vmx_fail
    add rsi, 16
    jmp .fill
.filled:
    ; control registers as they are now (host and guest share them)
    mov rdx, cr0
    mov eax, F_HOST_CR0
    vmwrite rax, rdx
    mov eax, F_GUEST_CR0
    vmwrite rax, rdx
    mov rdx, cr3
    mov eax, F_HOST_CR3
    vmwrite rax, rdx
    mov eax, F_GUEST_CR3
    vmwrite rax, rdx
    mov rdx, cr4
    mov eax, F_HOST_CR4
    vmwrite rax, rdx
    mov eax, F_GUEST_CR4
    vmwrite rax, rdx

%ifndef BENCH
    cmp byte [rel use_real], 0
    je .launch
    call real_mode_guest
.launch:
%endif
    ; ---- 4. launch ----
    vmlaunch
    ; only a failed VMLAUNCH comes back here
vmx_fail:
    lea rsi, [rel msg_vmfail]
    call puts
    mov eax, F_VM_INSTRUCTION_ERROR
    vmread rax, rax
    call put_hex
    lea rsi, [rel msg_crlf]
    call puts
    jmp stop

no_vmx:
    lea rsi, [rel msg_no_vmx]
    call puts
    jmp stop
no_feature_control:
    lea rsi, [rel msg_no_fc]
    call puts
stop:
    cli
    hlt
    jmp stop

; set_control: r8 = capability MSR (non-TRUE), r9d = wanted bits, r10 = VMCS field
set_control:
    mov ecx, r8d
    cmp byte [rel use_true], 0
    je .read
    add ecx, 0x48D - 0x481      ; the TRUE_ form of pin/proc/exit/entry
.read:
    rdmsr                       ; eax = allowed-0 (must be 1), edx = allowed-1 (may be 1)
    or eax, r9d
    and eax, edx
    mov edx, eax
    mov rax, r10
    vmwrite rax, rdx
    ret

%ifdef BENCH
; ---- 5 (benchmark). The exit handler: I/O exits resume after the instruction, anything else ends ----
host_exit:
    mov r12d, F_VM_EXIT_REASON
    vmread r13, r12
    cmp r13d, 30
    jne .done
    mov r12d, F_VM_EXIT_INSTRUCTION_LEN
    vmread r14, r12
    mov r12d, F_GUEST_RIP
    vmread r15, r12
    add r15, r14
    vmwrite r12, r15
    vmresume
.done:
    cli
    hlt

guest:
    mov r8d, BENCH_ITERATIONS
.loop:
    out 0x80, al
    dec r8d
    jnz .loop
    vmcall
%else
; ---- 5. The exit handler. Guest GPRs stay live in the CPU across a VM exit: save what we use ----
host_exit:
    mov [rel g_rax], rax
    mov [rel g_rbx], rbx
    mov [rel g_rcx], rcx
    mov [rel g_rdx], rdx
    mov [rel g_rsi], rsi
    mov eax, F_VM_EXIT_REASON
    vmread rbx, rax
    cmp ebx, 30
    je .io
    cmp ebx, 10
    je .cpuid
    cmp ebx, 18
    je .vmcall
    ; anything else: say which and stop
    lea rsi, [rel msg_unexpected]
    call puts
    mov rax, rbx
    call put_hex
    lea rsi, [rel msg_crlf]
    call puts
    jmp stop
.io:
    inc qword [rel n_io]
    mov eax, F_EXIT_QUALIFICATION
    vmread rbx, rax             ; bits 31:16 port, bit 3 direction (1 = IN)
    bt ebx, 3
    jc .io_in
    shr ebx, 16
    cmp ebx, COM1
    jne .skip
    inc qword [rel n_chars]
    mov rax, [rel g_rax]
    call putc                   ; forward the guest's byte to the real UART
    jmp .skip
.io_in:
    mov byte [rel g_rax], 0xFF  ; reads from any port: floating bus
    jmp .skip
.cpuid:
    inc qword [rel n_cpuid]
    mov rax, [rel g_rax]
    test eax, eax
    jnz .cpuid_real
    ; leaf 0: the highest basic leaf stays, the vendor string is ours
    mov rcx, [rel g_rcx]
    cpuid
    mov [rel g_rax], rax
    mov dword [rel g_rbx], 'VMXd'
    mov dword [rel g_rdx], 'ebug'
    mov dword [rel g_rcx], 'Mini'
    jmp .skip
.cpuid_real:
    mov rcx, [rel g_rcx]
    cpuid
    mov [rel g_rax], rax
    mov [rel g_rbx], rbx
    mov [rel g_rcx], rcx
    mov [rel g_rdx], rdx
    jmp .skip
.skip:
    mov eax, F_VM_EXIT_INSTRUCTION_LEN
    vmread rbx, rax
    mov eax, F_GUEST_RIP
    vmread rcx, rax
    add rcx, rbx
    vmwrite rax, rcx
    mov rax, [rel g_rax]
    mov rbx, [rel g_rbx]
    mov rcx, [rel g_rcx]
    mov rdx, [rel g_rdx]
    mov rsi, [rel g_rsi]
    vmresume
    jmp vmx_fail
.vmcall:
    lea rsi, [rel msg_sum1]
    call puts
    mov rax, [rel n_io]
    call put_dec
    lea rsi, [rel msg_sum2]
    call puts
    mov rax, [rel n_chars]
    call put_dec
    lea rsi, [rel msg_sum3]
    call puts
    mov rax, [rel n_cpuid]
    call put_dec
    lea rsi, [rel msg_sum4]
    call puts
    jmp stop

; ---- 3b. a real-mode guest: unrestricted guest + EPT (when the CPU offers both) ----
; The 16-bit guest is copied below 1 MiB (REAL_BASE) and runs at CS:IP = REAL_SEG:0 with CR0.PE = 0.
; EPT maps guest-physical = host-physical for the first 4 GiB with four 1 GiB pages.
REAL_BASE equ 0x8000
REAL_SEG equ REAL_BASE >> 4
EPT_PML4 equ 0x200000
EPT_PDPT equ 0x201000
F_EPT_POINTER equ 0x201a
F_GUEST_IDTR_BASE equ 0x6818
F_GUEST_LDTR_SELECTOR equ 0x080c
SECONDARY_EPT equ 1 << 1
SECONDARY_UG equ 1 << 7
real_mode_guest:
    lea rsi, [rel guest16]
    mov edi, REAL_BASE
    mov ecx, guest16_end - guest16
    rep movsb
    ; EPT: PML4[0] -> PDPT; PDPT[0..3] = 1 GiB pages, read/write/execute, write-back (type 6)
    mov edi, EPT_PML4
    xor eax, eax
    mov ecx, 2 * 4096 / 4
    rep stosd
    mov dword [EPT_PML4], EPT_PDPT | 7
    xor ecx, ecx
.pdpt:
    mov rax, rcx
    shl rax, 30
    or rax, 0x80 | (6 << 3) | 7
    mov [EPT_PDPT + rcx * 8], rax
    inc ecx
    cmp ecx, 4
    jb .pdpt
    mov eax, F_EPT_POINTER
    mov edx, EPT_PML4 | (3 << 3) | 6   ; 4-level walk, write-back
    vmwrite rax, rdx
    ; secondary controls: EPT and unrestricted guest (and the VPID chosen above, if any)
    mov eax, F_SECONDARY_VM_EXEC_CONTROL
    vmread rdx, rax
    or edx, SECONDARY_EPT | SECONDARY_UG
    vmwrite rax, rdx
    ; the guest is not an IA-32e guest
    mov eax, F_VM_ENTRY_CONTROLS
    vmread rdx, rax
    and edx, ~IA32E_MODE_GUEST
    vmwrite rax, rdx
    ; CR0: NE and ET only (PE = PG = 0 is what unrestricted guest allows); CR4: VMXE; no paging
    mov eax, F_GUEST_CR0
    mov edx, 0x30
    vmwrite rax, rdx
    mov eax, F_GUEST_CR3
    xor edx, edx
    vmwrite rax, rdx
    mov eax, F_GUEST_CR4
    mov edx, 1 << 13
    vmwrite rax, rdx
    ; ES, CS, SS, DS, FS, GS = REAL_SEG: base REAL_BASE, limit 64 KiB; CS is code, the rest data
    xor ecx, ecx
.seg:
    lea eax, [F_GUEST_ES_SELECTOR + rcx * 2]
    mov edx, REAL_SEG
    vmwrite rax, rdx
    lea eax, [F_GUEST_ES_BASE + rcx * 2]
    mov edx, REAL_BASE
    vmwrite rax, rdx
    lea eax, [F_GUEST_ES_LIMIT + rcx * 2]
    mov edx, 0xFFFF
    vmwrite rax, rdx
    lea eax, [F_GUEST_ES_AR_BYTES + rcx * 2]
    mov edx, 0x93
    cmp ecx, 1
    jne .ar
    mov edx, 0x9B
.ar:
    vmwrite rax, rdx
    inc ecx
    cmp ecx, 6
    jb .seg
    ; TR: a busy 32-bit TSS at 0 (the checks want a usable busy TSS even in real mode)
    mov eax, F_GUEST_TR_SELECTOR
    xor edx, edx
    vmwrite rax, rdx
    mov eax, F_GUEST_TR_BASE
    vmwrite rax, rdx
    mov eax, F_GUEST_TR_LIMIT
    mov edx, 0xFFFF
    vmwrite rax, rdx
    ; the real-mode IVT: IDTR base 0, limit 0x3FF; GDTR unused
    mov eax, F_GUEST_IDTR_BASE
    xor edx, edx
    vmwrite rax, rdx
    mov eax, F_GUEST_IDTR_LIMIT
    mov edx, 0x3FF
    vmwrite rax, rdx
    mov eax, F_GUEST_GDTR_BASE
    xor edx, edx
    vmwrite rax, rdx
    mov eax, F_GUEST_GDTR_LIMIT
    mov edx, 0xFFFF
    vmwrite rax, rdx
    mov eax, F_GUEST_RIP
    xor edx, edx
    vmwrite rax, rdx
    mov eax, F_GUEST_RSP
    mov edx, 0xFFF0
    vmwrite rax, rdx
    ret

; the real-mode guest: 16-bit code, position independent (data by offset from its segment base)
bits 16
guest16:
    xor eax, eax
    xor ecx, ecx
    cpuid                       ; exits: the hypervisor answers
    mov [vendor16 - guest16], ebx
    mov [vendor16 - guest16 + 4], edx
    mov [vendor16 - guest16 + 8], ecx
    mov si, gmsg16 - guest16
    call gputs16
    mov si, vendor16 - guest16
    call gputs16
    mov si, crlf16 - guest16
    call gputs16
    vmcall                      ; "I am done"
    jmp $
gputs16:
    lodsb
    test al, al
    jz .done
    mov dx, COM1
    out dx, al                  ; each byte a VM exit
    jmp gputs16
.done:
    ret
gmsg16: db "guest: hello from real mode (unrestricted guest + EPT), CPUID vendor is ", 0
vendor16: times 13 db 0
crlf16: db 13, 10, 0
guest16_end:
bits 64

; ---- the guest: 64-bit, ring 0, same page tables ----
guest:
    xor eax, eax
    xor ecx, ecx
    cpuid                       ; exits: the hypervisor answers
    mov [rel vendor], ebx
    mov [rel vendor + 4], edx
    mov [rel vendor + 8], ecx
    lea rsi, [rel gmsg]
    call gputs
    lea rsi, [rel vendor]
    call gputs
    lea rsi, [rel msg_crlf]
    call gputs
    vmcall                      ; "I am done"
    jmp $

; gputs: the guest's own string output, one OUT per byte (each one a VM exit)
gputs:
    lodsb
    test al, al
    jz .done
    mov dx, COM1
    out dx, al
    jmp gputs
.done:
    ret

; ---- host helpers (root operation) ----
putc:
    push rdx
    push rax
    mov dx, COM1 + 5
.wait:
    in al, dx
    test al, 0x20
    jz .wait
    pop rax
    mov dx, COM1
    out dx, al
    pop rdx
    ret

put_dec:                        ; rax unsigned
    push rbx
    push rcx
    push rdx
    mov rbx, 10
    xor ecx, ecx
.div:
    xor edx, edx
    div rbx
    push rdx
    inc ecx
    test rax, rax
    jnz .div
.out:
    pop rax
    add al, '0'
    call putc
    loop .out
    pop rdx
    pop rcx
    pop rbx
    ret
%endif

puts:
%ifndef BENCH
    lodsb
    test al, al
    jz .done
    call putc
    jmp puts
.done:
%endif
    ret

put_hex:                        ; eax
%ifndef BENCH
    push rcx
    mov ecx, 8
.l:
    rol eax, 4
    push rax
    and al, 15
    add al, '0'
    cmp al, '9'
    jbe .d
    add al, 7
.d:
    call putc
    pop rax
    loop .l
    pop rcx
%endif
    ret

; ---------------------------------------------------------------------------------------------------
section .data align=16
gdt:
    dq 0
    dq 0x00AF9B000000FFFF       ; 0x08 64-bit code
    dq 0x00CF93000000FFFF       ; 0x10 data
    ; 0x18 64-bit TSS (16 bytes): base = tss, limit 0x67
    dw 0x67, 0
    db 0, 0x89, 0, 0
    dq 0
gdt_end:
gdtr:
    dw gdt_end - gdt - 1
    dq gdt

align 16
tss: times 0x68 db 0

; (encoding, value) pairs written by VMWRITE; -1 ends the table
align 8
vmcs_table:
    dq F_EXCEPTION_BITMAP, 0
    dq F_VMCS_LINK_POINTER, -1
    dq F_GUEST_DR7, 0x400
    dq F_GUEST_ES_SELECTOR + 0, SEL_DATA
    dq F_GUEST_ES_SELECTOR + 2, SEL_CODE
    dq F_GUEST_ES_SELECTOR + 4, SEL_DATA
    dq F_GUEST_ES_SELECTOR + 6, SEL_DATA
    dq F_GUEST_ES_SELECTOR + 8, SEL_DATA
    dq F_GUEST_ES_SELECTOR + 10, SEL_DATA
    dq F_GUEST_TR_SELECTOR, SEL_TSS
    dq F_GUEST_ES_LIMIT + 0, 0xFFFFFFFF
    dq F_GUEST_ES_LIMIT + 2, 0xFFFFFFFF
    dq F_GUEST_ES_LIMIT + 4, 0xFFFFFFFF
    dq F_GUEST_ES_LIMIT + 6, 0xFFFFFFFF
    dq F_GUEST_ES_LIMIT + 8, 0xFFFFFFFF
    dq F_GUEST_ES_LIMIT + 10, 0xFFFFFFFF
    dq F_GUEST_ES_AR_BYTES + 0, 0xC093
    dq F_GUEST_ES_AR_BYTES + 2, 0xA09B
    dq F_GUEST_ES_AR_BYTES + 4, 0xC093
    dq F_GUEST_ES_AR_BYTES + 6, 0xC093
    dq F_GUEST_ES_AR_BYTES + 8, 0xC093
    dq F_GUEST_ES_AR_BYTES + 10, 0xC093
    dq F_GUEST_LDTR_AR_BYTES, 0x10000       ; unusable
    dq F_GUEST_TR_LIMIT, 0x67
    dq F_GUEST_TR_AR_BYTES, 0x8B            ; busy 64-bit TSS
    dq F_GUEST_TR_BASE, tss
    dq F_GUEST_GDTR_BASE, gdt
    dq F_GUEST_GDTR_LIMIT, gdt_end - gdt - 1
    dq F_GUEST_IDTR_LIMIT, 0
    dq F_GUEST_RFLAGS, 2
    dq F_GUEST_RSP, guest_stack_top
    dq F_GUEST_RIP, guest
    dq F_HOST_ES_SELECTOR, SEL_DATA
    dq F_HOST_CS_SELECTOR, SEL_CODE
    dq F_HOST_SS_SELECTOR, SEL_DATA
    dq F_HOST_DS_SELECTOR, SEL_DATA
    dq F_HOST_TR_SELECTOR, SEL_TSS
    dq F_HOST_TR_BASE, tss
    dq F_HOST_GDTR_BASE, gdt
    dq F_HOST_RSP, host_stack_top
    dq F_HOST_RIP, host_exit
    dq -1

vmxon_ptr: dq vmxon_region
vmcs_ptr: dq vmcs_region
use_true: db 0
use_real: db 0

%ifndef BENCH
align 8
g_rax: dq 0
g_rbx: dq 0
g_rcx: dq 0
g_rdx: dq 0
g_rsi: dq 0
n_io: dq 0
n_chars: dq 0
n_cpuid: dq 0
vendor: times 13 db 0

msg_hello: db "mini-hypervisor: 64-bit host, enabling VMX", 13, 10, 0
msg_ug_yes: db "mini-hypervisor: the CPU offers unrestricted guest + EPT: launching a real-mode guest", 13, 10, 0
msg_ug_no: db "mini-hypervisor: no unrestricted guest + EPT on this CPU model: launching a 64-bit guest", 13, 10, 0
msg_unexpected: db "mini-hypervisor: unexpected VM exit, reason 0x", 0
msg_sum1: db "mini-hypervisor: the guest is done: ", 0
msg_sum2: db " I/O exits (", 0
msg_sum3: db " bytes to COM1), ", 0
msg_sum4: db " CPUID exits", 13, 10, 0
gmsg: db "guest: hello from VMX non-root operation, CPUID vendor is ", 0
%endif
msg_no_vmx: db "mini-hypervisor: CPUID.1:ECX.VMX = 0, no VMX", 13, 10, 0
msg_no_fc: db "mini-hypervisor: IA32_FEATURE_CONTROL does not enable VMX (not locked or bit 2 clear)", 13, 10, 0
msg_vmfail: db "mini-hypervisor: VMX instruction failed, VM-instruction error 0x", 0
msg_crlf: db 13, 10, 0

section .bss align=4096
vmxon_region: resb 4096
vmcs_region: resb 4096
    resb 4096
host_stack_top:
    resb 4096
guest_stack_top:
