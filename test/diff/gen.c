/*
 * gen.c — native reference-vector generator for the differential tests.
 *
 * Runs every instruction form listed in build_forms() on this machine's real
 * CPU, on seeded pseudo-random inputs, and writes JSON test vectors (see
 * README.md in this directory for the format, the PRNG, and the
 * undefined-flags policy).
 *
 * The program is built in two stages by build.sh (never by hand):
 *
 *   stage 1:  gcc -DSTAGE1 gen.c -o gen-stage1 ; ./gen-stage1 > forms.s
 *             prints every form as an assembly line with its own label, plus a
 *             table of offsets, so that the machine code is produced by the
 *             assembler itself (hand-written bytes only for encodings gas never
 *             emits: BSWAP r16, SAL /6, and the 82 /digit ALU alias);
 *   stage 2:  gcc gen.c forms.s -o gen ; ./gen OUTDIR
 *             copies each form's bytes (with the immediate patched per
 *             vector) into an executable page followed by RET, loads all
 *             general registers and RFLAGS from memory, CALLs it, and stores
 *             all registers and RFLAGS back.
 *
 * The same source is compiled with -m64 and -m32 (32-bit mode: BCD forms,
 * the 82 alias, short INC/DEC encodings, 32-bit addressing for string ops).
 * NVEC (default 2000) is the number of vectors per form; see README.md.
 *
 * Self-checks performed for every vector (the program aborts if one fails):
 *   - the vector is executed twice with different random values in all
 *     registers that the form does not declare; the declared outputs, flags
 *     and memory must be identical (catches a missing implicit input), and
 *     every undeclared register must be unchanged (catches a missing output);
 *   - bytes around the memory buffer must be unchanged;
 *   - for immediate forms, the assembler's encoding must end with the
 *     placeholder immediate, so patching the trailing bytes is exact.
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
typedef unsigned __int128 uwide;
typedef __int128 swide;
#else
#define BITS 32
#define REGMASK 0xffffffffULL
typedef uint64_t uwide;
typedef int64_t swide;
#endif

typedef uint64_t u64;
typedef int64_t i64;

/* ------------------------------------------------------------------ PRNG */
/* xorshift64* (Vigna): state never zero; output = state * 0x2545F4914F6CDD1D. */
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
static __attribute__((unused)) u64 rndn(u64 n) { return n ? rnd() % n : 0; }
/* FNV-1a 64 of a string, used to derive each form's seed from its text. */
static u64 fnv(const char *s) {
    u64 h = 0xcbf29ce484222325ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

/* ----------------------------------------------------------------- flags */
#define CF 0x001u
#define PF 0x004u
#define AF 0x010u
#define ZF 0x040u
#define SF 0x080u
#define DF 0x400u
#define OF 0x800u
#define STATUS (CF | PF | AF | ZF | SF | OF)
#define OUTMASK (STATUS | DF | 2u)

/* ------------------------------------------------------------- registers */
enum { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15 };
static const char *R64n[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                               "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};
static const char *R32n[16] = {"eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi",
                               "r8d", "r9d", "r10d", "r11d", "r12d", "r13d", "r14d", "r15d"};
static const char *R16n[16] = {"ax", "cx", "dx", "bx", "sp", "bp", "si", "di",
                               "r8w", "r9w", "r10w", "r11w", "r12w", "r13w", "r14w", "r15w"};
static const char *R8n[16] = {"al", "cl", "dl", "bl", "spl", "bpl", "sil", "dil",
                              "r8b", "r9b", "r10b", "r11b", "r12b", "r13b", "r14b", "r15b"};
static const char *R8h[4] = {"ah", "ch", "dh", "bh"};

static const char *R(int size, int i) {
    switch (size) {
    case 8: return R8n[i];
    case 16: return R16n[i];
    case 32: return R32n[i];
    default: return R64n[i];
    }
}
/* returns reg index, sets *high for ah/ch/dh/bh; -1 if not a register */
static int regof(const char *t, int *high) {
    *high = 0;
    for (int i = 0; i < 16; i++)
        if (!strcmp(t, R64n[i]) || !strcmp(t, R32n[i]) || !strcmp(t, R16n[i]) || !strcmp(t, R8n[i]))
            return i;
    for (int i = 0; i < 4; i++)
        if (!strcmp(t, R8h[i])) { *high = 1; return i; }
    return -1;
}

static const char *PTR = BITS == 64 ? "rdi" : "edi";
static char mbuf[8][48];
static int mbi;
static const char *M(int size) {
    const char *w = size == 8 ? "byte" : size == 16 ? "word" : size == 32 ? "dword" : "qword";
    char *b = mbuf[mbi++ & 7];
    snprintf(b, 48, "%s ptr [%s]", w, PTR);
    return b;
}

static u64 maskof(int size) { return size >= 64 ? ~0ULL : ((1ULL << size) - 1); }
static u64 sext(u64 v, int size) {
    if (size >= 64) return v;
    u64 m = maskof(size);
    v &= m;
    return (v >> (size - 1)) & 1 ? v | ~m : v;
}

/* ----------------------------------------------------------------- forms */
enum {
    K_ALU, K_UN, K_SH, K_SHD, K_BT, K_BSX, K_CNT, K_MUL1, K_IMUL2, K_IMUL3, K_DIV,
    K_BSWAP, K_XADD, K_CMPXCHG, K_MOVX, K_CONV, K_SETCC, K_CMOV, K_FLAG, K_STR, K_BCD, K_AAMD
};
enum { CNT_NONE, CNT_ONE, CNT_CL, CNT_IMM };
enum { OP_NONE = -3, OP_IMM = -2, OP_MEM = -1 };

typedef struct { int type; int high; } Opnd; /* type: reg index >= 0 or OP_* */

typedef struct {
    const char *group;
    char text[96]; /* display template; "{i}" = the per-vector immediate */
    char emit[96]; /* what the assembler gets if different ("" = text) */
    char mn[16];   /* mnemonic (prefixes stripped) */
    int kind, size, n;
    int imm, isx;  /* immediate bytes; 1 if it is sign-extended to the operand size */
    int cnt;       /* shift count source */
    int cc;        /* condition code for SETcc/CMOVcc */
    int rep;       /* string: 0 none, 1 rep/repe, 2 repne */
    int a32;       /* string, 64-bit mode: 67h (32-bit address size) */
    int msz;       /* memory buffer size (0 = no memory) */
    int bitstr;    /* BT family with a register bit offset into memory */
    int nregs, regs[8];
    int isptr[16];
    int memreg;
    Opnd a, b; /* first and second operand */
    u64 seed;
    const unsigned char *code;
    int len;
} Form;

static Form forms[2048];
static int nforms;

static Form *add(const char *group, int kind, int size, int n, const char *fmt, ...) {
    Form *f = &forms[nforms++];
    memset(f, 0, sizeof *f);
    f->group = group;
    f->kind = kind;
    f->size = size;
    f->n = n;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->text, sizeof f->text, fmt, ap);
    va_end(ap);
    return f;
}
static Form *addi(const char *group, int kind, int size, int n, int imm, int isx, const char *fmt, ...) {
    Form *f = &forms[nforms++];
    memset(f, 0, sizeof *f);
    f->group = group;
    f->kind = kind;
    f->size = size;
    f->n = n;
    f->imm = imm;
    f->isx = isx;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->text, sizeof f->text, fmt, ap);
    va_end(ap);
    return f;
}

