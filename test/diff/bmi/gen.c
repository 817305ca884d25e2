/*
 * test/diff/bmi/gen.c — native reference vectors for the VEX-encoded BMI1/BMI2 instructions
 * (ANDN BEXTR BLSI BLSMSK BLSR BZHI MULX PDEP PEXT RORX SARX SHLX SHRX).
 *
 * Same mechanism, file format, PRNG and self-checks as ../gen.c (see ../README.md); written as a
 * separate, single-stage program because the forms are few:
 *
 *   - every form is one line of Intel-syntax assembly in FORMS below; the toplevel asm block at
 *     the end of this file assembles them all into a table (length byte + machine code per form),
 *     so nothing is hand-encoded;
 *   - each vector copies the form's code (immediate patched) plus RET into an executable page,
 *     loads every general register and RFLAGS, CALLs it, and stores everything back;
 *   - each vector runs twice with different random values in the undeclared registers: the
 *     declared outputs, flags and memory must agree (no hidden input) and undeclared registers must
 *     come back unchanged (no hidden output); the bytes around the memory buffer must be intact.
 *
 * Build and run with build.sh (next to this file); it writes ../vectors/bmi64.json.gz and
 * ../vectors/bmi32.json.gz. Deterministic: same CPU + same source => identical files.
 *
 * Undefined flags recorded in "u" (SDM): ANDN AF PF; BEXTR AF SF PF; BLSI BLSMSK BLSR AF PF;
 * BZHI AF PF. MULX PDEP PEXT RORX SARX SHLX SHRX leave every flag unchanged (so "u" is 0 and a
 * test checks that the flags did not change).
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#ifdef __x86_64__
#define BITS 64
#define REGMASK 0xffffffffffffffffULL
#define NREGS 16
#else
#define BITS 32
#define REGMASK 0xffffffffULL
#define NREGS 8
#endif

typedef uint64_t u64;

/* ------------------------------------------------------------------ forms */
/* Vectors per form: NVEC (the same as ../gen.c; BEXTR and BZHI register forms 1.5x, for their
   start/length/index edges). build.sh may override it with -DNVEC=...; ../README.md "Counts and
   size" has the budget. */
#ifndef NVEC
#define NVEC 2000
#endif
#define N NVEC

/* X(asm, count) — "{i}" in the text stands for the imm8 (placeholder 0x7f when assembling).
   The memory operand is always [rdi] / [edi]. */
