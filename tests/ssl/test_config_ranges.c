/* tests/ssl/test_config_ranges.c: every documented range of the training config is one the
 * code can run. model.proj_out (D) used to go up to 65536, and D = 32767 already aborted in
 * the workspace query of the eigendecomposition every run does (LAPACK indexes its 2D^2 + 6D + 1
 * floats with a 32-bit int): the largest D the schema accepts must size its workspace, in a
 * child process so that an abort is a failure, not the end of the test. */
#define _DEFAULT_SOURCE /* fork with -std=c11 */
#include <sys/wait.h>
#include <unistd.h>

#include "core/ssl/train_config.h"
#include "kernels/backend.h"
#include "kernels/kernels.h"
#include "test_util.h"

int main(void) {
    int n;
    const sg_cfg_spec *s = sg_train_schema(&n);
    int dmax = -1;
    for (int i = 0; i < n; i++)
        if (!strcmp(s[i].key, "model.proj_out")) dmax = (int)s[i].max;
    CHECK(dmax > 0, "model.proj_out is in the schema");
    const sg_backend *be = sg_backend_get("cpu");
    SG_CHECK(be != NULL, "the CPU backend");
    fflush(NULL);
    pid_t pid = fork();
    SG_CHECK(pid >= 0, "fork");
    if (pid == 0) {
        size_t bytes = be->syevd_workspace_bytes(be, dmax);
        double need = (2.0 * dmax * dmax + 6.0 * dmax + 1) * sizeof(float);
        _exit((double)bytes >= need ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "the syevd workspace of D = %d (model.proj_out's maximum): child %s %d", dmax,
          WIFSIGNALED(status) ? "killed by signal" : "exit status",
          WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    /* and the schema takes its own bounds */
    sg_config *c = sg_train_config_new();
    sg_err err;
    char kv[64];
    snprintf(kv, sizeof kv, "model.proj_out=%d", dmax);
    CHECK(sg_train_config_set_arg(c, kv, &err) == 0, "%s", err.msg);
    snprintf(kv, sizeof kv, "model.proj_out=%d", dmax + 1);
    CHECK(sg_train_config_set_arg(c, kv, &err) == -1 && strstr(err.msg, "out of range"),
          "one more: %s", err.msg);
    sg_config_free(c);
    return test_finish();
}
