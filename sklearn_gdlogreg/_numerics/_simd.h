/* The dense kernels' inner loops along a row: dot products and updates.
 *
 * Built for the portable baseline (x86-64: SSE2) and, where GCC can
 * dispatch at load time (x86-64 Linux, ifunc), also for x86-64-v3 (AVX2 and
 * FMA): the loader picks the clone the CPU runs. No -march flag: a wheel
 * built here runs on any x86-64 or ARM machine. The file's float flags
 * (setup.py) let GCC reorder the sums, so that the reductions vectorize.
 */
#ifndef GDLOGREG_SIMD_H
#define GDLOGREG_SIMD_H
#include <stddef.h>

/* (-DGD_NO_CLONES builds the baseline alone: for measuring what the clones
   bring, see benchmarks/README.md.) */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && \
    defined(__linux__) && !defined(GD_NO_CLONES)
#define GD_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define GD_CLONES
#endif

#define GD_ROW_FUNCTIONS(T, SUFFIX)                                            \
    /* (a0 + x0 . w, a1 + x1 . w): two rows, one read of w. */                 \
    GD_CLONES static void gd_dot2_##SUFFIX(                                   \
        const T *restrict x0, const T *restrict x1, const T *restrict w,       \
        ptrdiff_t d, T *a0, T *a1) {                                           \
        T s0 = *a0, s1 = *a1;                                                  \
        for (ptrdiff_t j = 0; j < d; j++) {                                    \
            s0 += x0[j] * w[j];                                                \
            s1 += x1[j] * w[j];                                                \
        }                                                                      \
        *a0 = s0;                                                              \
        *a1 = s1;                                                              \
    }                                                                          \
    /* a + x . w */                                                            \
    GD_CLONES static T gd_dot_##SUFFIX(const T *restrict x,                   \
                                       const T *restrict w, ptrdiff_t d, T a) { \
        for (ptrdiff_t j = 0; j < d; j++) a += x[j] * w[j];                    \
        return a;                                                              \
    }                                                                          \
    /* g += r0 x0 + r1 x1 */                                                   \
    GD_CLONES static void gd_axpy2_##SUFFIX(T *restrict g, T r0,              \
                                            const T *restrict x0, T r1,        \
                                            const T *restrict x1, ptrdiff_t d) { \
        for (ptrdiff_t j = 0; j < d; j++) g[j] += r0 * x0[j] + r1 * x1[j];    \
    }                                                                          \
    /* g += r x */                                                             \
    GD_CLONES static void gd_axpy_##SUFFIX(T *restrict g, T r,                \
                                           const T *restrict x, ptrdiff_t d) { \
        for (ptrdiff_t j = 0; j < d; j++) g[j] += r * x[j];                    \
    }

GD_ROW_FUNCTIONS(double, d)
GD_ROW_FUNCTIONS(float, f)

#endif
