/* OpenMP's thread count where the build has OpenMP, else 1. */
#ifndef GDLOGREG_OPENMP_H
#define GDLOGREG_OPENMP_H
#ifdef _OPENMP
#include <omp.h>
static inline int gd_omp_max_threads(void) { return omp_get_max_threads(); }
#else
static inline int gd_omp_max_threads(void) { return 1; }
#endif
#endif