static void addreg(Form *f, int r) {
    for (int i = 0; i < f->nregs; i++)
        if (f->regs[i] == r) return;
    f->regs[f->nregs++] = r;
}

static Opnd classify(const char *s) {
    Opnd o = {OP_NONE, 0};
    if (strchr(s, '[')) { o.type = OP_MEM; return o; }
    if (strstr(s, "{i}")) { o.type = OP_IMM; return o; }
    char tok[16];
    int k = 0;
    for (; *s; s++) {
        if ((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')) {
            if (k < 15) tok[k++] = *s;
        } else if (k) break;
    }
    tok[k] = 0;
    int hi, r = regof(tok, &hi);
    if (r >= 0) { o.type = r; o.high = hi; }
    return o;
}

static const char *CCN[16] = {"o", "no", "b", "ae", "e", "ne", "be", "a",
                              "s", "ns", "p", "np", "l", "ge", "le", "g"};

static void finalize(Form *f) {
    /* tokens, registers, brackets */
    const char *p = f->text;
    int depth = 0, first = 1;
    const char *ops = NULL;
    while (*p) {
        if (*p == '[') { depth++; p++; continue; }
        if (*p == ']') { depth--; p++; continue; }
        if ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')) {
            char tok[32];
            int k = 0;
            while ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')) {
                if (k < 31) tok[k++] = *p;
                p++;
            }
            tok[k] = 0;
            if (first) {
                static const char *PFX[] = {"lock", "rep", "repe", "repne", "addr32", "es", "cs", "ss", "ds", "fs", "gs"};
                int skip = 0;
                for (size_t q = 0; q < sizeof PFX / sizeof PFX[0]; q++) skip |= !strcmp(tok, PFX[q]);
                if (skip) continue;
                strcpy(f->mn, tok);
                first = 0;
                ops = p;
                continue;
            }
            int hi, r = regof(tok, &hi);
            if (r >= 0) {
                addreg(f, r);
                if (depth) { f->isptr[r] = 1; f->memreg = r; }
            }
            continue;
        }
        p++;
    }
    /* operands */
    f->a.type = f->b.type = OP_NONE;
    if (ops) {
        char buf[96];
        snprintf(buf, sizeof buf, "%s", ops);
        char *c = strchr(buf, ',');
        if (c) {
            *c = 0;
            f->b = classify(c + 1);
        }
        f->a = classify(buf);
    }
    /* implicit registers */
    switch (f->kind) {
    case K_MUL1:
    case K_DIV:
        addreg(f, RAX);
        if (f->size > 8) addreg(f, RDX);
        break;
    case K_CONV:
        addreg(f, RAX);
        if (!strcmp(f->mn, "cwd") || !strcmp(f->mn, "cdq") || !strcmp(f->mn, "cqo")) addreg(f, RDX);
        break;
    case K_FLAG:
        if (!strcmp(f->mn, "lahf") || !strcmp(f->mn, "sahf")) addreg(f, RAX);
        break;
    case K_CMPXCHG:
    case K_BCD:
    case K_AAMD: addreg(f, RAX); break;
    case K_STR: {
        char op = f->mn[0];
        if (op == 'm' || op == 'l' || op == 'c') { addreg(f, RSI); f->isptr[RSI] = 1; }
        if (op == 'm' || op == 's' || op == 'c') { addreg(f, RDI); f->isptr[RDI] = 1; }
        if (op == 's' || op == 'l') addreg(f, RAX);
        if (f->rep) addreg(f, RCX);
        f->msz = 64;
        break;
    }
    default: break;
    }
    if (strchr(f->text, '[') && f->kind != K_STR) f->msz = f->bitstr ? 64 : 16;
    if (strstr(f->text, ", cl") && (f->kind == K_SH || f->kind == K_SHD)) f->cnt = CNT_CL;
    f->seed = fnv(f->text) ^ (BITS == 64 ? 0x9E3779B97F4A7C15ULL : 0xC2B2AE3D27D4EB4FULL);
    if (!f->seed) f->seed = 1;
}

/* Vectors per form. Every form gets NVEC (register forms with 1.5x for DIV/IDIV, whose #DE and
   overflow edges need more draws; BCD 2048 so the first 1024 sweep AL x CF x AF exhaustively).
   build.sh may override it with -DNVEC=...; README.md "Counts and size" has the budget. */
#ifndef NVEC
#define NVEC 2000
#endif
#define N NVEC

static Form *withcnt(Form *f, int cnt) {
    f->cnt = cnt;
    return f;
}

/* SAL r/m, count with ModRM.reg = 6: the alias of SHL (/4) that gas never emits, so hand-encoded.
   mem = 0: the accumulator; mem = 1: [rdi] / [edi] (ModRM 0x37). */
static void add_sal6(int size, int cnt, int mem) {
    static const unsigned char op1[3][2] = {{0xd0, 0xd1}, {0xd2, 0xd3}, {0xc0, 0xc1}}; /* 1, cl, imm8 */
    const char *cs = cnt == CNT_ONE ? "1" : cnt == CNT_CL ? "cl" : "{i}";
    const char *dst = mem ? M(size) : R(size, RAX);
    Form *f = cnt == CNT_IMM ? addi("shift", K_SH, size, N, 1, 0, "sal %s, %s ; /6", dst, cs)
                             : add("shift", K_SH, size, N, "sal %s, %s ; /6", dst, cs);
    f->cnt = cnt;
    char *e = f->emit;
    e += sprintf(e, ".byte ");
    if (size == 16) e += sprintf(e, "0x66, ");
    if (size == 64) e += sprintf(e, "0x48, ");
    e += sprintf(e, "0x%02x, 0x%02x", op1[cnt == CNT_ONE ? 0 : cnt == CNT_CL ? 1 : 2][size > 8], mem ? 0x37 : 0xf0);
    if (cnt == CNT_IMM) sprintf(e, ", 0x7f");
}

/* A string instruction with explicit operands (address size from the pointer register names,
   optional segment override on the source, optional prefix text such as "rep " or "fs rep "). */
static Form *add_str(int o, int size, int rep, const char *pre, int a32, const char *seg) {
    static const char *STRN[] = {"movs", "stos", "lods", "scas", "cmps"};
    const char *w = size == 8 ? "byte" : size == 16 ? "word" : size == 32 ? "dword" : "qword";
    const char *di = a32 || BITS == 32 ? "edi" : "rdi", *si = a32 || BITS == 32 ? "esi" : "rsi";
    const char *acc = R(size, RAX);
    char ops[64];
    switch (o) {
    case 0: snprintf(ops, sizeof ops, "%s ptr [%s], %s ptr %s[%s]", w, di, w, seg, si); break;
    case 1: snprintf(ops, sizeof ops, "%s ptr [%s], %s", w, di, acc); break;
    case 2: snprintf(ops, sizeof ops, "%s, %s ptr %s[%s]", acc, w, seg, si); break;
    case 3: snprintf(ops, sizeof ops, "%s, %s ptr [%s]", acc, w, di); break;
    default: snprintf(ops, sizeof ops, "%s ptr %s[%s], %s ptr [%s]", w, seg, si, w, di); break;
    }
    Form *f = add("string", K_STR, size, N, "%s%s %s", pre, STRN[o], ops);
    f->rep = rep;
    f->a32 = a32;
    return f;
}

