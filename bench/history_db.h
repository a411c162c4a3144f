/* bench/history_db.h: what history.c shares with history_html.c (the site reads the database
 * for its machine descriptions and rooflines). Not an interface for other code: history.h is. */
#pragma once
#include <sqlite3.h>
#include <stddef.h>

#include "bench/history.h"

sqlite3 *sg_history_db(sg_history *h);
const char *sg_history_path(const sg_history *h);
/* err = "PATH: what: SQLite's message"; returns -1. */
int sg_hdb_errf(sg_history *h, sg_err *err, const char *what);
/* "+12.3%" for a ratio, "-2.10 points" for an accuracy difference. */
void sg_hist_fmt_change(const sg_hist_series *s, double change, char *buf, size_t cap);
