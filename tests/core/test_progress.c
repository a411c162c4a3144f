/* Progress bar text, its whole-line mode in a pipe; log levels. */
#include <unistd.h>

#include "core/base/log.h"
#include "test_util.h"

int main(void) {
    sg_progress p;
    char path[512];
    snprintf(path, sizeof path, "%s/progress_%d.txt", tu_tmpdir(), (int)getpid());
    FILE *f = fopen(path, "w+");
    CHECK(f != NULL, "open %s", path);
    if (!f) return test_finish();

    sg_progress_start(&p, f, "train", 200, "img");
    CHECK(!p.tty, "a regular file is not a terminal");
    char line[256];
    sg_progress_format(&p, 50, 10.0, line, sizeof line);
    /* 50 of 200 in 10 s: 5 img/s, 150 left -> 30 s */
    CHECK(strstr(line, "50/200 img") != NULL, "%s", line);
    CHECK(strstr(line, "5.0 img/s") != NULL, "%s", line);
    CHECK(strstr(line, "elapsed 00:10") != NULL, "%s", line);
    CHECK(strstr(line, "eta 00:30") != NULL, "%s", line);
    CHECK(strstr(line, "[######..................]") != NULL, "quarter bar: %s", line);
    sg_progress_format(&p, 0, 0.0, line, sizeof line);
    CHECK(strstr(line, "eta --:--") != NULL, "no rate yet: %s", line);
    sg_progress_format(&p, 100, 7300.0, line, sizeof line);
    CHECK(strstr(line, "elapsed 2:01:40") != NULL, "hours: %s", line);

    /* the rate in items of a unit: 64 images per step */
    sg_progress_rate_in(&p, 64, "img");
    sg_progress_format(&p, 50, 10.0, line, sizeof line);
    CHECK(strstr(line, "320.0 img/s") != NULL, "rate in images: %s", line);

    /* in a pipe or file: a whole line after 30 s, or after 5% more once 10 s have passed;
     * finish prints one more. Time is given, so the count is exact. */
    sg_progress_start(&p, f, "train", 1000, "step");
    const double start = p.t_start;
    for (int i = 1; i <= 20; i++) sg_progress_update_at(&p, i, start + i); /* 2% in 20 s */
    fflush(f);
    CHECK(ftell(f) == 0, "nothing before 30 s or 5%% (%ld bytes)", ftell(f));
    sg_progress_update_at(&p, 21, start + 30); /* 30 s: a line */
    sg_progress_update_at(&p, 22, start + 31); /* 1 s later: none */
    sg_progress_update_at(&p, 80, start + 35); /* 5.9% more but only 5 s later: none */
    sg_progress_update_at(&p, 90, start + 40); /* 6.9% more, 10 s later: a line */
    sg_progress_update_at(&p, 100, start + 69); /* 1% more, 29 s later: none */
    sg_progress_finish(&p);
    rewind(f);
    int lines = 0, c;
    while ((c = fgetc(f)) != EOF) lines += c == '\n';
    CHECK(lines == 3, "two progress lines and the last one, got %d", lines);
    fclose(f);
    unlink(path);

    sg_log_set_level(SG_LOG_WARN);
    CHECK(sg_log_get_level() == SG_LOG_WARN, "level set");
    double t0 = sg_now(), t1 = sg_now();
    CHECK(t1 >= t0 && t0 > 0, "monotonic clock");
    return test_finish();
}