static void build_forms(void) {
    static const int S64[] = {8, 16, 32, 64}, S32[] = {8, 16, 32};
    const int *S = BITS == 64 ? S64 : S32;
    const int NS = BITS == 64 ? 4 : 3;
    const int W64 = BITS == 64;
    /* full-size immediate: bytes, and whether it is sign-extended (only imm32 -> 64) */
#define IMMB(s) ((s) == 8 ? 1 : (s) == 16 ? 2 : 4)
#define IMMX(s) ((s) == 64)
    Form *f;

    /* ---------------- alu ---------------- */
    static const char *ALU[] = {"add", "adc", "sub", "sbb", "and", "or", "xor", "cmp"};
    static const int ALUD[] = {0, 2, 5, 3, 4, 1, 6, 7}; /* ModRM.reg of each in the 80..83 group */
    for (int o = 0; o < 8; o++) {
        const char *op = ALU[o];
        for (int i = 0; i < NS; i++) add("alu", K_ALU, S[i], N, "%s %s, %s", op, R(S[i], RAX), R(S[i], RBX));
        add("alu", K_ALU, 8, N, "%s ah, dh", op);
        if (W64) {
            add("alu", K_ALU, 8, N, "%s sil, r9b", op);
            add("alu", K_ALU, 64, N, "%s r10, r13", op);
            add("alu", K_ALU, 32, N, "%s r8d, ecx", op);
        }
        addi("alu", K_ALU, 8, N, 1, 0, "%s al, {i}", op);
        addi("alu", K_ALU, 8, N, 1, 0, "%s cl, {i}", op);
        if (!W64) { /* 82 /digit: the 80 /digit alias, invalid in 64-bit mode (gas never emits it) */
            f = addi("alu", K_ALU, 8, N, 1, 0, "%s cl, {i} ; 82", op);
            snprintf(f->emit, sizeof f->emit, ".byte 0x82, 0x%02x, 0x7f", 0xc1 | ALUD[o] << 3);
        }
        addi("alu", K_ALU, 16, N, 2, 0, "%s cx, {i}", op);
        addi("alu", K_ALU, 16, N, 1, 1, "%s cx, {i} ; imm8", op);
        addi("alu", K_ALU, 16, N, 2, 0, "%s ax, {i}", op);
        addi("alu", K_ALU, 32, N, 4, 0, "%s ecx, {i}", op);
        addi("alu", K_ALU, 32, N, 1, 1, "%s ecx, {i} ; imm8", op);
        addi("alu", K_ALU, 32, N, 4, 0, "%s eax, {i}", op);
        if (W64) {
            addi("alu", K_ALU, 64, N, 4, 1, "%s rcx, {i}", op);
            addi("alu", K_ALU, 64, N, 1, 1, "%s rcx, {i} ; imm8", op);
            addi("alu", K_ALU, 64, N, 4, 1, "%s rax, {i}", op);
        }
        /* memory: destination and source at every size, immediates to memory at every size */
        for (int i = 0; i < NS; i++) {
            add("alu", K_ALU, S[i], N, "%s %s, %s", op, M(S[i]), R(S[i], RBX));
            add("alu", K_ALU, S[i], N, "%s %s, %s", op, R(S[i], RBX), M(S[i]));
            addi("alu", K_ALU, S[i], N, IMMB(S[i]), IMMX(S[i]), "%s %s, {i}", op, M(S[i]));
            if (S[i] > 8) addi("alu", K_ALU, S[i], N, 1, 1, "%s %s, {i} ; imm8", op, M(S[i]));
        }
    }
    for (int i = 0; i < NS; i++) add("alu", K_ALU, S[i], N, "test %s, %s", R(S[i], RAX), R(S[i], RBX));
    add("alu", K_ALU, 8, N, "test ah, bh");
    addi("alu", K_ALU, 8, N, 1, 0, "test al, {i}");
    addi("alu", K_ALU, 8, N, 1, 0, "test cl, {i}");
    addi("alu", K_ALU, 16, N, 2, 0, "test ax, {i}");
    addi("alu", K_ALU, 16, N, 2, 0, "test cx, {i}");
    addi("alu", K_ALU, 32, N, 4, 0, "test eax, {i}");
    addi("alu", K_ALU, 32, N, 4, 0, "test ecx, {i}");
    if (W64) {
        addi("alu", K_ALU, 64, N, 4, 1, "test rax, {i}");
        addi("alu", K_ALU, 64, N, 4, 1, "test rcx, {i}");
    }
    for (int i = 0; i < NS; i++) {
        add("alu", K_ALU, S[i], N, "test %s, %s", M(S[i]), R(S[i], RBX));
        addi("alu", K_ALU, S[i], N, IMMB(S[i]), IMMX(S[i]), "test %s, {i}", M(S[i]));
    }
    static const char *UN[] = {"neg", "not", "inc", "dec"};
    for (int o = 0; o < 4; o++) {
        for (int i = 0; i < NS; i++) add("alu", K_UN, S[i], N, "%s %s", UN[o], R(S[i], RBX));
        add("alu", K_UN, 8, N, "%s ah", UN[o]);
        if (W64) add("alu", K_UN, 64, N, "%s r11", UN[o]);
        for (int i = 0; i < NS; i++) add("alu", K_UN, S[i], N, "%s %s", UN[o], M(S[i]));
    }
    /* lock-prefixed read-modify-write */
    add("alu", K_ALU, 32, N, "lock add %s, ebx", M(32));
    add("alu", K_ALU, 16, N, "lock add %s, bx", M(16));
    add("alu", K_ALU, 8, N, "lock sbb %s, bl", M(8));
    add("alu", K_UN, 16, N, "lock neg %s", M(16));

    /* ---------------- shift ---------------- */
    static const char *SH[] = {"rol", "ror", "rcl", "rcr", "shl", "shr", "sar"};
    for (int o = 0; o < 7; o++) {
        const char *op = SH[o];
        for (int i = 0; i < NS; i++) {
            withcnt(add("shift", K_SH, S[i], N, "%s %s, 1", op, R(S[i], RAX)), CNT_ONE);
            add("shift", K_SH, S[i], N, "%s %s, cl", op, R(S[i], RAX));
            withcnt(addi("shift", K_SH, S[i], N, 1, 0, "%s %s, {i}", op, R(S[i], RAX)), CNT_IMM);
        }
        add("shift", K_SH, 8, N, "%s ah, cl", op);
        if (W64) add("shift", K_SH, 32, N, "%s r9d, cl", op);
        for (int i = 0; i < NS; i++) {
            withcnt(add("shift", K_SH, S[i], N, "%s %s, 1", op, M(S[i])), CNT_ONE);
            add("shift", K_SH, S[i], N, "%s %s, cl", op, M(S[i]));
            withcnt(addi("shift", K_SH, S[i], N, 1, 0, "%s %s, {i}", op, M(S[i])), CNT_IMM);
        }
    }
    for (int i = 0; i < NS; i++) {
        add_sal6(S[i], CNT_ONE, 0);
        add_sal6(S[i], CNT_CL, 0);
        add_sal6(S[i], CNT_IMM, 0);
        add_sal6(S[i], CNT_CL, 1);
    }
    static const char *SHD[] = {"shld", "shrd"};
    for (int o = 0; o < 2; o++) {
        for (int i = 1; i < NS; i++) {
            add("shift", K_SHD, S[i], N, "%s %s, %s, cl", SHD[o], R(S[i], RAX), R(S[i], RBX));
            withcnt(addi("shift", K_SHD, S[i], N, 1, 0, "%s %s, %s, {i}", SHD[o], R(S[i], RAX), R(S[i], RBX)), CNT_IMM);
            add("shift", K_SHD, S[i], N, "%s %s, %s, cl", SHD[o], M(S[i]), R(S[i], RBX));
            withcnt(addi("shift", K_SHD, S[i], N, 1, 0, "%s %s, %s, {i}", SHD[o], M(S[i]), R(S[i], RBX)), CNT_IMM);
        }
    }

    /* ---------------- bit ---------------- */
    static const char *BT[] = {"bt", "bts", "btr", "btc"};
    for (int o = 0; o < 4; o++) {
        for (int i = 1; i < NS; i++) {
            add("bit", K_BT, S[i], N, "%s %s, %s", BT[o], R(S[i], RAX), R(S[i], RBX));
            addi("bit", K_BT, S[i], N, 1, 0, "%s %s, {i}", BT[o], R(S[i], RAX));
            add("bit", K_BT, S[i], N, "%s %s, %s", BT[o], M(S[i]), R(S[i], RBX))->bitstr = 1;
            addi("bit", K_BT, S[i], N, 1, 0, "%s %s, {i}", BT[o], M(S[i]));
        }
    }
    add("bit", K_BT, 32, N, "lock bts %s, ebx", M(32))->bitstr = 1;
    add("bit", K_BT, 16, N, "lock bts %s, bx", M(16))->bitstr = 1;
    static const char *BS[] = {"bsf", "bsr"};
    for (int o = 0; o < 2; o++) {
        for (int i = 1; i < NS; i++) add("bit", K_BSX, S[i], N, "%s %s, %s", BS[o], R(S[i], RAX), R(S[i], RBX));
        for (int i = 1; i < NS; i++) add("bit", K_BSX, S[i], N, "%s %s, %s", BS[o], R(S[i], RAX), M(S[i]));
    }
    static const char *CN[] = {"lzcnt", "tzcnt", "popcnt"};
    for (int o = 0; o < 3; o++) {
        for (int i = 1; i < NS; i++) add("bit", K_CNT, S[i], N, "%s %s, %s", CN[o], R(S[i], RAX), R(S[i], RBX));
        for (int i = 1; i < NS; i++) add("bit", K_CNT, S[i], N, "%s %s, %s", CN[o], R(S[i], RAX), M(S[i]));
    }

    /* ---------------- muldiv ---------------- */
    static const char *MU[] = {"mul", "imul"};
    for (int o = 0; o < 2; o++) {
        for (int i = 0; i < NS; i++) add("muldiv", K_MUL1, S[i], N, "%s %s", MU[o], R(S[i], RBX));
        for (int i = 0; i < NS; i++) add("muldiv", K_MUL1, S[i], N, "%s %s", MU[o], M(S[i]));
    }
    for (int i = 1; i < NS; i++) {
        add("muldiv", K_IMUL2, S[i], N, "imul %s, %s", R(S[i], RAX), R(S[i], RBX));
        addi("muldiv", K_IMUL3, S[i], N, 1, 1, "imul %s, %s, {i} ; imm8", R(S[i], RAX), R(S[i], RBX));
        addi("muldiv", K_IMUL3, S[i], N, IMMB(S[i]), IMMX(S[i]), "imul %s, %s, {i}", R(S[i], RAX), R(S[i], RBX));
        add("muldiv", K_IMUL2, S[i], N, "imul %s, %s", R(S[i], RBX), M(S[i]));
        addi("muldiv", K_IMUL3, S[i], N, 1, 1, "imul %s, %s, {i} ; imm8", R(S[i], RCX), M(S[i]));
        addi("muldiv", K_IMUL3, S[i], N, IMMB(S[i]), IMMX(S[i]), "imul %s, %s, {i}", R(S[i], RCX), M(S[i]));
    }
    static const char *DV[] = {"div", "idiv"};
    for (int o = 0; o < 2; o++) {
        for (int i = 0; i < NS; i++) add("muldiv", K_DIV, S[i], N * 3 / 2, "%s %s", DV[o], R(S[i], RBX));
        for (int i = 0; i < NS; i++) add("muldiv", K_DIV, S[i], N, "%s %s", DV[o], M(S[i]));
    }

    /* ---------------- misc ---------------- */
    add("misc", K_BSWAP, 32, N, "bswap eax");
    add("misc", K_BSWAP, 32, N, "bswap esi");
    f = add("misc", K_BSWAP, 16, N, "bswap ax"); /* gas refuses it; emit the bytes */
    strcpy(f->emit, ".byte 0x66, 0x0f, 0xc8");
    if (W64) {
        add("misc", K_BSWAP, 64, N, "bswap rax");
        add("misc", K_BSWAP, 64, N, "bswap r9");
        add("misc", K_BSWAP, 32, N, "bswap r10d");
    }
    for (int i = 0; i < NS; i++) add("misc", K_XADD, S[i], N, "xadd %s, %s", R(S[i], RAX), R(S[i], RBX));
    for (int i = 0; i < NS; i++) add("misc", K_XADD, S[i], N, "xadd %s, %s", M(S[i]), R(S[i], RBX));
    add("misc", K_XADD, 8, N, "lock xadd %s, bl", M(8));
    for (int i = 0; i < NS; i++) add("misc", K_CMPXCHG, S[i], N, "cmpxchg %s, %s", R(S[i], RBX), R(S[i], RCX));
    add("misc", K_CMPXCHG, 32, N, "cmpxchg eax, ebx");
    add("misc", K_CMPXCHG, 16, N, "cmpxchg ax, bx");
    for (int i = 0; i < NS; i++) add("misc", K_CMPXCHG, S[i], N, "cmpxchg %s, %s", M(S[i]), R(S[i], RCX));
    add("misc", K_CMPXCHG, 8, N, "lock cmpxchg %s, cl", M(8));
    if (W64) add("misc", K_CMPXCHG, 64, N, "lock cmpxchg %s, rcx", M(64));
    /* MOVSX/MOVZX: size = source size */
    static const char *MX[] = {"movsx", "movzx"};
    for (int o = 0; o < 2; o++) {
        add("misc", K_MOVX, 8, N, "%s ax, bl", MX[o]);
        add("misc", K_MOVX, 8, N, "%s eax, bl", MX[o]);
        add("misc", K_MOVX, 16, N, "%s eax, bx", MX[o]);
        add("misc", K_MOVX, 8, N, "%s ecx, bh", MX[o]);
        add("misc", K_MOVX, 8, N, "%s cx, bh", MX[o]);
        add("misc", K_MOVX, 16, N, "%s ax, bx", MX[o]); /* 66 0F B7/BF: a 16-bit copy */
        add("misc", K_MOVX, 8, N, "%s ax, %s", MX[o], M(8));
        add("misc", K_MOVX, 8, N, "%s eax, %s", MX[o], M(8));
        add("misc", K_MOVX, 16, N, "%s ecx, %s", MX[o], M(16));
        add("misc", K_MOVX, 16, N, "%s cx, %s", MX[o], M(16));
        if (W64) {
            add("misc", K_MOVX, 8, N, "%s rax, bl", MX[o]);
            add("misc", K_MOVX, 16, N, "%s rax, bx", MX[o]);
            add("misc", K_MOVX, 8, N, "%s r12d, sil", MX[o]);
            add("misc", K_MOVX, 8, N, "%s rax, %s", MX[o], M(8));
            add("misc", K_MOVX, 16, N, "%s rax, %s", MX[o], M(16));
        }
    }
    if (W64) {
        add("misc", K_MOVX, 32, N, "movsxd rax, ebx");
        add("misc", K_MOVX, 32, N, "movsxd r8, %s", M(32));
    }
    add("misc", K_CONV, 8, N, "cbw");
    add("misc", K_CONV, 16, N, "cwde");
    add("misc", K_CONV, 16, N, "cwd");
    add("misc", K_CONV, 32, N, "cdq");
    if (W64) {
        add("misc", K_CONV, 32, N, "cdqe");
        add("misc", K_CONV, 64, N, "cqo");
    }
    static const char *FL[] = {"lahf", "sahf", "cmc", "clc", "stc", "cld", "std"};
    for (int o = 0; o < 7; o++) add("misc", K_FLAG, 8, N, "%s", FL[o]);

    /* ---------------- cond ---------------- */
    for (int c = 0; c < 16; c++) {
        add("cond", K_SETCC, 8, N, "set%s al", CCN[c])->cc = c;
        add("cond", K_SETCC, 8, N, "set%s ah", CCN[c])->cc = c;
        if (W64) add("cond", K_SETCC, 8, N, "set%s sil", CCN[c])->cc = c;
        add("cond", K_SETCC, 8, N, "set%s %s", CCN[c], M(8))->cc = c;
        for (int i = 1; i < NS; i++)
            add("cond", K_CMOV, S[i], N, "cmov%s %s, %s", CCN[c], R(S[i], RAX), R(S[i], RBX))->cc = c;
        for (int i = 1; i < NS; i++)
            add("cond", K_CMOV, S[i], N, "cmov%s %s, %s", CCN[c], R(S[i], RAX), M(S[i]))->cc = c;
    }

    /* ---------------- string ---------------- */
    static const char *STR[] = {"movs", "stos", "lods", "scas", "cmps"};
    static const char SUF[] = {'b', 'w', 'd', 'q'};
    for (int o = 0; o < 5; o++) {
        int nrep = (o >= 3) ? 3 : 2;
        for (int e = 0; e < NS; e++) {
            for (int r = 0; r < nrep; r++) {
                const char *pre = r == 0 ? "" : o >= 3 ? (r == 1 ? "repe " : "repne ") : "rep ";
                f = add("string", K_STR, 8 << e, N, "%s%s%c", pre, STR[o], SUF[e]);
                f->rep = r;
            }
        }
    }
    /* 64-bit mode, 67h: 32-bit address size (ESI/EDI/ECX; upper halves random on input) */
    if (W64) {
        for (int o = 0; o < 5; o++) {
            int nrep = (o >= 3) ? 3 : 2;
            for (int e = 0; e < NS; e += 3) /* byte and qword elements */
                for (int r = 0; r < nrep; r++)
                    add_str(o, 8 << e, r, r == 0 ? "" : o >= 3 ? (r == 1 ? "repe " : "repne ") : "rep ", 1, "");
        }
        add_str(0, 8, 1, "rep ", 1, "ss:");
    }
    /* segment overrides: on the source of MOVS/LODS/CMPS (ES, CS, SS have base 0 in both modes,
       GS in 64-bit mode), and FS/GS prefixes on STOS/SCAS, whose ES destination cannot be
       overridden (the prefix must be ignored). FS (64) and GS (32) hold Linux's TLS base natively. */
    add_str(0, 8, 1, "rep ", 0, "es:");
    add_str(0, 32, 1, "rep ", 0, "ss:");
    add_str(0, 16, 0, "", 0, "cs:");
    add_str(2, 8, 0, "", 0, "ss:");
    add_str(2, 32, 1, "rep ", 0, "cs:");
    add_str(4, 8, 1, "repe ", 0, "es:");
    add_str(4, 32, 2, "repne ", 0, "ss:");
    add_str(4, 16, 0, "", 0, "cs:");
    add_str(1, 8, 1, "fs rep ", 0, "");
    add_str(1, 32, 0, "gs ", 0, "");
    add_str(3, 8, 2, "fs repne ", 0, "");
    add_str(3, 16, 1, "gs repe ", 0, "");
    if (W64) {
        add_str(0, 64, 1, "rep ", 0, "gs:");
        add_str(2, 64, 0, "", 0, "gs:");
        add_str(4, 8, 1, "repe ", 0, "gs:");
    }

    /* ---------------- bcd (32-bit only) ---------------- */
    if (!W64) {
        static const char *BCD[] = {"daa", "das", "aaa", "aas"};
        for (int o = 0; o < 4; o++) add("bcd", K_BCD, 8, N > 2048 ? N : 2048, "%s", BCD[o]);
        addi("bcd", K_AAMD, 8, N, 1, 0, "aam {i}");
        addi("bcd", K_AAMD, 8, N, 1, 0, "aad {i}");
    }
#undef IMMB
#undef IMMX

    for (int i = 0; i < nforms; i++) {
        finalize(&forms[i]);
        for (int j = 0; j < i; j++)
            if (!strcmp(forms[i].text, forms[j].text)) {
                fprintf(stderr, "gen%d: two forms read \"%s\"\n", BITS, forms[i].text);
                exit(1);
            }
    }
}

