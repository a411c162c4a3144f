/* core/theory/claims.h: the paper's claims, each checked into a PASS/FAIL row of
 * `stopgrad theory check`.
 *
 * Every claim runs one or more simulators of core/theory with the paper's dynamics (or, in
 * sensitivity tests only, with a deliberately perturbed term: perturb.h), measures a quantity
 * and compares it with the value the paper's closed forms predict for the NOMINAL dynamics,
 * within a tolerance chosen (and justified in claims.c) where the claim is defined. The result
 * row says what was measured, what was expected, the tolerance and every parameter used.
 */
#pragma once
#include <stddef.h>
#include <stdio.h>

#include "core/base/err.h"
#include "core/theory/perturb.h"

typedef struct {
    const char *name;      /* short name, e.g. "invariant" */
    const char *statement; /* the paper's statement being checked */
    char measured[320];
    char expected[320];
    char tolerance[200];
    char parameters[400];
    char detail[400];
    int pass;
    double seconds;
} sg_th_claim_result;

typedef struct {
    const char *name;
    const char *statement;
    void (*run)(sg_th_perturb perturb, sg_th_claim_result *r);
} sg_th_claim;

int sg_th_claim_count(void);
const sg_th_claim *sg_th_claim_at(int i);
const sg_th_claim *sg_th_claim_find(const char *name); /* NULL when unknown */

/* Checks one claim (timing it) into r. */
void sg_th_claim_run(const sg_th_claim *c, sg_th_perturb perturb, sg_th_claim_result *r);

/* The CSV of results: check, claim, measured, expected, tolerance, verdict, parameters,
 * detail, seconds. Written atomically. */
int sg_th_claims_write_csv(const char *path, const sg_th_claim_result *rs, size_t n, sg_err *err);
/* The PASS/FAIL table on f (one line per claim). */
void sg_th_claims_print(const sg_th_claim_result *rs, size_t n, FILE *f);