#if BITS == 64
#define FORMS(X)                                                                                   \
    X("andn eax, ebx, ecx", N)                                                                     \
    X("andn rax, rbx, rcx", N)                                                                     \
    X("andn esi, ebp, edx", N)                                                                     \
    X("andn r12, r13, r14", N)                                                                     \
    X("andn eax, ebx, dword ptr [rdi]", N)                                                         \
    X("andn rax, rbx, qword ptr [rdi]", N)                                                         \
    X("bextr eax, ebx, ecx", N * 3 / 2)                                                            \
    X("bextr rax, rbx, rcx", N * 3 / 2)                                                            \
    X("bextr r9, r10, r11", N)                                                                     \
    X("bextr eax, dword ptr [rdi], ecx", N)                                                        \
    X("bextr rax, qword ptr [rdi], rcx", N)                                                        \
    X("blsi eax, ebx", N)                                                                          \
    X("blsi rax, rbx", N)                                                                          \
    X("blsi r8, r15", N)                                                                           \
    X("blsi eax, dword ptr [rdi]", N)                                                              \
    X("blsi rax, qword ptr [rdi]", N)                                                              \
    X("blsmsk eax, ebx", N)                                                                        \
    X("blsmsk rax, rbx", N)                                                                        \
    X("blsmsk eax, dword ptr [rdi]", N)                                                            \
    X("blsmsk rax, qword ptr [rdi]", N)                                                            \
    X("blsr eax, ebx", N)                                                                          \
    X("blsr rax, rbx", N)                                                                          \
    X("blsr eax, dword ptr [rdi]", N)                                                              \
    X("blsr rax, qword ptr [rdi]", N)                                                              \
    X("bzhi eax, ebx, ecx", N * 3 / 2)                                                             \
    X("bzhi rax, rbx, rcx", N * 3 / 2)                                                             \
    X("bzhi r10d, r11d, r12d", N)                                                                  \
    X("bzhi eax, dword ptr [rdi], ecx", N)                                                         \
    X("bzhi rax, qword ptr [rdi], rcx", N)                                                         \
    X("mulx eax, ebx, ecx", N)                                                                     \
    X("mulx rax, rbx, rcx", N)                                                                     \
    X("mulx eax, eax, ecx", N)                                                                     \
    X("mulx rax, rax, rcx", N)                                                                     \
    X("mulx r8, r9, r10", N)                                                                       \
    X("mulx eax, ebx, dword ptr [rdi]", N)                                                         \
    X("mulx rax, rbx, qword ptr [rdi]", N)                                                         \
    X("pdep eax, ebx, ecx", N)                                                                     \
    X("pdep rax, rbx, rcx", N)                                                                     \
    X("pdep r13, r14, r15", N)                                                                     \
    X("pdep eax, ebx, dword ptr [rdi]", N)                                                         \
    X("pdep rax, rbx, qword ptr [rdi]", N)                                                         \
    X("pext eax, ebx, ecx", N)                                                                     \
    X("pext rax, rbx, rcx", N)                                                                     \
    X("pext r13, r14, r15", N)                                                                     \
    X("pext eax, ebx, dword ptr [rdi]", N)                                                         \
    X("pext rax, rbx, qword ptr [rdi]", N)                                                         \
    X("rorx eax, ebx, {i}", N)                                                                     \
    X("rorx rax, rbx, {i}", N)                                                                     \
    X("rorx r11, r12, {i}", N)                                                                     \
    X("rorx eax, dword ptr [rdi], {i}", N)                                                         \
    X("rorx rax, qword ptr [rdi], {i}", N)                                                         \
    X("sarx eax, ebx, ecx", N)                                                                     \
    X("sarx rax, rbx, rcx", N)                                                                     \
    X("sarx eax, dword ptr [rdi], ecx", N)                                                         \
    X("sarx rax, qword ptr [rdi], rcx", N)                                                         \
    X("shlx eax, ebx, ecx", N)                                                                     \
    X("shlx rax, rbx, rcx", N)                                                                     \
    X("shlx r8d, r9d, r10d", N)                                                                    \
    X("shlx eax, dword ptr [rdi], ecx", N)                                                         \
    X("shlx rax, qword ptr [rdi], rcx", N)                                                         \
    X("shrx eax, ebx, ecx", N)                                                                     \
    X("shrx rax, rbx, rcx", N)                                                                     \
    X("shrx eax, dword ptr [rdi], ecx", N)                                                         \
    X("shrx rax, qword ptr [rdi], rcx", N)
#else
#define FORMS(X)                                                                                   \
    X("andn eax, ebx, ecx", N)                                                                     \
    X("andn esi, ebp, edx", N)                                                                     \
    X("andn eax, ebx, dword ptr [edi]", N)                                                         \
    X("bextr eax, ebx, ecx", N * 3 / 2)                                                            \
    X("bextr eax, dword ptr [edi], ecx", N)                                                        \
    X("blsi eax, ebx", N)                                                                          \
    X("blsi eax, dword ptr [edi]", N)                                                              \
    X("blsmsk eax, ebx", N)                                                                        \
    X("blsmsk eax, dword ptr [edi]", N)                                                            \
    X("blsr eax, ebx", N)                                                                          \
    X("blsr eax, dword ptr [edi]", N)                                                              \
    X("bzhi eax, ebx, ecx", N * 3 / 2)                                                             \
    X("bzhi eax, dword ptr [edi], ecx", N)                                                         \
    X("mulx eax, ebx, ecx", N)                                                                     \
    X("mulx eax, eax, ecx", N)                                                                     \
    X("mulx eax, ebx, dword ptr [edi]", N)                                                         \
    X("pdep eax, ebx, ecx", N)                                                                     \
    X("pdep eax, ebx, dword ptr [edi]", N)                                                         \
    X("pext eax, ebx, ecx", N)                                                                     \
    X("pext eax, ebx, dword ptr [edi]", N)                                                         \
    X("rorx eax, ebx, {i}", N)                                                                     \
    X("rorx eax, dword ptr [edi], {i}", N)                                                         \
    X("sarx eax, ebx, ecx", N)                                                                     \
    X("sarx eax, dword ptr [edi], ecx", N)                                                         \
    X("shlx eax, ebx, ecx", N)                                                                     \
    X("shlx eax, dword ptr [edi], ecx", N)                                                         \
    X("shrx eax, ebx, ecx", N)                                                                     \
    X("shrx eax, dword ptr [edi], ecx", N)