static const char *placeholder(int imm) { return imm == 1 ? "0x7f" : imm == 2 ? "0x1234" : "0x12345678"; }
static u64 placeholder_val(int imm) { return imm == 1 ? 0x7f : imm == 2 ? 0x1234 : 0x12345678; }

/* What the assembler gets: f->emit, or the text without its " ; ..." note (which only tells
   forms apart that would otherwise read the same, e.g. "add cx, {i} ; imm8" beside the imm16
   "add cx, {i}"), with the placeholder immediate for "{i}". */
static __attribute__((unused)) void emit_text(const Form *f, char *out, size_t n) {
    if (f->emit[0]) { snprintf(out, n, "%s", f->emit); return; }
    char t[96];
    snprintf(t, sizeof t, "%s", f->text);
    char *note = strstr(t, " ;");
    if (note) *note = 0;
    const char *p = strstr(t, "{i}");
    if (!p) { snprintf(out, n, "%s", t); return; }
    snprintf(out, n, "%.*s%s%s", (int)(p - t), t, placeholder(f->imm), p + 3);
}

#ifdef STAGE1
int main(void) {
    build_forms();
    printf("# generated by gen.c stage 1 (%d-bit); do not edit\n", BITS);
    printf("\t.intel_syntax noprefix\n\t.section .rodata\n\t.globl form_code\n\t.globl form_off\n\t.globl form_count\nform_code:\n");
    for (int i = 0; i < nforms; i++) {
        char t[128];
        emit_text(&forms[i], t, sizeof t);
        printf("f%d:\t%s\n", i, t);
    }
    printf("f%d:\n\t.p2align 2\nform_off:\n", nforms);
    for (int i = 0; i <= nforms; i++) printf("\t.long f%d - form_code\n", i);
    printf("form_count:\n\t.long %d\n\t.section .note.GNU-stack,\"\",@progbits\n", nforms);
    return 0;
}
#else

