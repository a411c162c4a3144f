/* core/base/stats.h: small statistics for benchmark comparisons (`stopgrad compare`).
 *
 * The Mann-Whitney U test (Wilcoxon rank-sum) compares two samples of repetition times without
 * assuming a distribution: timing noise is skewed (a few slow outliers), which a t-test handles
 * badly. U counts the pairs (x_i, y_j) with y_j > x_i (a tie counts 1/2).
 *
 * sg_mann_whitney_p_greater chooses the method itself:
 *   - exact: when nx*ny <= SG_MW_EXACT_MAX_CELLS and no value appears twice in the pooled
 *     sample, the null distribution of U is computed exactly by dynamic programming over U
 *     (the largest pooled value is a y with probability m/(n+m) and then adds n pairs);
 *   - otherwise the normal approximation: mean nx*ny/2, variance
 *     nx*ny/12 * ((N+1) - sum_t (t^3 - t) / (N(N-1))) with N = nx+ny and t the size of each
 *     group of tied values (tie correction), and a continuity correction of 1/2 on U.
 * sg_mann_whitney_p_greater_method forces one of them (the tests compare the two). */
#pragma once

#define SG_MW_EXACT_MAX_CELLS 2500

typedef enum { SG_MW_AUTO = 0, SG_MW_EXACT, SG_MW_NORMAL } sg_mw_method;

/* One-sided p-value of H1 "values of y tend to be larger than values of x" (for timings: NEW is
 * slower than BASE), i.e. P(U >= U_observed) under H0 (both samples from one distribution).
 * NaN when nx < 1 or ny < 1 or a value is not finite. */
double sg_mann_whitney_p_greater(const double *x, int nx, const double *y, int ny);

/* The same with the method forced; SG_MW_EXACT with ties present still counts a tie as 1/2 but
 * the exact distribution assumes none, so it is only an approximation there. SG_MW_EXACT is
 * refused (NaN) when nx*ny exceeds 1e6 (memory). used (may be NULL) receives the method run. */
double sg_mann_whitney_p_greater_method(const double *x, int nx, const double *y, int ny,
                                        sg_mw_method method, sg_mw_method *used);

/* U = #{(i, j): y_j > x_i} + 1/2 #{(i, j): y_j == x_i}. */
double sg_mann_whitney_u(const double *x, int nx, const double *y, int ny);

/* Median of x[n] (mean of the two middle values when n is even); x is not modified. NaN when
 * n < 1. */
double sg_median(const double *x, int n);
