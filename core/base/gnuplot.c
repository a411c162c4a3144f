/* core/base/gnuplot.c: charts rendered by gnuplot (gnuplot.h). */
#define _XOPEN_SOURCE 700 /* popen, pclose */
#include "core/base/gnuplot.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

void sg_gp_sq(sg_sbuf *b, const char *s) {
    for (; *s; s++) sg_sbuf_printf(b, *s == '\'' ? "''" : "%c", *s);
}

void sg_gp_dq(sg_sbuf *b, const char *s, size_t max) {
    size_t n = strlen(s);
    int cut = n > max;
    for (size_t i = 0; i < (cut ? max - 3 : n); i++) {
        if (s[i] == '"' || s[i] == '\\') sg_sbuf_printf(b, "\\");
        sg_sbuf_printf(b, "%c", s[i] == '\n' ? ' ' : s[i]);
    }
    if (cut) sg_sbuf_printf(b, "...");
}

void sg_gp_png_output(sg_sbuf *gp, int w, int h, const char *png) {
    sg_sbuf_printf(gp,
                   "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
                   "  set terminal pngcairo size %d,%d font 'DejaVu Sans,9' noenhanced\n"
                   "} else {\n"
                   "  set terminal png size %d,%d noenhanced\n"
                   "}\n",
                   w, h, w, h);
    sg_sbuf_printf(gp, "if (!exists('OUT')) OUT = '");
    sg_gp_sq(gp, png);
    sg_sbuf_printf(gp, "'\nset output OUT\n");
}

/* Feeds "OUT = 'png_out'" (when png_out is set) and the script to gnuplot through a pipe. */
static int render(const char *gnuplot, const sg_sbuf *gp, const char *png_out, const char *gp_path,
                  sg_err *err) {
    sg_sbuf cmd = {0}; /* the path single-quoted for the shell */
    sg_sbuf_printf(&cmd, "'");
    for (const char *s = gnuplot; *s; s++) sg_sbuf_printf(&cmd, *s == '\'' ? "'\\''" : "%c", *s);
    sg_sbuf_printf(&cmd, "'");
    fflush(NULL);
    FILE *p = popen(cmd.s, "w");
    sg_sbuf_free(&cmd);
    if (!p) return sg_errf(err, "cannot run '%s': %s", gnuplot, strerror(errno));
    /* a gnuplot that dies early must not kill us with SIGPIPE */
    void (*old)(int) = signal(SIGPIPE, SIG_IGN);
    sg_sbuf head = {0};
    sg_sbuf_printf(&head, "OUT = '");
    sg_gp_sq(&head, png_out ? png_out : "");
    sg_sbuf_printf(&head, "'\n");
    int short_write = png_out && fwrite(head.s, 1, head.len, p) != head.len;
    sg_sbuf_free(&head);
    size_t wrote = short_write ? 0 : fwrite(gp->s, 1, gp->len, p);
    int st = pclose(p);
    signal(SIGPIPE, old == SIG_ERR ? SIG_DFL : old);
    if (st == -1) return sg_errf(err, "waiting for '%s': %s", gnuplot, strerror(errno));
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || wrote != gp->len)
        return sg_errf(err,
                       "gnuplot ('%s') failed on the script %s (exit status %d); its "
                       "messages are above",
                       gnuplot, gp_path, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    return 0;
}

int sg_gnuplot_png(const char *gnuplot, const sg_sbuf *script, const char *script_path,
                   const char *png_path, const char *abs_png, sg_err *err) {
    sg_sbuf png_tmp = {0}, abs_png_tmp = {0};
    sg_sbuf_printf(&png_tmp, "%s.tmp", png_path);
    sg_sbuf_printf(&abs_png_tmp, "%s.tmp", abs_png);
    int rc = 0;
    if (render(gnuplot, script, abs_png_tmp.s, script_path, err)) {
        remove(png_tmp.s);
        rc = 1;
    } else if (rename(png_tmp.s, png_path) != 0) {
        sg_errf(err, "%s: cannot rename %s to it: %s", png_path, png_tmp.s, strerror(errno));
        rc = -2;
    }
    sg_sbuf_free(&png_tmp);
    sg_sbuf_free(&abs_png_tmp);
    return rc;
}

int sg_gnuplot_run(const char *gnuplot, const sg_sbuf *script, const char *what, sg_err *err) {
    return render(gnuplot, script, NULL, what, err) ? 1 : 0;
}