#endif

#define TEXT(s, n) s,
#define COUNT(s, n) n,
static const char *form_text[] = {FORMS(TEXT)};
static const int form_n[] = {FORMS(COUNT)};
#define NFORMS ((int)(sizeof form_text / sizeof form_text[0]))

/* The assembled table (stage 1 prints it, see PRINT_ASM): per form a length byte, then the code
   as the assembler produced it, with the placeholder immediate 0x7f where the text has "{i}". */
extern const unsigned char bmi_forms[];

/* ------------------------------------------------------------------ PRNG */
static u64 rs = 1, rs2 = 1;
static u64 xs(u64 *s) {
    u64 x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}
static u64 rnd(void) { return xs(&rs); }
static u64 rndn(u64 n) { return n ? rnd() % n : 0; }
static u64 fnv(const char *s) {
    u64 h = 0xcbf29ce484222325ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

#define CF 0x001u
#define PF 0x004u
#define AF 0x010u
#define ZF 0x040u
#define SF 0x080u
#define DF 0x400u
#define OF 0x800u
#define STATUS (CF | PF | AF | ZF | SF | OF)
#define OUTMASK (STATUS | DF | 2u)

enum { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15 };
static const char *R64n[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                               "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};
static const char *R32n[16] = {"eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi",
                               "r8d", "r9d", "r10d", "r11d", "r12d", "r13d", "r14d", "r15d"};

static int regof(const char *t) {
    for (int i = 0; i < 16; i++)
        if (!strcmp(t, R64n[i]) || !strcmp(t, R32n[i])) return i;
    return -1;
}

#ifdef PRINT_ASM
/* Stage 1: print the assembly table (the placeholder immediate replaces "{i}"). */
int main(void) {
    printf(".intel_syntax noprefix\n.section .rodata\n.globl bmi_forms\nbmi_forms:\n");
    for (int k = 0; k < NFORMS; k++) {
        char line[128];
        const char *p = strstr(form_text[k], "{i}");
        if (p) snprintf(line, sizeof line, "%.*s0x7f%s", (int)(p - form_text[k]), form_text[k], p + 3);
        else snprintf(line, sizeof line, "%s", form_text[k]);
        printf("  .byte f%de - f%ds\nf%ds:\n  %s\nf%de:\n", k, k, k, line, k);
    }
    printf(".att_syntax prefix\n.section .note.GNU-stack,\"\",@progbits\n");
    return 0;
}
#else

/* ------------------------------------------------------------- forms */
typedef struct {
    const char *text;
    char mn[16];
    int n, size, imm, msz, memreg;
    int nregs, regs[8];
    int isptr[16];
    int dst, src, ctl; /* operand registers (-1 = memory / none) by role */
    u64 seed;
    const unsigned char *code;
    int len;
} Form;
static Form forms[64];

static void addreg(Form *f, int r) {
    for (int i = 0; i < f->nregs; i++)
        if (f->regs[i] == r) return;
    f->regs[f->nregs++] = r;
}

static void finalize(Form *f) {
    const char *p = f->text;
    int depth = 0, first = 1, opn = 0;
    int ops[3] = {-1, -1, -1};
    f->size = 32;
    while (*p) {
        if (*p == '[') { depth++; p++; continue; }
        if (*p == ']') { depth--; p++; continue; }
        if (*p == ',') { opn++; p++; continue; }
        if ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')) {
            char tok[32];
            int k = 0;
            while ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')) {
                if (k < 31) tok[k++] = *p;
                p++;
            }
            tok[k] = 0;
            if (first) { strcpy(f->mn, tok); first = 0; continue; }
            int r = regof(tok);
            if (r >= 0) {
                addreg(f, r);
                if (depth) { f->isptr[r] = 1; f->memreg = r; f->msz = 16; }
                else {
                    ops[opn] = r;
                    if (!strcmp(tok, R64n[r])) f->size = 64;
                }
            }
            continue;
        }
        p++;
    }
    if (!strcmp(f->mn, "mulx")) addreg(f, RDX);
    if (strstr(f->text, "{i}")) f->imm = 1;
    f->dst = ops[0];
    f->src = ops[1];
    f->ctl = ops[2];
    f->seed = fnv(f->text) ^ (BITS == 64 ? 0x9E3779B97F4A7C15ULL : 0xC2B2AE3D27D4EB4FULL);
    if (!f->seed) f->seed = 1;
}

