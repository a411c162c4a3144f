/* tests/ssl/test_results_columns.c: the results CSV's header names every column once. It used
 * to have git_commit twice: in the run's own columns and again in the machine columns appended
 * to them, and a reader finds only the first of two same-named columns. */
#include "core/base/machine.h"
#include "core/ssl/train.h"
#include "test_util.h"

int main(void) {
    int n = sg_train_results_ncols();
    const char *const *h = sg_train_results_header();
    CHECK(n > sg_machine_ncols(), "%d columns, %d of them the machine's", n, sg_machine_ncols());
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            CHECK(strcmp(h[i], h[j]) != 0, "column %d and column %d are both '%s'", i + 1, j + 1,
                  h[i]);
    int commit = 0;
    for (int i = 0; i < n; i++) commit += !strcmp(h[i], "git_commit");
    CHECK(commit == 1, "git_commit appears %d times", commit);
    return test_finish();
}