extern const unsigned char form_code[];
extern const uint32_t form_off[];
extern const uint32_t form_count;

/* ---------------------------------------------------------------- runner */
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
        "  mov r8,  [rip + g_in + 64]\n"
        "  mov r9,  [rip + g_in + 72]\n"
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

#define NREGS (BITS == 64 ? 16 : 8)

static sigjmp_buf jb;
static volatile sig_atomic_t g_sig;
static const Form *cur_form;
static void on_sig(int s) {
    g_sig = s;
    siglongjmp(jb, 1);
}

static void die(const Form *f, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "gen%d: form \"%s\": ", BITS, f ? f->text : "?");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static unsigned char area[4096] __attribute__((aligned(4096)));
#define BUFOFF 1024
#define CANLO (BUFOFF - 512) /* canary-checked bytes around the buffer */
#define CANHI (BUFOFF + 1024)
static unsigned char *jit;

typedef struct {
    u64 r[16];
    u64 fl;
    u64 imm;
    unsigned char mem[64];
} State;

static unsigned char canary(int i) { return (unsigned char)(0xA5 ^ (i * 7)); }

/* Runs f's code (cur code in jit) once. Returns -1 normally, 0 on #DE. */
static int run_once(const Form *f, const State *in, const u64 *oth, State *out) {
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
    if (sigsetjmp(jb, 1)) {
        if (g_sig == SIGFPE) return 0;
        die(f, "signal %d", (int)g_sig);
    }
    run_native();
    for (int r = 0; r < 16; r++) out->r[r] = g_out[r] & REGMASK;
    for (int i = 0; i < f->nregs; i++) {
        int r = f->regs[i];
        if (f->isptr[r]) out->r[r] = (g_out[r] - base) & REGMASK;
    }
    out->fl = g_out[16] & OUTMASK;
    if ((g_out[16] & ~(u64)(OUTMASK | 0x200)) != (g_in[16] & ~(u64)(OUTMASK | 0x200)))
        die(f, "non-status rflags bits changed: %llx -> %llx", (unsigned long long)g_in[16],
            (unsigned long long)g_out[16]);
    memcpy(out->mem, buf, f->msz);
    for (int i = CANLO; i < CANHI; i++)
        if ((i < BUFOFF || i >= BUFOFF + f->msz) && area[i] != canary(i))
            die(f, "wrote outside the buffer at offset %d", i - BUFOFF);
    for (int r = 0; r < NREGS; r++) {
        if (r == RSP) continue;
        int listed = 0;
        for (int i = 0; i < f->nregs; i++) listed |= f->regs[i] == r;
        if (!listed && g_out[r] != g_in[r]) die(f, "undeclared register %s changed", R64n[r]);
    }
    return -1;
}