/* ------------------------------------------------------------- native run */
u64 g_in[17], g_out[17];
void *g_code;
void run_native(void);

#if BITS == 64
__asm__(".intel_syntax noprefix\n"
        ".text\n"
        ".globl run_native\n"
        "run_native:\n"
        "  push rbx\n  push rbp\n  push r12\n  push r13\n  push r14\n  push r15\n"
        "  push qword ptr [rip + g_in + 128]\n"
        "  mov rax, [rip + g_in + 0]\n"
        "  mov rcx, [rip + g_in + 8]\n"
        "  mov rdx, [rip + g_in + 16]\n"
        "  mov rbx, [rip + g_in + 24]\n"
        "  mov rbp, [rip + g_in + 40]\n"
        "  mov rsi, [rip + g_in + 48]\n"
        "  mov rdi, [rip + g_in + 56]\n"
        "  mov r8, [rip + g_in + 64]\n"
        "  mov r9, [rip + g_in + 72]\n"
        "  mov r10, [rip + g_in + 80]\n"
        "  mov r11, [rip + g_in + 88]\n"
        "  mov r12, [rip + g_in + 96]\n"
        "  mov r13, [rip + g_in + 104]\n"
        "  mov r14, [rip + g_in + 112]\n"
        "  mov r15, [rip + g_in + 120]\n"
        "  popfq\n"
        "  call qword ptr [rip + g_code]\n"
        "  pushfq\n"
        "  cld\n"
        "  mov [rip + g_out + 0], rax\n"
        "  mov [rip + g_out + 8], rcx\n"
        "  mov [rip + g_out + 16], rdx\n"
        "  mov [rip + g_out + 24], rbx\n"
        "  mov [rip + g_out + 40], rbp\n"
        "  mov [rip + g_out + 48], rsi\n"
        "  mov [rip + g_out + 56], rdi\n"
        "  mov [rip + g_out + 64], r8\n"
        "  mov [rip + g_out + 72], r9\n"
        "  mov [rip + g_out + 80], r10\n"
        "  mov [rip + g_out + 88], r11\n"
        "  mov [rip + g_out + 96], r12\n"
        "  mov [rip + g_out + 104], r13\n"
        "  mov [rip + g_out + 112], r14\n"
        "  mov [rip + g_out + 120], r15\n"
        "  pop qword ptr [rip + g_out + 128]\n"
        "  pop r15\n  pop r14\n  pop r13\n  pop r12\n  pop rbp\n  pop rbx\n"
        "  ret\n"
        ".att_syntax prefix\n");
#else
__asm__(".intel_syntax noprefix\n"
        ".text\n"
        ".globl run_native\n"
        "run_native:\n"
        "  push ebx\n  push ebp\n  push esi\n  push edi\n"
        "  push dword ptr [g_in + 128]\n"
        "  mov eax, [g_in + 0]\n"
        "  mov ecx, [g_in + 8]\n"
        "  mov edx, [g_in + 16]\n"
        "  mov ebx, [g_in + 24]\n"
        "  mov ebp, [g_in + 40]\n"
        "  mov esi, [g_in + 48]\n"
        "  mov edi, [g_in + 56]\n"
        "  popfd\n"
        "  call dword ptr [g_code]\n"
        "  pushfd\n"
        "  cld\n"
        "  mov [g_out + 0], eax\n"
        "  mov [g_out + 8], ecx\n"
        "  mov [g_out + 16], edx\n"
        "  mov [g_out + 24], ebx\n"
        "  mov [g_out + 40], ebp\n"
        "  mov [g_out + 48], esi\n"
        "  mov [g_out + 56], edi\n"
        "  pop dword ptr [g_out + 128]\n"
        "  pop edi\n  pop esi\n  pop ebp\n  pop ebx\n"
        "  ret\n"
        ".att_syntax prefix\n");
