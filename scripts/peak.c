/*
 * The CPU's arithmetic peaks, for `fluxj bench peak` (compiled by the bench with the system's C compiler).
 *
 * Each kernel is a loop of independent multiply-add instructions on registers only (no memory traffic, more
 * independent accumulators than the instruction's latency times its throughput), run on every core at once:
 * what the cores can do at most, whatever a library does around it.
 *   f32_fma   vfmadd231ps on 512-bit (AVX-512) or 256-bit (AVX2) registers: 2 flops per f32 lane
 *   bf16_dot  vdpbf16ps (AVX512_BF16): 2 flops per bf16 pair, 32 pairs per instruction
 *   amx_bf16  tdpbf16ps (AMX): a 16x32 by 32x16 bf16 tile product into f32, 16384 flops per instruction
 *
 * Usage: peak THREADS SECONDS. Prints one line per kernel: NAME WALL_GFLOPS CPU_GFLOPS DETAIL (see timed()), or
 * NAME - REASON when the CPU (or the operating system) does not offer it. Each figure is the best of several runs
 * of about SECONDS / 8 each.
 */
#include <cpuid.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* 24 accumulators: vfmadd231ps and vdpbf16ps have a latency of 4-6 cycles and two ports on current cores. */
#define R24(op, a, b) \
    op " " a ", " b ", %%zmm0\n" op " " a ", " b ", %%zmm1\n" op " " a ", " b ", %%zmm2\n" op " " a ", " b ", %%zmm3\n" \
    op " " a ", " b ", %%zmm4\n" op " " a ", " b ", %%zmm5\n" op " " a ", " b ", %%zmm6\n" op " " a ", " b ", %%zmm7\n" \
    op " " a ", " b ", %%zmm8\n" op " " a ", " b ", %%zmm9\n" op " " a ", " b ", %%zmm10\n" op " " a ", " b ", %%zmm11\n" \
    op " " a ", " b ", %%zmm12\n" op " " a ", " b ", %%zmm13\n" op " " a ", " b ", %%zmm14\n" op " " a ", " b ", %%zmm15\n" \
    op " " a ", " b ", %%zmm16\n" op " " a ", " b ", %%zmm17\n" op " " a ", " b ", %%zmm18\n" op " " a ", " b ", %%zmm19\n" \
    op " " a ", " b ", %%zmm20\n" op " " a ", " b ", %%zmm21\n" op " " a ", " b ", %%zmm22\n" op " " a ", " b ", %%zmm23\n"
#define ZMM_CLOBBERS "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", \
    "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm30", "xmm31", "cc"

__attribute__((target("avx512f"))) static void fma512(long n) {
    __asm__ volatile("vpxord %%zmm30, %%zmm30, %%zmm30\n vpxord %%zmm31, %%zmm31, %%zmm31\n"
                     "1:\n" R24("vfmadd231ps", "%%zmm30", "%%zmm31") "dec %0\n jnz 1b\n"
                     : "+r"(n) : : ZMM_CLOBBERS);
}

__attribute__((target("avx512f,avx512bf16"))) static void dot512(long n) {
    __asm__ volatile("vpxord %%zmm30, %%zmm30, %%zmm30\n vpxord %%zmm31, %%zmm31, %%zmm31\n"
                     "1:\n" R24("vdpbf16ps", "%%zmm30", "%%zmm31") "dec %0\n jnz 1b\n"
                     : "+r"(n) : : ZMM_CLOBBERS);
}