/* ------------------------------------------------------- input generation */
static u64 g_hipat;            /* the form's upper-bits pattern (fill_form) */
static unsigned char g_fill[64]; /* the form's memory filler (fill_form) */
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
/* random register value: the bits above `size` random (20%), the form's pattern
   g_hipat (70%: still arbitrary bits, but the same in every vector of the form, so
   they compress) or zero (10%); the low `size` bits drawn from a mix of uniform,
   boundary, variable-width and sparse/dense values */
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

static int shift_count(int size) {
    static const int sp[] = {0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65};
    int k = (int)rndn(100);
    if (k < 10) return 0;
    if (k < 20) return 1;
    if (k < 40) return sp[rndn(15)];
    if (k < 50) return size - 1 + (int)rndn(3);
    if (k < 60) return (int)rndn(256);
    return (int)rndn(64);
}

static u64 getop(const Form *f, const State *s, Opnd o, int size) {
    if (o.type >= 0) return (s->r[o.type] >> (o.high ? 8 : 0)) & maskof(size);
    if (o.type == OP_IMM) return s->imm;
    if (o.type == OP_MEM) {
        u64 v = 0;
        memcpy(&v, s->mem + s->r[f->memreg], size / 8);
        return v;
    }
    return 0;
}
static void setop(const Form *f, State *s, Opnd o, int size, u64 v) {
    u64 m = maskof(size);
    v &= m;
    if (o.type >= 0) {
        int sh = o.high ? 8 : 0;
        s->r[o.type] = ((s->r[o.type] & ~(m << sh)) | (v << sh)) & REGMASK;
    } else if (o.type == OP_IMM) s->imm = v & maskof(f->imm * 8);
    else if (o.type == OP_MEM) memcpy(s->mem + s->r[f->memreg], &v, size / 8);
}

static void correlate(const Form *f, State *s, int size) {
    if (f->a.type == OP_NONE || f->b.type == OP_NONE) return;
    u64 a = getop(f, s, f->a, size);
    int k = (int)rndn(100);
    if (k < 15) setop(f, s, f->b, size, a);
    else if (k < 20) setop(f, s, f->b, size, a + 1);
    else if (k < 25) setop(f, s, f->b, size, a - 1);
    else if (k < 30) setop(f, s, f->b, size, -a);
}

static void gen_div(const Form *f, State *s) {
    int sz = f->size, sgn = !strcmp(f->mn, "idiv");
    u64 m = maskof(sz);
    u64 d = rv(sz) & m, lo, hi;
    int k = (int)rndn(100);
    if (k < 8) d = 0;
    else if (!d) d = 1 + rndn(m);
    if (k < 20) {
        lo = rnd();
        hi = k < 14 ? rnd() : rv(sz);
    } else if (k < 70) {
        /* dividend = q*d + r with |r| < |d|; q in range (k < 62) or one past it */
        if (!sgn) {
            uwide q = k < 62 ? (uwide)(rv(sz) & m) : (uwide)m + 1;
            uwide n = q * (uwide)d + (uwide)rndn(d);
            lo = (u64)n & m;
            hi = (u64)(n >> sz) & m;
        } else {
            swide dd = (swide)(i64)sext(d, sz);
            swide q;
            if (k < 62) q = (swide)(i64)sext(rv(sz), sz);
            else q = (rnd() & 1) ? ((swide)1 << (sz - 1)) : -((swide)1 << (sz - 1)) - 1;
            swide ad = dd < 0 ? -dd : dd;
            swide r = (swide)rndn((u64)ad);
            swide qd = q * dd;
            if (qd < 0 || (qd == 0 && (rnd() & 1))) r = -r;
            swide n = qd + r;
            lo = (u64)n & m;
            hi = (u64)(n >> sz) & m;
        }
    } else {
        lo = rv(sz) & m;
        if (sgn) hi = (lo >> (sz - 1)) & 1 ? m : 0;
        else hi = rndn(4) == 0 ? rndn(d) : 0;
    }
    if (sgn && rndn(40) == 0) { /* MIN / -1: the one signed overflow with a sign-extended dividend */
        d = m;
        lo = 1ULL << (sz - 1);
        hi = m;
    }
    setop(f, s, f->a, sz, d);
    if (sz == 8) s->r[RAX] = (s->r[RAX] & ~0xffffULL) | ((hi & 0xff) << 8) | (lo & 0xff);
    else {
        s->r[RAX] = ((s->r[RAX] & ~m) | (lo & m)) & REGMASK;
        s->r[RDX] = ((s->r[RDX] & ~m) | (hi & m)) & REGMASK;
    }
}