#endif

static sigjmp_buf jb;
static volatile sig_atomic_t g_sig;
static void on_sig(int s) {
    g_sig = s;
    siglongjmp(jb, 1);
}

static void die(const Form *f, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bmi gen%d: form \"%s\": ", BITS, f ? f->text : "?");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static unsigned char area[4096] __attribute__((aligned(4096)));
#define BUFOFF 1024
#define CANLO (BUFOFF - 256)
#define CANHI (BUFOFF + 512)
static unsigned char *jit;

typedef struct {
    u64 r[16];
    u64 fl;
    u64 imm;
    unsigned char mem[16];
} State;

static unsigned char canary(int i) { return (unsigned char)(0xA5 ^ (i * 7)); }

static void run_once(const Form *f, const State *in, const u64 *oth, State *out) {
    unsigned char *buf = area + BUFOFF;
    u64 base = (u64)(uintptr_t)buf;
    for (int i = CANLO; i < CANHI; i++) area[i] = canary(i);
    memcpy(buf, in->mem, f->msz);
    for (int r = 0; r < 16; r++) g_in[r] = oth[r] & REGMASK;
    for (int i = 0; i < f->nregs; i++) {
        int r = f->regs[i];
        g_in[r] = (f->isptr[r] ? base + in->r[r] : in->r[r]) & REGMASK;
    }
    g_in[RSP] = 0;
    g_in[16] = in->fl;
    memset(g_out, 0, sizeof g_out);
    g_sig = 0;
    if (sigsetjmp(jb, 1)) die(f, "signal %d", (int)g_sig);
    run_native();
    for (int r = 0; r < 16; r++) out->r[r] = g_out[r] & REGMASK;
    for (int i = 0; i < f->nregs; i++) {
        int r = f->regs[i];
        if (f->isptr[r]) out->r[r] = (g_out[r] - base) & REGMASK;
    }
    out->fl = g_out[16] & OUTMASK;
    if ((g_out[16] & ~(u64)(OUTMASK | 0x200)) != (g_in[16] & ~(u64)(OUTMASK | 0x200)))
        die(f, "non-status rflags bits changed");
    memcpy(out->mem, buf, f->msz);
    for (int i = CANLO; i < CANHI; i++)
        if ((i < BUFOFF || i >= BUFOFF + f->msz) && area[i] != canary(i)) die(f, "wrote outside the buffer");
    for (int r = 0; r < NREGS; r++) {
        if (r == RSP) continue;
        int listed = 0;
        for (int i = 0; i < f->nregs; i++) listed |= f->regs[i] == r;
        if (!listed && g_out[r] != g_in[r]) die(f, "undeclared register %s changed", R64n[r]);
    }
}

/* ------------------------------------------------------- input generation */
static u64 maskof(int size) { return size >= 64 ? ~0ULL : ((1ULL << size) - 1); }

/* Per form (as ../gen.c): the memory filler around the operand and the upper-bits pattern, drawn
   once from the stream seeded with seed XOR 0xF11F11F11F11F11F. */
static unsigned char g_fill[16];
static u64 g_hipat;
static void fill_form(const Form *f) {
    u64 st = f->seed ^ 0xF11F11F11F11F11FULL;
    if (!st) st = 1;
    for (int j = 0; j < 64; j += 8) {
        u64 v = xs(&st);
        if (j < 16) memcpy(g_fill + j, &v, 8);
    }
    g_hipat = xs(&st);
}

static u64 special(int size) {
    u64 m = maskof(size), sign = 1ULL << (size - 1);
    switch (rndn(12)) {
    case 0: return 0;
    case 1: return 1;
    case 2: return m;
    case 3: return sign;
    case 4: return sign - 1;
    case 5: return sign + 1;
    case 6: return m - 1;
    case 7: return 2;
    case 8: return 1ULL << rndn(size);
    case 9: return ~(1ULL << rndn(size)) & m;
    case 10: return rndn(16);
    default: return m - rndn(16);
    }
}
/* random register value: upper bits random (20%), the form's pattern (70%) or zero (10%); low `size`
   bits uniform / boundary / variable width / sparse or dense (as ../gen.c) */
