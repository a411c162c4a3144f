/* core/theory/checks.h: the theory suite's named claims, each a PASS/FAIL check.
 *
 * Every check runs one or more simulators of core/theory with the paper's dynamics (or, in
 * sensitivity tests only, with a deliberately perturbed term: perturb.h), measures a quantity
 * and compares it with the value the paper's closed forms predict for the NOMINAL dynamics,
 * within a tolerance chosen (and justified in checks.c) where the check is defined. The result
 * row says what was measured, what was expected, the tolerance and every parameter used.
 */
#pragma once
#include <stddef.h>
#include <stdio.h>

#include "core/base/err.h"
#include "core/theory/perturb.h"

typedef struct {
    const char *check; /* short name, e.g. "invariant" */
    const char *claim; /* the paper's statement being checked */
    char measured[320];
    char expected[320];
    char tolerance[200];
    char parameters[400];
    char detail[400];
    int pass;
    double seconds;
} sg_th_result;

typedef struct {
    const char *name;
    const char *claim;
    void (*run)(sg_th_perturb perturb, sg_th_result *r);
} sg_th_check;

int sg_th_check_count(void);
const sg_th_check *sg_th_check_at(int i);
const sg_th_check *sg_th_check_find(const char *name); /* NULL when unknown */

/* Runs one check (timing it) into r. */
void sg_th_check_run(const sg_th_check *c, sg_th_perturb perturb, sg_th_result *r);

/* The CSV of results: check, claim, measured, expected, tolerance, verdict, parameters,
 * detail, seconds. Written atomically. */
int sg_th_results_write_csv(const char *path, const sg_th_result *rs, size_t n, sg_err *err);
/* The PASS/FAIL table on f (one line per check). */
void sg_th_results_print(const sg_th_result *rs, size_t n, FILE *f);