#define Y(i) "vfmadd231ps %%ymm14, %%ymm15, %%ymm" #i "\n"
__attribute__((target("avx2,fma"))) static void fma256(long n) {
    __asm__ volatile("vpxor %%ymm14, %%ymm14, %%ymm14\n vpxor %%ymm15, %%ymm15, %%ymm15\n"
                     "1:\n" Y(0) Y(1) Y(2) Y(3) Y(4) Y(5) Y(6) Y(7) Y(8) Y(9) Y(10) Y(11) Y(12) Y(13) "dec %0\n jnz 1b\n"
                     : "+r"(n) : : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
                       "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "cc");
}

/* AMX tile configuration (palette 1): 8 tiles of 16 rows x 64 bytes. */
struct tile_config {
    unsigned char palette, start_row, reserved[14];
    unsigned short colsb[16];
    unsigned char rows[16];
};

/* Four independent tile products per iteration: tmm0..3 += tmm4/5 x tmm6/7, on tiles of zeros. */
#ifndef NO_AMX
static void amx(long n) {
    struct tile_config c;
    memset(&c, 0, sizeof c);
    c.palette = 1;
    for (int i = 0; i < 8; i++) {
        c.colsb[i] = 64;
        c.rows[i] = 16;
    }
    __asm__ volatile("ldtilecfg %0" : : "m"(c));
    __asm__ volatile("tilezero %%tmm0\n tilezero %%tmm1\n tilezero %%tmm2\n tilezero %%tmm3\n"
                     "tilezero %%tmm4\n tilezero %%tmm5\n tilezero %%tmm6\n tilezero %%tmm7\n"
                     "1:\n"
                     "tdpbf16ps %%tmm6, %%tmm4, %%tmm0\n tdpbf16ps %%tmm7, %%tmm4, %%tmm1\n"
                     "tdpbf16ps %%tmm6, %%tmm5, %%tmm2\n tdpbf16ps %%tmm7, %%tmm5, %%tmm3\n"
                     "dec %0\n jnz 1b\n"
                     "tilerelease\n"
                     : "+r"(n) : : "cc");
}
#endif

struct kernel {
    const char *name, *detail;
    void (*loop)(long);
    double flops_per_iteration;
};

struct job {
    const struct kernel *k;
    long iterations;
    pthread_barrier_t *start;
    double wall0, wall1, cpu;
};

static double thread_cpu(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static void *run(void *arg) {
    struct job *j = arg;
    pthread_barrier_wait(j->start);
    double c0 = thread_cpu();
    j->wall0 = now();
    j->k->loop(j->iterations);
    j->wall1 = now();
    j->cpu = thread_cpu() - c0;
    return NULL;
}

/*
 * Every thread runs `iterations` of the kernel at once. Rates in GFLOP/s: rate[0] by wall clock (first start to
 * last end), rate[1] the sum of each thread's flops per second of its own CPU time, which other processes taking
 * turns on the cores do not lower (each thread has a core of its own here: no SMT siblings are counted).
 */
static double timed(const struct kernel *k, int threads, long iterations, double rate[2]) {
    pthread_t t[threads];
    struct job jobs[threads];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, threads);
    for (int i = 0; i < threads; i++) {
        jobs[i] = (struct job) {k, iterations, &start, 0, 0, 0};
        pthread_create(&t[i], NULL, run, &jobs[i]);
    }
    for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
    pthread_barrier_destroy(&start);
    double first = jobs[0].wall0, last = jobs[0].wall1, flops = k->flops_per_iteration * iterations;
    rate[1] = 0;
    for (int i = 0; i < threads; i++) {
        if (jobs[i].wall0 < first) first = jobs[i].wall0;
        if (jobs[i].wall1 > last) last = jobs[i].wall1;
        rate[1] += flops / jobs[i].cpu / 1e9;
    }
    rate[0] = flops * threads / (last - first) / 1e9;
    return last - first;
}

static void measure(const struct kernel *k, int threads, double seconds) {
    long n = 1000;
    double s, rate[2], best[2] = {0, 0};
    while ((s = timed(k, threads, n, rate)) < 0.02) n *= 4;
    n = (long) (n * (seconds / 8) / s) + 1;
    for (int rep = 0; rep < 6; rep++) {
        timed(k, threads, n, rate);
        for (int i = 0; i < 2; i++) if (rate[i] > best[i]) best[i] = rate[i];
    }
    printf("%s %.1f %.1f %s\n", k->name, best[0], best[1], k->detail);
}

int main(int argc, char **argv) {
    if (argc != 3 || atoi(argv[1]) < 1 || atof(argv[2]) <= 0) {
        fprintf(stderr, "usage: peak THREADS SECONDS\n");
        return 2;
    }
    int threads = atoi(argv[1]);
    double seconds = atof(argv[2]);
    unsigned a = 0, b = 0, c = 0, d = 0, a1 = 0, b1 = 0, c1 = 0, d1 = 0;
    __get_cpuid_count(7, 0, &a, &b, &c, &d);
    if (a >= 1) __get_cpuid_count(7, 1, &a1, &b1, &c1, &d1);
    unsigned one_a = 0, one_b = 0, one_c = 0, one_d = 0;
    __get_cpuid(1, &one_a, &one_b, &one_c, &one_d);
    /* The OS must save the registers too: XCR0 bits 1-2 (ymm), 5-7 (zmm), 17-18 (AMX tiles). */
    unsigned long long xcr0 = 0;
    if (one_c & (1u << 27)) {
        unsigned lo, hi;
        __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        xcr0 = ((unsigned long long) hi << 32) | lo;
    }
    int ymm = (xcr0 & 0x6) == 0x6, zmm = ymm && (xcr0 & 0xe0) == 0xe0, tiles = (xcr0 & 0x60000) == 0x60000;
    int avx512f = zmm && (b & (1u << 16)), fma = ymm && (one_c & (1u << 12)) && (b & (1u << 5));
    int bf16 = avx512f && (a1 & (1u << 5)), amx_bf16 = tiles && (d & (1u << 22)) && (d & (1u << 24));

    const struct kernel f512 = {"f32_fma", "vfmadd231ps-zmm", fma512, 24 * 32.0};
    const struct kernel f256 = {"f32_fma", "vfmadd231ps-ymm", fma256, 14 * 16.0};
    const struct kernel dot = {"bf16_dot", "vdpbf16ps-zmm", dot512, 24 * 64.0};
    if (avx512f) measure(&f512, threads, seconds);
    else if (fma) measure(&f256, threads, seconds);
    else printf("f32_fma - no FMA instructions (AVX2/AVX-512) on this CPU\n");
    if (bf16) measure(&dot, threads, seconds);
    else printf("bf16_dot - no AVX512_BF16 on this CPU\n");
#ifdef NO_AMX
    (void) amx_bf16;
    printf("amx_bf16 - this probe was built without AMX (the assembler lacks it)\n");
#else
    /* Linux hands out the AMX tile state only on request, once per process. */
    const struct kernel tile = {"amx_bf16", "tdpbf16ps", amx, 4 * 16384.0};
    if (!amx_bf16) printf("amx_bf16 - no AMX-BF16 on this CPU\n");
    else if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) != 0) printf("amx_bf16 - the kernel refuses AMX tile state to this process\n");
    else measure(&tile, threads, seconds);
#endif
    return 0;
}