static u64 rv(int size) {
    u64 hi = rnd(), lo;
    int k = (int)rndn(100);
    if (k < 40) lo = rnd();
    else if (k < 65) lo = special(size);
    else if (k < 85) {
        lo = rnd() >> rndn(64);
        if (rnd() & 1) lo = ~lo;
    } else if (k < 93) lo = rnd() & rnd() & rnd();
    else lo = rnd() | rnd() | rnd();
    int h = (int)rndn(10);
    if (h == 0) hi = 0;
    else if (h < 8) hi = g_hipat;
    u64 m = maskof(size);
    return ((hi & ~m) | (lo & m)) & REGMASK;
}
static unsigned randflags(void) { return 2u | ((unsigned)rnd() & STATUS); }

/* a bit index / count around the interesting range: 0..size+8 mostly, any byte sometimes */
static u64 index8(int size) {
    int k = (int)rndn(100);
    if (k < 15) return (u64)(size - 1 + (int)rndn(3));
    if (k < 25) return rndn(256);
    if (k < 30) return 0;
    return rndn((u64)size + 8);
}

static void set_low(State *s, int r, u64 v, u64 mask) { s->r[r] = ((s->r[r] & ~mask) | (v & mask)) & REGMASK; }

static void gen_inputs(const Form *f, State *s) {
    memset(s, 0, sizeof *s);
    for (int i = 0; i < f->nregs; i++) s->r[f->regs[i]] = rv(f->size);
    s->fl = randflags();
    if (f->msz) {
        memcpy(s->mem, g_fill, f->msz);
        s->r[f->memreg] = rndn(f->msz - f->size / 8 + 1);
        u64 v = rv(f->size);
        memcpy(s->mem + s->r[f->memreg], &v, f->size / 8);
    }
    const char *mn = f->mn;
    if (!strcmp(mn, "bextr")) {
        /* control: start = bits 7:0, length = bits 15:8 */
        u64 start = index8(f->size), len = index8(f->size);
        if (rndn(10) == 0) len = 0;
        u64 ctl = rndn(8) ? (start | (len << 8)) : rnd();
        set_low(s, f->ctl, ctl, rndn(4) ? 0xffff : REGMASK);
    } else if (!strcmp(mn, "bzhi")) {
        set_low(s, f->ctl, index8(f->size), rndn(4) ? 0xff : 0);
    } else if (!strcmp(mn, "sarx") || !strcmp(mn, "shlx") || !strcmp(mn, "shrx")) {
        set_low(s, f->ctl, index8(f->size), 0xff);
    } else if (f->imm) {
        s->imm = index8(f->size) & 0xff;
    }
    /* a zero r/m operand 10% of the time (BLS* source, ANDN second source, PDEP/PEXT mask) */
    if (!strncmp(mn, "bls", 3) || !strcmp(mn, "andn") || !strcmp(mn, "pdep") || !strcmp(mn, "pext")) {
        if (rndn(10) == 0) {
            int r = f->src >= 0 && strncmp(mn, "bls", 3) ? f->ctl : f->src;
            if (r >= 0) set_low(s, r, 0, maskof(f->size));
            else memset(s->mem + s->r[f->memreg], 0, f->size / 8);
        }
    }
}

static unsigned undef_mask(const Form *f) {
    const char *mn = f->mn;
    if (!strcmp(mn, "andn") || !strcmp(mn, "bzhi") || !strncmp(mn, "bls", 3)) return AF | PF;
    if (!strcmp(mn, "bextr")) return AF | SF | PF;
    return 0;
}

/* ----------------------------------------------------------------- output */
static void hexmem(FILE *fp, const unsigned char *m, int n) {
    for (int i = 0; i < n; i++) fprintf(fp, "%02x", m[i]);
}

