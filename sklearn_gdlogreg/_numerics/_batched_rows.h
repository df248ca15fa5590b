/* Inner loops of the binary kernels of _batched_kernels.pyx, over a range
 * of rows of one block (row-major Z and E, n_cols models).
 *
 * In C rather than Cython for two reasons: `restrict` (without it, the
 * accumulators may alias Z and E, and GCC gives up vectorizing), and the
 * per-CPU clones of _exp.h (the SSE2 baseline does two divisions at a time,
 * AVX-512 eight: the portable loop is ~2x slower). The arithmetic is the
 * kernels' own, in this order:
 *
 *     d = 1 + exp(-|z|)              (E holds exp(-|z|))
 *     r = (copysign(1/d - 1/2, z) + (1/2 - y)) * weight
 *
 * float64 throughout, Z's dtype T only for z in and r out; the sums are
 * float64.
 */
#ifndef GDLOGREG_BATCHED_ROWS_H
#define GDLOGREG_BATCHED_ROWS_H

#include <math.h>
#include <stddef.h>

#include "_exp.h"

#define GD_BATCHED_ROWS(T, SUFFIX)                                             \
    /* Weight c[j] on every row: sum r, sum |z|, product of d. */              \
    GD_EXP_CLONES static void gd_uniform_rows_##SUFFIX(                        \
        T *restrict Z, const double *restrict E, const T *restrict hy,         \
        const double *restrict c, double *restrict acc0,                       \
        double *restrict acc1, double *restrict acc2, ptrdiff_t n_rows,        \
        ptrdiff_t n_cols) {                                                    \
        for (ptrdiff_t i = 0; i < n_rows; i++) {                               \
            T *restrict z = Z + i * n_cols;                                    \
            const double *restrict e = E + i * n_cols;                         \
            double h = hy[i];                                                  \
            for (ptrdiff_t j = 0; j < n_cols; j++) {                           \
                double zj = z[j];                                              \
                double d = 1.0 + e[j];                                         \
                double r = (copysign(1.0 / d - 0.5, zj) + h) * c[j];           \
                z[j] = (T)r;                                                   \
                acc0[j] += r;                                                  \
                acc1[j] += fabs(zj);                                           \
                acc2[j] *= d;                                                  \
            }                                                                  \
        }                                                                      \
    }                                                                          \
                                                                               \
    /* Weights s, each 0 or c[j]: rows of weight 0 add only r = 0. */          \
    GD_EXP_CLONES static void gd_masked_rows_##SUFFIX(                         \
        T *restrict Z, const double *restrict E, const T *restrict hy,         \
        const T *restrict S, double *restrict acc0, double *restrict acc1,     \
        double *restrict acc2, ptrdiff_t n_rows, ptrdiff_t n_cols) {           \
        for (ptrdiff_t i = 0; i < n_rows; i++) {                               \
            T *restrict z = Z + i * n_cols;                                    \
            const double *restrict e = E + i * n_cols;                         \
            const T *restrict s = S + i * n_cols;                              \
            double h = hy[i];                                                  \
            for (ptrdiff_t j = 0; j < n_cols; j++) {                           \
                double zj = z[j];                                              \
                double d = 1.0 + e[j];                                         \
                double w = s[j];                                               \
                double r = (copysign(1.0 / d - 0.5, zj) + h) * w;              \
                z[j] = (T)r;                                                   \
                acc0[j] += r;                                                  \
                acc1[j] += w > 0 ? fabs(zj) : 0.0;                             \
                acc2[j] *= w > 0 ? d : 1.0;                                    \
            }                                                                  \
        }                                                                      \
    }                                                                          \
                                                                               \
    /* Any weights s: sum r, and sum s (|z|/2 + log d) (one log per entry,    \
       in its own loop: the residuals' loop stays vectorized). */             \
    GD_EXP_CLONES static void gd_weighted_rows_##SUFFIX(                       \
        T *restrict Z, const double *restrict E, const T *restrict hy,         \
        const T *restrict S, double *restrict acc0, double *restrict acc1,     \
        ptrdiff_t n_rows, ptrdiff_t n_cols) {                                  \
        for (ptrdiff_t i = 0; i < n_rows; i++) {                               \
            T *restrict z = Z + i * n_cols;                                    \
            const double *restrict e = E + i * n_cols;                         \
            const T *restrict s = S + i * n_cols;                              \
            double h = hy[i];                                                  \
            for (ptrdiff_t j = 0; j < n_cols; j++) {                           \
                double w = s[j];                                               \
                acc1[j] += w * (0.5 * fabs((double)z[j]) + log(1.0 + e[j]));   \
            }                                                                  \
            for (ptrdiff_t j = 0; j < n_cols; j++) {                           \
                double zj = z[j];                                              \
                double r = (copysign(1.0 / (1.0 + e[j]) - 0.5, zj) + h) * s[j]; \
                z[j] = (T)r;                                                   \
                acc0[j] += r;                                                  \
            }                                                                  \
        }                                                                      \
    }

GD_BATCHED_ROWS(double, d)
GD_BATCHED_ROWS(float, f)

#endif
