/* core/base/log.h: messages on stderr and a progress bar.
 * The bar redraws in place (rate and ETA) only when stderr is a terminal; in a pipe or a CI log
 * it stays quiet and prints one summary line when finished. */
#pragma once
#include <stdio.h>

typedef enum { SG_LOG_ERROR = 0, SG_LOG_WARN = 1, SG_LOG_INFO = 2, SG_LOG_DEBUG = 3 } sg_log_level;

void sg_log_set_level(sg_log_level level);
sg_log_level sg_log_get_level(void);
void sg_log(sg_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define sg_error(...) sg_log(SG_LOG_ERROR, __VA_ARGS__)
#define sg_warn(...) sg_log(SG_LOG_WARN, __VA_ARGS__)
#define sg_info(...) sg_log(SG_LOG_INFO, __VA_ARGS__)
#define sg_debug(...) sg_log(SG_LOG_DEBUG, __VA_ARGS__)

/* Monotonic wall clock in seconds. */
double sg_now(void);

typedef struct {
    char label[64];
    char unit[16];
    long long total, done;
    double t_start, t_last_draw;
    int tty;    /* stderr is a terminal: redraw in place */
    FILE *out;
} sg_progress;

/* out NULL means stderr. */
void sg_progress_start(sg_progress *p, FILE *out, const char *label, long long total,
                       const char *unit);
void sg_progress_update(sg_progress *p, long long done);
void sg_progress_finish(sg_progress *p);
/* The text of the bar for `done` after `elapsed` seconds (exposed for tests). */
void sg_progress_format(const sg_progress *p, long long done, double elapsed, char *buf,
                        size_t len);