static void gen_form(FILE *fp, Form *f, int first) {
    if (f->imm) {
        if (f->len < 1 || f->code[f->len - 1] != 0x7f) die(f, "immediate is not the trailing byte");
    }
    fprintf(fp, "%s{\"asm\":\"%s\",\"code\":\"", first ? "" : ",\n", f->text);
    hexmem(fp, f->code, f->len);
    fprintf(fp, "\",\"regs\":[");
    for (int i = 0; i < f->nregs; i++) fprintf(fp, "%s\"%s\"", i ? "," : "", R64n[f->regs[i]]);
    fprintf(fp, "]");
    int np = 0;
    for (int i = 0; i < f->nregs; i++)
        if (f->isptr[f->regs[i]]) fprintf(fp, "%s\"%s\"", np++ ? "," : ",\"ptr\":[", R64n[f->regs[i]]);
    if (np) fprintf(fp, "]");
    if (f->imm) fprintf(fp, ",\"imm\":1,\"isx\":0");
    if (f->msz) fprintf(fp, ",\"msz\":%d", f->msz);
    fprintf(fp, ",\"seed\":\"%llx\",\"v\":[\n", (unsigned long long)f->seed);
    rs = f->seed;
    rs2 = f->seed ^ 0x5DEECE66DULL;
    fill_form(f);
    for (int vi = 0; vi < f->n; vi++) {
        State in, a, b;
        u64 othA[16], othB[16];
        gen_inputs(f, &in);
        for (int r = 0; r < 16; r++) { othA[r] = xs(&rs2); othB[r] = xs(&rs2); }
        memcpy(jit, f->code, f->len);
        if (f->imm) jit[f->len - 1] = (unsigned char)in.imm;
        jit[f->len] = 0xc3;
        run_once(f, &in, othA, &a);
        run_once(f, &in, othB, &b);
        for (int i = 0; i < f->nregs; i++)
            if (a.r[f->regs[i]] != b.r[f->regs[i]]) die(f, "output %s depends on undeclared registers", R64n[f->regs[i]]);
        if (a.fl != b.fl) die(f, "flags depend on undeclared registers");
        if (memcmp(a.mem, b.mem, f->msz)) die(f, "memory depends on undeclared registers");
        /* one vector = one JSON string of space-separated fields (../README.md "File format"):
           [imm] inputs... rflags [mem] outputs... rflags [mem] [u<mask>]; an output equal to its
           input (and an unchanged buffer) is written as "=" */
        fprintf(fp, "%s\"", vi ? ",\n" : "");
        if (f->imm) fprintf(fp, "%llx ", (unsigned long long)in.imm);
        for (int i = 0; i < f->nregs; i++) fprintf(fp, "%llx ", (unsigned long long)in.r[f->regs[i]]);
        fprintf(fp, "%llx", (unsigned long long)in.fl);
        if (f->msz) {
            fputc(' ', fp);
            hexmem(fp, in.mem, f->msz);
        }
        for (int i = 0; i < f->nregs; i++) {
            int r = f->regs[i];
            if (a.r[r] == in.r[r]) fprintf(fp, " =");
            else fprintf(fp, " %llx", (unsigned long long)a.r[r]);
        }
        if (a.fl == in.fl) fprintf(fp, " =");
        else fprintf(fp, " %llx", (unsigned long long)a.fl);
        if (f->msz) {
            fputc(' ', fp);
            if (memcmp(a.mem, in.mem, f->msz)) hexmem(fp, a.mem, f->msz);
            else fputc('=', fp);
        }
        unsigned u = undef_mask(f);
        if (u) fprintf(fp, " u%x", u);
        fputc('"', fp);
    }
    fprintf(fp, "]}");
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUT.json\n", argv[0]);
        return 2;
    }
    jit = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (jit == MAP_FAILED) { perror("mmap"); return 1; }
    g_code = jit;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sig;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGILL, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    sigaction(SIGFPE, &sa, NULL);
    FILE *fp = fopen(argv[1], "w");
    if (!fp) { perror(argv[1]); return 1; }
    fprintf(fp, "{\"bits\":%d,\"group\":\"bmi\",\"prng\":\"xorshift64*\",\"forms\":[\n", BITS);
    const unsigned char *p = bmi_forms;
    long nvec = 0;
    for (int k = 0; k < NFORMS; k++) {
        Form *f = &forms[k];
        memset(f, 0, sizeof *f);
        f->text = form_text[k];
        f->n = form_n[k];
        f->len = *p++;
        f->code = p;
        p += f->len;
        if (f->len <= 0 || f->len > 15) die(f, "bad encoding length %d", f->len);
        finalize(f);
        gen_form(fp, f, k == 0);
        nvec += f->n;
    }
    fprintf(fp, "\n]}\n");
    fclose(fp);
    printf("bmi%d: %d forms, %ld vectors\n", BITS, NFORMS, nvec);
    return 0;
}
#endif
