/* tests/bench/test_history_browser.c: the history site in a real browser. A history of the
 * committed H200 kernel-suite run plus a synthetic 12-commit history with a slowdown planted at
 * commit 9 (history_synth.h) is written as a site; headless Chromium (Debian's chromium) loads
 * the index and a benchmark page, and every chart of each must have loaded (the pages count
 * their loaded images into body's data-charts-loaded, read back from the DOM Chromium dumps);
 * then a screenshot of the index is written and must be a PNG. Skipped, saying why, when
 * Chromium or gnuplot is not installed. */
#define _POSIX_C_SOURCE 200809L /* mkdir, getpid, popen */
#include <sys/stat.h>
#include <unistd.h>

#include "bench/history.h"
#include "core/base/text.h"
#include "history_synth.h"
#include "test_util.h"

/* Chromium's DOM of url after load (its console chatter to /dev/null); NULL when it failed. */
static char *dump_dom(const char *exe, const char *profile, const char *url) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "'%s' --headless --no-sandbox --disable-gpu --user-data-dir='%s' "
             "--virtual-time-budget=10000 --dump-dom '%s' 2>/dev/null",
             exe, profile, url);
    FILE *p = popen(cmd, "r");
    if (!p) return NULL;
    sg_sbuf out = {0};
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf - 1, p)) > 0) {
        buf[n] = 0;
        sg_sbuf_printf(&out, "%s", buf);
    }
    int st = pclose(p);
    if (st != 0) {
        sg_sbuf_free(&out);
        return NULL;
    }
    return out.s;
}

/* data-charts-loaded="OK/ALL" of a dumped DOM: 1 when all ALL > 0 charts loaded. */
static int charts_loaded(const char *dom, int *ok, int *all) {
    *ok = *all = -1;
    const char *p = dom ? strstr(dom, "data-charts-loaded=\"") : NULL;
    if (!p || sscanf(p + 20, "%d/%d", ok, all) != 2) return 0;
    return *all > 0 && *ok == *all;
}

int main(void) {
    char chromium[4200], gnuplot[4200];
    if (!sg_find_program("chromium", chromium, sizeof chromium) &&
        !sg_find_program("chromium-browser", chromium, sizeof chromium))
        TEST_SKIP("no Chromium on PATH (Debian's chromium package; scripts/setup.sh installs it "
                  "when apt can): the site was not checked in a browser");
    if (!sg_find_program("gnuplot", gnuplot, sizeof gnuplot))
        TEST_SKIP("no gnuplot on PATH (scripts/setup.sh installs gnuplot-nox): no site to load");
    char tmp[1024], db[1100], p[1200], site[1100], profile[1100];
    snprintf(tmp, sizeof tmp, "%s/history_browser_%d", tu_tmpdir(), (int)getpid());
    if (mkdir(tmp, 0777) != 0) {
        fprintf(stderr, "cannot create %s\n", tmp);
        return 2;
    }
    snprintf(db, sizeof db, "%s/h.sqlite", tmp);
    snprintf(site, sizeof site, "%s/site", tmp);
    snprintf(profile, sizeof profile, "%s/chromium-profile", tmp);
    sg_history *h;
    sg_err err;
    if (sg_history_open(&h, db, 1, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 2;
    }
    sg_history_add_result r;
    const char *src = getenv("SG_SOURCE_DIR");
    snprintf(p, sizeof p, "%s/results/measured/h200-2026-11-29/bench-kernels-gpu-check-run1.csv",
             src && *src ? src : ".");
    CHECK(sg_history_add(h, p, NULL, &r, &err) == 0, "add %s: %s", p, err.msg);
    for (int k = 0; k < 12; k++) {
        snprintf(p, sizeof p, "%s/syn-%02d.csv", tmp, k);
        syn_write_bench(p, k, 9, 1.4, 3);
        CHECK(sg_history_add(h, p, NULL, &r, &err) == 0, "add %s: %s", p, err.msg);
    }
    sg_history_html_opts o = {.out_dir = site};
    sg_regress_defaults(&o.regress);
    o.regress.window = 4;
    sg_history_html_summary s;
    int rc = sg_history_html(h, &o, &s, &err);
    CHECK(rc == 0 && s.pages > 0, "html: %d %s", rc, err.msg);
    sg_history_close(h);
    if (rc) return test_finish();

    char url[1400];
    snprintf(url, sizeof url, "file://%s/index.html", site);
    char *dom = dump_dom(chromium, profile, url);
    int ok, all;
    CHECK(charts_loaded(dom, &ok, &all) && all == s.rooflines,
          "index: %d of %d charts loaded in Chromium (expected the %d rooflines)", ok, all,
          s.rooflines);
    /* the planted change is listed with its commit, and the index links the benchmark's page */
    const char *link = dom ? strstr(dom, "href=\"bench/kernel-synth-conv2d_fwd-") : NULL;
    CHECK(dom && strstr(dom, "c0ffee0009") && strstr(dom, ">REGRESSION<") && link,
          "index DOM lists the regression at c0ffee0009 and links its page");
    char page[1400] = "";
    if (link) {
        const char *q = link + 6;
        snprintf(page, sizeof page, "file://%s/%.*s", site, (int)strcspn(q, "\""), q);
    }
    free(dom);
    if (*page) {
        dom = dump_dom(chromium, profile, page);
        CHECK(charts_loaded(dom, &ok, &all) && all == 1, "%s: %d of %d charts loaded", page, ok, all);
        CHECK(dom && strstr(dom, "c0ffee0008") && strstr(dom, "c0ffee0009"),
              "the page's table and changes name the commits");
        free(dom);
    }
    char shot[1200];
    snprintf(shot, sizeof shot, "%s/index.png", tmp);
    rc = sg_history_screenshot(s.index_path, shot, 1200, 1500, NULL, &err);
    CHECK(rc == 0, "screenshot: %s", err.msg);
    FILE *f = fopen(shot, "rb");
    unsigned char magic[8] = {0};
    size_t n = f ? fread(magic, 1, 8, f) : 0;
    if (f) fclose(f);
    CHECK(n == 8 && !memcmp(magic, "\x89PNG\r\n\x1a\n", 8), "%s is a PNG", shot);
    rc = sg_history_screenshot(s.index_path, shot, 1200, 1500, "/nonexistent/chromium", &err);
    CHECK(rc == 1 && strstr(err.msg, "no Chromium") && strstr(err.msg, "/nonexistent/chromium"),
          "a missing Chromium: %d %s", rc, err.msg);
    return test_finish();
}