static void gen_string(const Form *f, State *s) {
    int e = f->size / 8, cnt = 1;
    if (f->rep) {
        int k = (int)rndn(100);
        cnt = k < 10 ? 0 : k < 20 ? 1 : (int)rndn(64 / e + 1);
        s->r[RCX] = (u64)cnt;
    }
    if (rnd() & 1) s->fl |= DF;
    int df = (s->fl & DF) != 0, c = cnt ? cnt : 1;
    int lo = df ? (c - 1) * e : 0, hi = df ? 64 - e : 64 - c * e; /* start offsets in [lo, hi] */
    for (int p = RSI; p <= RDI; p++) {
        int off = lo + (int)rndn(hi - lo + 1);
        if (rndn(5)) { /* usually element-aligned */
            int al = off - off % e;
            if (al >= lo) off = al;
        }
        s->r[p] = (u64)off;
    }
    /* buffer: SCAS/CMPS: elements drawn from {A (80%), B}, so REPE/REPNE stop at interesting
       places (90%), or random bytes (10%). MOVS/STOS/LODS: the form's 64 filler bytes (80%;
       distinct random bytes, so a copy from or to the wrong offset shows), the A/B mix (10%) or
       random bytes (10%). */
    int cmpish = (f->mn[0] == 's' && f->mn[1] == 'c') || f->mn[0] == 'c';
    int k = (int)rndn(100);
    u64 A = rnd(), B = rnd();
    if (rnd() & 1) B = A ^ (0xffULL << (8 * rndn(e)));
    if (f->mn[0] == 's' && f->mn[1] == 'c') { /* scas */
        u64 v = rndn(10) < 5 ? A : rndn(5) < 3 ? B : rnd();
        s->r[RAX] = ((s->r[RAX] & ~maskof(f->size)) | (v & maskof(f->size))) & REGMASK;
    }
    if (!cmpish && k < 80) memcpy(s->mem, g_fill, 64);
    else if (k < 90)
        for (int j = 0; j < 64; j += e) {
            u64 v = rndn(5) ? A : B;
            memcpy(s->mem + j, &v, e);
        }
    else
        for (int j = 0; j < 64; j++) s->mem[j] = (unsigned char)rnd();
    /* 67h in 64-bit mode: only ESI/EDI/ECX count; random upper halves (75%) check that */
    if (f->a32)
        for (int r = RCX; r <= RDI; r++)
            if ((r == RCX ? f->rep != 0 : r >= RSI) && rndn(4)) s->r[r] |= rnd() & 0xffffffff00000000ULL;
}

/* Filler for the memory bytes around an ordinary memory operand: drawn once per form from its own
   stream (seed XOR 0xF11F11F11F11F11F), the same in every vector of the form, so it compresses to
   almost nothing while still catching a stray read or write next to the operand. */
static void fill_form(const Form *f) {
    u64 st = f->seed ^ 0xF11F11F11F11F11FULL;
    if (!st) st = 1;
    for (int j = 0; j < 64; j += 8) {
        u64 v = xs(&st);
        memcpy(g_fill + j, &v, 8);
    }
    g_hipat = xs(&st);
}

static void gen_inputs(const Form *f, State *s, int vi) {
    memset(s, 0, sizeof *s);
    for (int i = 0; i < f->nregs; i++) s->r[f->regs[i]] = rv(f->size);
    s->fl = randflags();
    if (f->msz) {
        /* bytes the instruction must not touch: the form's fixed filler (see fill_form); the
           whole buffer is the operand for bit strings, and string forms fill it themselves */
        if (f->bitstr || f->kind == K_STR)
            for (int j = 0; j < f->msz; j++) s->mem[j] = (unsigned char)rnd();
        else memcpy(s->mem, g_fill, f->msz);
        if (f->bitstr) s->r[f->memreg] = 32;
        else if (f->kind != K_STR) s->r[f->memreg] = rndn(f->msz - f->size / 8 + 1);
        if (f->kind != K_STR) {
            if (f->a.type == OP_MEM) setop(f, s, f->a, f->size, rv(f->size));
            if (f->b.type == OP_MEM) setop(f, s, f->b, f->size, rv(f->size));
        }
    }
    if (f->imm) s->imm = rv(f->imm * 8) & maskof(f->imm * 8);
    switch (f->kind) {
    case K_ALU:
    case K_XADD: correlate(f, s, f->size); break;
    case K_SH:
    case K_SHD: {
        int c;
        for (;;) {
            c = shift_count(f->size);
            /* 16-bit SHLD/SHRD into memory: keep the result defined (count <= 16) */
            if (f->kind == K_SHD && f->size == 16 && f->a.type == OP_MEM && (c & 31) > 16) continue;
            break;
        }
        if (f->cnt == CNT_CL) s->r[RCX] = (s->r[RCX] & ~0xffULL) | (u64)c;
        if (f->cnt == CNT_IMM) s->imm = (u64)c;
        break;
    }
    case K_BT:
        if (f->bitstr) {
            i64 off = (i64)rndn(512) - 256;
            s->r[RBX] = ((rnd() & ~maskof(f->size)) | ((u64)off & maskof(f->size))) & REGMASK;
        } else if (f->imm) {
            s->imm = rndn(3) ? rndn(f->size) : rndn(256);
        } else if (rndn(10) < 6) {
            s->r[RBX] = ((s->r[RBX] & ~0xffULL) | rndn(f->size)) & REGMASK;
        }
        break;
    case K_BSX:
    case K_CNT:
        if (rndn(10) == 0) setop(f, s, f->b, f->size, 0);
        break;
    case K_DIV: gen_div(f, s); break;
    case K_CMPXCHG:
        if (rndn(100) < 45) {
            u64 d = getop(f, s, f->a, f->size);
            u64 m = maskof(f->size);
            s->r[RAX] = ((s->r[RAX] & ~m) | d) & REGMASK;
        }
        break;
    case K_FLAG:
        if (f->mn[1] == 't' || f->mn[1] == 'l') /* std, cld: random DF */
            if (rnd() & 1) s->fl |= DF;
        break;
    case K_STR: gen_string(f, s); break;
    case K_BCD:
        if (vi < 1024) {
            s->r[RAX] = (s->r[RAX] & ~0xffULL) | (u64)(vi & 0xff);
            s->fl = (s->fl & ~(CF | AF)) | ((vi >> 8) & 1 ? CF : 0) | ((vi >> 9) & 1 ? AF : 0);
        }
        break;
    case K_AAMD: {
        int k = (int)rndn(100);
        s->imm = k < 10 ? 0 : k < 30 ? 10 : k < 40 ? 1 + rndn(15) : rndn(256);
        break;
    }
    default: break;
    }
}

/* ------------------------------------------------- architectural undefined */
static unsigned shcnt(const Form *f, const State *s) {
    unsigned raw = f->cnt == CNT_ONE ? 1 : f->cnt == CNT_CL ? (unsigned)(s->r[RCX] & 0xff) : (unsigned)(s->imm & 0xff);
    return raw & (f->size == 64 ? 63 : 31);
}

/* undefined flag bits per the SDM; *ur gets the regs (bitmask) whose value is undefined */
static unsigned undef_mask(const Form *f, const State *s, unsigned *ur) {
    *ur = 0;
    const char *mn = f->mn;
    switch (f->kind) {
    case K_ALU:
        return (!strcmp(mn, "and") || !strcmp(mn, "or") || !strcmp(mn, "xor") || !strcmp(mn, "test")) ? AF : 0;
    case K_SH: {
        unsigned c = shcnt(f, s);
        if (!c) return 0;
        if (mn[0] == 'r') return c > 1 ? OF : 0; /* rol ror rcl rcr */
        unsigned u = AF | (c > 1 ? OF : 0);
        if ((!strcmp(mn, "shl") || !strcmp(mn, "sal") || !strcmp(mn, "shr")) && c >= (unsigned)f->size) u |= CF;
        return u;
    }
    case K_SHD: {
        unsigned c = shcnt(f, s);
        if (!c) return 0;
        if (c > (unsigned)f->size) {
            if (f->a.type >= 0) *ur |= 1u << f->a.type;
            return STATUS;
        }
        return AF | (c > 1 ? OF : 0);
    }
    case K_BT: return OF | SF | AF | PF;
    case K_BSX:
        if (getop(f, s, f->b, f->size) == 0) *ur |= 1u << f->a.type;
        return CF | OF | SF | AF | PF;
    case K_CNT: return strcmp(mn, "popcnt") ? (OF | SF | PF | AF) : 0;
    case K_MUL1:
    case K_IMUL2:
    case K_IMUL3: return SF | ZF | AF | PF;
    case K_DIV: return STATUS;
    case K_BSWAP:
        if (f->size == 16) *ur |= 1u << f->a.type;
        return 0;
    case K_BCD: return (mn[0] == 'd') ? OF : (OF | SF | ZF | PF); /* daa das : aaa aas */
    case K_AAMD: return OF | AF | CF;
    default: return 0;
    }
}

