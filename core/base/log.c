/* core/base/log.c: leveled messages and the progress bar. */
#include "core/base/log.h"

#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static sg_log_level log_level = SG_LOG_INFO;

void sg_log_set_level(sg_log_level level) { log_level = level; }
sg_log_level sg_log_get_level(void) { return log_level; }

void sg_log(sg_log_level level, const char *fmt, ...) {
    static const char *const prefix[] = {"error: ", "warning: ", "", "debug: "};
    if (level > log_level) return;
    /* Build the whole line first so lines from several threads do not interleave. */
    char line[2048];
    int at = snprintf(line, sizeof line, "stopgrad: %s", prefix[level]);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + at, sizeof line - (size_t)at, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s\n", line);
}

double sg_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void format_duration(double s, char *buf, size_t len) {
    if (!(s >= 0) || s > 1e7) {
        snprintf(buf, len, "--:--");
        return;
    }
    int t = (int)(s + 0.5); /* s <= 1e7: fits */
    if (t >= 3600)
        snprintf(buf, len, "%d:%02d:%02d", t / 3600, (t / 60) % 60, t % 60);
    else
        snprintf(buf, len, "%02d:%02d", t / 60, t % 60);
}

void sg_progress_start(sg_progress *p, FILE *out, const char *label, long long total,
                       const char *unit) {
    memset(p, 0, sizeof *p);
    p->out = out ? out : stderr;
    snprintf(p->label, sizeof p->label, "%s", label);
    snprintf(p->unit, sizeof p->unit, "%s", unit ? unit : "it");
    p->total = total;
    p->t_start = sg_now();
    p->t_last_draw = p->t_start;
    p->tty = isatty(fileno(p->out));
}

void sg_progress_rate_in(sg_progress *p, double per_unit, const char *item) {
    p->per_unit = per_unit;
    snprintf(p->item, sizeof p->item, "%s", item ? item : "");
}

void sg_progress_lines(sg_progress *p) { p->tty = 0; }

void sg_progress_skip(sg_progress *p, long long done) {
    p->done = p->done_before = p->done_last_draw = done;
}

void sg_progress_format(const sg_progress *p, long long done, double elapsed, char *buf,
                        size_t len) {
    const int width = 24;
    double frac = p->total > 0 ? (double)done / (double)p->total : 0;
    if (frac > 1) frac = 1;
    int fill = (int)(frac * width + 0.5);
    char bar[32];
    for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
    bar[width] = 0;
    double rate = elapsed > 0 ? (double)(done - p->done_before) / elapsed : 0;
    char el[32], eta[32], shown[48];
    format_duration(elapsed, el, sizeof el);
    format_duration(rate > 0 ? (double)(p->total - done) / rate : -1, eta, sizeof eta);
    if (p->item[0] && p->per_unit > 0)
        snprintf(shown, sizeof shown, "%.1f %s/s", rate * p->per_unit, p->item);
    else
        snprintf(shown, sizeof shown, "%.1f %s/s", rate, p->unit);
    snprintf(buf, len, "%s [%s] %lld/%lld %s  %s  elapsed %s  eta %s", p->label, bar, done,
             p->total, p->unit, shown, el, eta);
}

void sg_progress_update_at(sg_progress *p, long long done, double now) {
    p->done = done;
    double since = now - p->t_last_draw;
    if (p->tty) {
        if (since < 0.1 && done < p->total) return; /* 10 redraws/s at most */
    } else {
        int step_5pct = p->total > 0 && 20 * (done - p->done_last_draw) >= p->total;
        if (!(since >= 30 || (step_5pct && since >= 10))) return;
    }
    p->t_last_draw = now;
    p->done_last_draw = done;
    char line[256];
    sg_progress_format(p, done, now - p->t_start, line, sizeof line);
    fprintf(p->out, p->tty ? "\r%s\033[K" : "%s\n", line);
    fflush(p->out);
}

void sg_progress_update(sg_progress *p, long long done) { sg_progress_update_at(p, done, sg_now()); }

void sg_progress_finish(sg_progress *p) {
    char line[256];
    sg_progress_format(p, p->done, sg_now() - p->t_start, line, sizeof line);
    /* On a terminal: finish the bar's line. Elsewhere: the last whole line. */
    fprintf(p->out, p->tty ? "\r%s\033[K\n" : "%s\n", line);
    fflush(p->out);
}
