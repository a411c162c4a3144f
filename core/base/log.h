/* core/base/log.h: messages on stderr and a progress bar.
 * The bar redraws in place (rate and ETA) when stderr is a terminal; in a pipe or a CI log it
 * prints a whole line now and then (see sg_progress_start), so a long run is never silent. */
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
    char item[16];   /* the rate is shown in items/s when set (img/s of a step counter) */
    double per_unit; /* items per unit */
    long long total, done;
    long long done_before; /* units done before this start (a resumed run): not in the rate */
    double t_start, t_last_draw;
    long long done_last_draw;
    int tty; /* redraw a bar in place; otherwise whole lines now and then */
    FILE *out;
} sg_progress;

/* out NULL means stderr. On a terminal the bar redraws in place (10 times a second at most);
 * elsewhere (a pipe, a file, a CI log) a whole line every 30 s, or sooner when another 5% is
 * done, but at most one line per 10 s; finish prints the last line. */
void sg_progress_start(sg_progress *p, FILE *out, const char *label, long long total,
                       const char *unit);
/* Show the rate as per_unit items per unit ("img" per "step"). */
void sg_progress_rate_in(sg_progress *p, double per_unit, const char *item);
/* The first done units were done before this start (a resumed run): the rate and ETA count
 * from here. */
void sg_progress_skip(sg_progress *p, long long done);
/* Whole lines even on a terminal: for processes that share one (a suite's parallel runs). */
void sg_progress_lines(sg_progress *p);
void sg_progress_update(sg_progress *p, long long done);
/* The same at a given time of sg_now() (exposed for tests). */
void sg_progress_update_at(sg_progress *p, long long done, double now);
void sg_progress_finish(sg_progress *p);
/* The text of the bar for `done` after `elapsed` seconds (exposed for tests). */
void sg_progress_format(const sg_progress *p, long long done, double elapsed, char *buf,
                        size_t len);
