/* exp(-min(|z|, 40)) over an array, written so that compilers vectorize it
 * (the binary kernels of _batched_kernels.pyx: E = exp(-|Z + b|)).
 *
 * A call to libm's exp is not vectorized; this polynomial is:
 * a = n ln2 + r with |r| <= ln2/2 (ln2 in two parts, Cody and Waite),
 * exp(-r) by its Taylor polynomial of degree 13 (remainder < 1e-17), and
 * 2^-n built in the exponent bits. Relative error ~2e-16.
 *
 * Two guards, both needed with the build's flags (setup.py):
 * - reassociation stays off here: with -fassociative-math, GCC folds
 *   n*LN2_HI + n*LN2_LO into n*(LN2_HI + LN2_LO), undoing Cody and Waite
 *   (relative error 5e-15 instead of 2e-16);
 * - on x86-64 Linux with GCC, the loops are compiled three times (AVX-512,
 *   AVX2 with FMA, and the portable SSE2 baseline), the CPU picking one at
 *   load time (GD_EXP_CLONES): the SSE2 exp loop is ~6x slower than the
 *   AVX-512 one, and the build stays portable (no -march=native).
 */
#ifndef GDLOGREG_EXP_H
#define GDLOGREG_EXP_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(_MSC_VER) && !defined(restrict)
#define restrict __restrict
#endif

/* 1 + exp(-a) rounds to 1 for a > 37.5 in float64: a larger a changes nothing. */
#define GD_EXP_CLAMP 40.0

#if defined(__clang__)
#define GD_NO_REASSOC_ATTR
#define GD_NO_REASSOC_BODY _Pragma("clang fp reassociate(off)")
#elif defined(__GNUC__)
#define GD_NO_REASSOC_ATTR __attribute__((optimize("no-associative-math")))
#define GD_NO_REASSOC_BODY
#else /* MSVC: /O2 does not reassociate */
#define GD_NO_REASSOC_ATTR
#define GD_NO_REASSOC_BODY
#endif

/* Two vectors of the loop at a time: the polynomial is a chain of 14
   dependent multiply-adds, and two chains keep the FPU busier (~10%). */
#if defined(__GNUC__) && !defined(__clang__)
#define GD_UNROLL2 _Pragma("GCC unroll 2")
#else
#define GD_UNROLL2
#endif

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && \
    defined(__linux__) && __GNUC__ >= 12 && !defined(GD_NO_CLONES)
#define GD_EXP_CLONES \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define GD_EXP_CLONES
#endif

/* exp(-a) for 0 <= a <= GD_EXP_CLAMP. */
GD_NO_REASSOC_ATTR static inline double gd_exp_neg(double a) {
    GD_NO_REASSOC_BODY
    /* floor(a/ln2 + 1/2) as a conversion to int (a >= 0): vectorizes on
       SSE2, where floor does not. */
    double n = (double)(int)(a * 1.44269504088896338700e00 + 0.5);
    double x = (n * 6.93147180369123816490e-01 - a) + n * 1.90821492927058770002e-10;
    double p = 1.0 / 6227020800.0; /* 1/13! */
    p = p * x + 1.0 / 479001600.0;
    p = p * x + 1.0 / 39916800.0;
    p = p * x + 1.0 / 3628800.0;
    p = p * x + 1.0 / 362880.0;
    p = p * x + 1.0 / 40320.0;
    p = p * x + 1.0 / 5040.0;
    p = p * x + 1.0 / 720.0;
    p = p * x + 1.0 / 120.0;
    p = p * x + 1.0 / 24.0;
    p = p * x + 1.0 / 6.0;
    p = p * x + 0.5;
    p = p * x + 1.0;
    p = p * x + 1.0;
    /* 2^-n: the integer 1023 - n sits in the low bits of (1023 - n) + 2^52;
       shifted into the exponent field it is the float 2^-n. */
    double t = (1023.0 - n) + 4503599627370496.0;
    uint64_t bits;
    memcpy(&bits, &t, sizeof bits);
    bits <<= 52;
    memcpy(&t, &bits, sizeof t);
    return p * t;
}

/* e[t] := exp(-e[t]) for 0 <= e[t] <= GD_EXP_CLAMP, one flat loop. The
   clamp of its input is a loop of its own (gd_shift_abs_clamp_*): in one
   loop with the polynomial, GCC's jump threading splits off the constant
   exp(-40) branch, and the loop is no longer vectorized. */
GD_EXP_CLONES GD_NO_REASSOC_ATTR static void gd_exp_neg_inplace(
    double *e, ptrdiff_t n) {
    GD_NO_REASSOC_BODY
    GD_UNROLL2
    for (ptrdiff_t t = 0; t < n; t++) e[t] = gd_exp_neg(e[t]);
}

/* Z (n_rows, n_cols) += b (n_cols), then E := min(|Z|, GD_EXP_CLAMP)
   (NaN -> GD_EXP_CLAMP), the input of gd_exp_neg_inplace. */
#define GD_SHIFT_ABS_CLAMP(T, SUFFIX)                                          \
    GD_EXP_CLONES static void gd_shift_abs_clamp_##SUFFIX(                     \
        T *restrict Z, const T *restrict b, double *restrict E,                \
        ptrdiff_t n_rows, ptrdiff_t n_cols) {                                  \
        for (ptrdiff_t i = 0; i < n_rows; i++) {                               \
            T *restrict z = Z + i * n_cols;                                    \
            double *restrict e = E + i * n_cols;                               \
            for (ptrdiff_t j = 0; j < n_cols; j++) {                           \
                T v = z[j] + b[j];                                             \
                double a = fabs((double)v);                                    \
                z[j] = v;                                                      \
                e[j] = a < GD_EXP_CLAMP ? a : GD_EXP_CLAMP;                    \
            }                                                                  \
        }                                                                      \
    }

GD_SHIFT_ABS_CLAMP(double, d)
GD_SHIFT_ABS_CLAMP(float, f)

#endif