/* ----------------------------------------------------------------- output */
typedef struct {
    const char *group;
    FILE *fp;
    int nforms;
    long nvec, nexc;
} Out;
static Out outs[16];
static int nouts;
static const char *outdir;

static Out *out_for(const char *group) {
    for (int i = 0; i < nouts; i++)
        if (!strcmp(outs[i].group, group)) return &outs[i];
    Out *o = &outs[nouts++];
    char path[512];
    snprintf(path, sizeof path, "%s/%s%d.json", outdir, group, BITS);
    o->group = group;
    o->fp = fopen(path, "w");
    if (!o->fp) { perror(path); exit(1); }
    fprintf(o->fp, "{\"bits\":%d,\"group\":\"%s\",\"prng\":\"xorshift64*\",\"forms\":[\n", BITS, group);
    return o;
}

static void hexmem(FILE *fp, const unsigned char *m, int n) {
    for (int i = 0; i < n; i++) fprintf(fp, "%02x", m[i]);
}
static void json_str(FILE *fp, const char *s) {
    fputc('"', fp);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', fp);
        fputc(*s, fp);
    }
    fputc('"', fp);
}

static void gen_form(Form *f) {
    Out *o = out_for(f->group);
    FILE *fp = o->fp;
    cur_form = f;
    if (f->imm) {
        u64 v = 0;
        memcpy(&v, f->code + f->len - f->imm, f->imm);
        if (v != placeholder_val(f->imm)) die(f, "immediate is not the trailing %d bytes of the encoding", f->imm);
    }
    fprintf(fp, "%s{\"asm\":", o->nforms++ ? ",\n" : "");
    json_str(fp, f->text);
    fprintf(fp, ",\"code\":\"");
    hexmem(fp, f->code, f->len);
    fprintf(fp, "\",\"regs\":[");
    for (int i = 0; i < f->nregs; i++) fprintf(fp, "%s\"%s\"", i ? "," : "", R64n[f->regs[i]]);
    fprintf(fp, "]");
    int np = 0;
    for (int i = 0; i < f->nregs; i++)
        if (f->isptr[f->regs[i]]) fprintf(fp, "%s\"%s\"", np++ ? "," : ",\"ptr\":[", R64n[f->regs[i]]);
    if (np) fprintf(fp, "]");
    if (f->imm) fprintf(fp, ",\"imm\":%d,\"isx\":%d", f->imm, f->isx);
    if (f->msz) fprintf(fp, ",\"msz\":%d", f->msz);
    fprintf(fp, ",\"seed\":\"%llx\",\"v\":[\n", (unsigned long long)f->seed);

    rs = f->seed;
    rs2 = f->seed ^ 0x5DEECE66DULL;
    fill_form(f);
    for (int vi = 0; vi < f->n; vi++) {
        State in, outA, outB;
        u64 othA[16], othB[16];
        gen_inputs(f, &in, vi);
        for (int r = 0; r < 16; r++) { othA[r] = xs(&rs2); othB[r] = xs(&rs2); }
        memcpy(jit, f->code, f->len);
        if (f->imm) memcpy(jit + f->len - f->imm, &in.imm, f->imm);
        jit[f->len] = 0xc3;
        int excA = run_once(f, &in, othA, &outA);
        int excB = run_once(f, &in, othB, &outB);
        if (excA != excB) die(f, "exception differs between runs");
        if (excA < 0) {
            for (int i = 0; i < f->nregs; i++)
                if (outA.r[f->regs[i]] != outB.r[f->regs[i]])
                    die(f, "output %s depends on undeclared registers", R64n[f->regs[i]]);
            if (outA.fl != outB.fl) die(f, "flags depend on undeclared registers");
            if (memcmp(outA.mem, outB.mem, f->msz)) die(f, "memory depends on undeclared registers");
        }
        /* one vector = one JSON string of space-separated fields (README "File format"):
           [imm] inputs... rflags [mem] then "x<vector>" or outputs... rflags [mem] [u<mask>] [r<regs>];
           an output equal to its input (and an unchanged buffer) is written as "=" */
        fprintf(fp, "%s\"", vi ? ",\n" : "");
        if (f->imm) fprintf(fp, "%llx ", (unsigned long long)in.imm);
        for (int i = 0; i < f->nregs; i++) fprintf(fp, "%llx ", (unsigned long long)in.r[f->regs[i]]);
        fprintf(fp, "%llx", (unsigned long long)in.fl);
        if (f->msz) {
            fputc(' ', fp);
            hexmem(fp, in.mem, f->msz);
        }
        if (excA >= 0) {
            fprintf(fp, " x%d", excA);
            o->nexc++;
        } else {
            for (int i = 0; i < f->nregs; i++) {
                int r = f->regs[i];
                if (outA.r[r] == in.r[r]) fprintf(fp, " =");
                else fprintf(fp, " %llx", (unsigned long long)outA.r[r]);
            }
            if (outA.fl == in.fl) fprintf(fp, " =");
            else fprintf(fp, " %llx", (unsigned long long)outA.fl);
            if (f->msz) {
                fputc(' ', fp);
                if (memcmp(outA.mem, in.mem, f->msz)) hexmem(fp, outA.mem, f->msz);
                else fputc('=', fp);
            }
            unsigned ur, u = undef_mask(f, &in, &ur);
            if (u) fprintf(fp, " u%x", u);
            if (ur) {
                fprintf(fp, " r");
                for (int r = 0, k = 0; r < 16; r++)
                    if (ur >> r & 1) fprintf(fp, "%s%s", k++ ? "," : "", R64n[r]);
            }
        }
        fputc('"', fp);
        o->nvec++;
    }
    fprintf(fp, "]}");
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
        return 2;
    }
    outdir = argv[1];
    build_forms();
    if ((int)form_count != nforms) {
        fprintf(stderr, "forms.s is stale (%u forms, expected %d)\n", form_count, nforms);
        return 1;
    }
    jit = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (jit == MAP_FAILED) { perror("mmap"); return 1; }
    g_code = jit;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sig;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGFPE, &sa, NULL);
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGILL, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    for (int i = 0; i < nforms; i++) {
        forms[i].code = form_code + form_off[i];
        forms[i].len = (int)(form_off[i + 1] - form_off[i]);
        if (forms[i].len <= 0 || forms[i].len > 15) die(&forms[i], "bad encoding length %d", forms[i].len);
        gen_form(&forms[i]);
    }
    for (int i = 0; i < nouts; i++) {
        fprintf(outs[i].fp, "\n]}\n");
        fclose(outs[i].fp);
        printf("%s%d: %d forms, %ld vectors (%ld #DE)\n", outs[i].group, BITS, outs[i].nforms, outs[i].nvec,
               outs[i].nexc);
    }
    return 0;
}
#endif
