/* core/base/stats.c: the Mann-Whitney U test and the median (stats.h). */
#include "core/base/stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/err.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double *sorted_copy(const double *x, int n, const double *y, int m) {
    double *s = malloc(((size_t)n + (size_t)m) * sizeof *s);
    SG_CHECK(s != NULL, "out of memory (%d values)", n + m);
    if (n) memcpy(s, x, (size_t)n * sizeof *s);
    if (m) memcpy(s + n, y, (size_t)m * sizeof *s);
    qsort(s, (size_t)n + (size_t)m, sizeof *s, cmp_double);
    return s;
}

double sg_median(const double *x, int n) {
    if (n < 1) return NAN;
    double *s = sorted_copy(x, n, NULL, 0);
    double med = n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
    free(s);
    return med;
}

double sg_mann_whitney_u(const double *x, int nx, const double *y, int ny) {
    double u = 0;
    for (int i = 0; i < nx; i++)
        for (int j = 0; j < ny; j++) u += y[j] > x[i] ? 1.0 : y[j] == x[i] ? 0.5 : 0.0;
    return u;
}

/* sum over tie groups of t^3 - t in the pooled sample (0 when all values are distinct). */
static double tie_term(const double *x, int nx, const double *y, int ny) {
    int n = nx + ny;
    double *s = sorted_copy(x, nx, y, ny);
    double t3 = 0;
    for (int i = 0; i < n;) {
        int j = i + 1;
        while (j < n && s[j] == s[i]) j++;
        double t = (double)(j - i);
        t3 += t * t * t - t;
        i = j;
    }
    free(s);
    return t3;
}

/* P(U >= u_obs) under H0 without ties, U = #pairs (x < y) with n x's and m y's.
 * P_{n,m}(u) = n/(n+m) P_{n-1,m}(u) + m/(n+m) P_{n,m-1}(u-n): the largest of the n+m values is
 * an x (adding no pair) or a y (above all n x's). The distribution is the same for (n, m) and
 * (m, n), so the recursion runs over the smaller side: memory 2 (n+1) (nm+1) doubles. */
static double mw_exact_upper(int n, int m, double u_obs) {
    if (n > m) {
        int t = n;
        n = m;
        m = t;
    }
    size_t stride = (size_t)n * (size_t)m + 1;
    double *prev = calloc((size_t)(n + 1) * stride, sizeof *prev);
    double *cur = calloc((size_t)(n + 1) * stride, sizeof *cur);
    SG_CHECK(prev && cur, "out of memory (exact Mann-Whitney %dx%d)", n, m);
    for (int a = 0; a <= n; a++) prev[(size_t)a * stride] = 1.0; /* m' = 0: U = 0 */
    for (int b = 1; b <= m; b++) {
        cur[0] = 1.0; /* n' = 0: U = 0 */
        for (int a = 1; a <= n; a++) {
            double pa = (double)a / (double)(a + b), pb = (double)b / (double)(a + b);
            const double *left = cur + (size_t)(a - 1) * stride; /* P_{a-1,b}, support 0..(a-1)b */
            const double *down = prev + (size_t)a * stride;      /* P_{a,b-1}, support 0..a(b-1) */
            double *row = cur + (size_t)a * stride;
            int top = a * b, top_left = (a - 1) * b, top_down = a * (b - 1);
            for (int u = 0; u <= top; u++) {
                double v = 0;
                if (u <= top_left) v += pa * left[u];
                if (u >= a && u - a <= top_down) v += pb * down[u - a];
                row[u] = v;
            }
        }
        double *t = prev;
        prev = cur;
        cur = t;
    }
    const double *dist = prev + (size_t)n * stride;
    int first = (int)ceil(u_obs - 1e-9);
    if (first < 0) first = 0;
    double p = 0;
    for (int u = n * m; u >= first; u--) p += dist[u]; /* small terms first */
    free(prev);
    free(cur);
    return p > 1.0 ? 1.0 : p;
}

static double mw_normal_upper(const double *x, int nx, const double *y, int ny, double u) {
    double n = (double)nx + (double)ny;
    double var =
        (double)nx * (double)ny / 12.0 * ((n + 1.0) - tie_term(x, nx, y, ny) / (n * (n - 1.0)));
    if (!(var > 0)) return 1.0; /* every value equal: no evidence either way */
    double z = (u - 0.5 * (double)nx * (double)ny - 0.5) / sqrt(var);
    return 0.5 * erfc(z / sqrt(2.0));
}

double sg_mann_whitney_p_greater_method(const double *x, int nx, const double *y, int ny,
                                        sg_mw_method method, sg_mw_method *used) {
    if (used) *used = SG_MW_AUTO;
    if (nx < 1 || ny < 1) return NAN;
    for (int i = 0; i < nx; i++)
        if (!isfinite(x[i])) return NAN;
    for (int j = 0; j < ny; j++)
        if (!isfinite(y[j])) return NAN;
    double cells = (double)nx * (double)ny;
    if (method == SG_MW_AUTO)
        method = cells <= SG_MW_EXACT_MAX_CELLS && tie_term(x, nx, y, ny) == 0 ? SG_MW_EXACT
                                                                               : SG_MW_NORMAL;
    if (method == SG_MW_EXACT && cells > 1e6) return NAN;
    if (used) *used = method;
    double u = sg_mann_whitney_u(x, nx, y, ny);
    return method == SG_MW_EXACT ? mw_exact_upper(nx, ny, u) : mw_normal_upper(x, nx, y, ny, u);
}

double sg_mann_whitney_p_greater(const double *x, int nx, const double *y, int ny) {
    return sg_mann_whitney_p_greater_method(x, nx, y, ny, SG_MW_AUTO, NULL);
}
