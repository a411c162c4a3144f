/* core/base/config.c: typed configuration with dotted keys (see config.h).
 *
 * Every key of the schema holds one value at all times: its default until a file or the command
 * line sets it. A value is validated and converted once, when it is set, and kept both as the
 * parsed number and as canonical text (bools as true/false, numbers in their shortest exact
 * form), so that two spellings of the same setting ("on" and "true", "1e-3" and "0.001") write
 * the same file and hash to the same value. The schema has at most a few hundred keys, so
 * lookups are linear scans. */
#include "core/base/config.h"

#include "core/base/file.h"
#include "core/base/hash.h"
#include "core/base/text.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *text;   /* canonical text of the value */
    char *origin; /* "default", "FILE:LINE" or "command line" */
    int set;      /* set by a file or the command line */
    long long i;  /* INT */
    double f;     /* FLOAT */
    int b;        /* BOOL */
} cfg_value;

struct sg_config {
    const sg_cfg_spec *specs;
    int n;
    cfg_value *vals; /* [n], parallel to specs */
};

static const char ORIGIN_DEFAULT[] = "default";

/* ---- small string helpers ------------------------------------------------------------------ */

static char *dup_n(const char *s, size_t n) {
    char *d = malloc(n + 1);
    SG_CHECK(d != NULL, "out of memory (%zu bytes)", n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static char *dup_str(const char *s) { return dup_n(s, strlen(s)); }

static int is_space(char ch) {
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' || ch == '\f' || ch == '\v';
}

/* [*s, *e) without the surrounding white space. */
static void trim(const char **s, const char **e) {
    while (*s < *e && is_space(**s)) (*s)++;
    while (*e > *s && is_space((*e)[-1])) (*e)--;
}

static int ieq(const char *a, const char *b) {
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return 0;
    return *a == *b;
}

static int key_char(char ch) {
    return isalnum((unsigned char)ch) || ch == '_' || ch == '.' || ch == '-';
}

static int valid_key(const char *s, size_t n) {
    if (n == 0 || s[0] == '.' || s[n - 1] == '.') return 0;
    for (size_t i = 0; i < n; i++)
        if (!key_char(s[i]) || (s[i] == '.' && s[i + 1] == '.')) return 0;
    return 1;
}

/* Integers as integers ("1000", not "1e+03"); otherwise the shortest "%.Ng" text that reads
 * back to exactly x (at most 17 digits for a double). */
static void fmt_double(double x, char *buf, size_t len) {
    if (x == floor(x) && fabs(x) < 1e15) {
        snprintf(buf, len, "%.0f", x);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, x);
        if (strtod(buf, NULL) == x) return;
    }
}

static const char *type_name(sg_cfg_type t) {
    switch (t) {
    case SG_CFG_INT: return "int";
    case SG_CFG_FLOAT: return "float";
    case SG_CFG_BOOL: return "bool";
    case SG_CFG_STRING: return "string";
    case SG_CFG_ENUM: return "enum";
    }
    return "?";
}

/* "[lo, hi]" for INT/FLOAT ranges (integers printed as integers, infinities as -inf/inf). */
static void fmt_range(const sg_cfg_spec *s, char *buf, size_t len) {
    char lo[40], hi[40];
    fmt_double(s->min, lo, sizeof lo);
    fmt_double(s->max, hi, sizeof hi);
    snprintf(buf, len, "[%s, %s]", lo, hi);
}

/* "byol, simsiam, directpred" from "byol|simsiam|directpred". */
static void fmt_choices(const char *choices, char *buf, size_t len) {
    size_t o = 0;
    for (const char *p = choices; *p && o + 3 < len; p++) {
        if (*p == '|') {
            buf[o++] = ',';
            buf[o++] = ' ';
        } else {
            buf[o++] = *p;
        }
    }
    buf[o] = '\0';
}

/* What a valid value looks like, for error messages: "a float in [0, 1]". */
static void fmt_expected(const sg_cfg_spec *s, char *buf, size_t len) {
    char r[256];
    switch (s->type) {
    case SG_CFG_INT:
        fmt_range(s, r, sizeof r);
        snprintf(buf, len, "an integer in %s", r);
        break;
    case SG_CFG_FLOAT:
        fmt_range(s, r, sizeof r);
        snprintf(buf, len, "a finite float in %s", r);
        break;
    case SG_CFG_BOOL: snprintf(buf, len, "a bool (true/false, on/off, yes/no, 1/0)"); break;
    case SG_CFG_STRING: snprintf(buf, len, "a string"); break;
    case SG_CFG_ENUM:
        fmt_choices(s->choices, r, sizeof r);
        snprintf(buf, len, "one of: %s", r);
        break;
    }
}

/* ---- edit distance and suggestions --------------------------------------------------------- */

int sg_edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    /* Two rows of the (la+1) x (lb+1) dynamic-programming table. */
    int *prev = malloc((lb + 1) * sizeof(int)), *cur = malloc((lb + 1) * sizeof(int));
    SG_CHECK(prev && cur, "out of memory (edit distance of %zu x %zu)", la, lb);
    for (size_t j = 0; j <= lb; j++) prev[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            int del = prev[j] + 1, ins = cur[j - 1] + 1;
            int m = sub < del ? sub : del;
            cur[j] = m < ins ? m : ins;
        }
        int *t = prev;
        prev = cur;
        cur = t;
    }
    int d = prev[lb];
    free(prev);
    free(cur);
    return d;
}

/* Whether `cand` is close enough to `typed` to be worth suggesting: a third of the typed
 * length may be wrong (at least one character), and never the whole candidate. */
static int close_enough(const char *typed, const char *cand, int d) {
    int lt = (int)strlen(typed), lc = (int)strlen(cand);
    int allowed = lt / 3 > 1 ? lt / 3 : 1;
    return d <= allowed && d < lc;
}

/* The nearest known key to `key`, or NULL when none is reasonably close. A key given without
 * its section ("lr" for "trainer.lr") is also recognised. */
static const char *suggest_key(const sg_config *c, const char *key) {
    const char *best = NULL;
    int best_d = 0;
    for (int i = 0; i < c->n; i++) {
        int d = sg_edit_distance(key, c->specs[i].key);
        if (close_enough(key, c->specs[i].key, d) && (!best || d < best_d)) {
            best = c->specs[i].key;
            best_d = d;
        }
    }
    if (best) return best;
    for (int i = 0; i < c->n; i++) {
        const char *dot = strrchr(c->specs[i].key, '.');
        if (dot && strcmp(dot + 1, key) == 0) return c->specs[i].key;
    }
    return NULL;
}

/* The nearest choice of an enum to `value`, written into buf; 0 when none is close. */
static int suggest_choice(const char *choices, const char *value, char *buf, size_t len) {
    int found = 0, best_d = 0;
    const char *p = choices;
    while (*p) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        char *choice = dup_n(p, n);
        int d = sg_edit_distance(value, choice);
        /* Case-insensitive equality ("BYOL" for "byol") is always worth suggesting. */
        if ((close_enough(value, choice, d) || ieq(value, choice)) && (!found || d < best_d)) {
            snprintf(buf, len, "%s", choice);
            best_d = d;
            found = 1;
        }
        free(choice);
        p += n + (bar != NULL);
    }
    return found;
}

/* ---- lookup and validation ------------------------------------------------------------------ */

static int find_key(const sg_config *c, const char *key) {
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->specs[i].key, key) == 0) return i;
    return -1;
}

/* Whether `value` is one of the '|'-separated `choices`. */
static int is_choice(const char *choices, const char *value) {
    size_t lv = strlen(value);
    const char *p = choices;
    while (*p) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        if (n == lv && strncmp(p, value, n) == 0) return 1;
        p += n + (bar != NULL);
    }
    return 0;
}

/* Parses `text` for spec `s` into *out (text included, canonical). Returns 0, or -1 with an
 * error naming the key, the value, the origin and what was expected. */
static int parse_value(const sg_cfg_spec *s, const char *text, const char *origin, cfg_value *out,
                       sg_err *err) {
    char expected[512];
    fmt_expected(s, expected, sizeof expected);
    /* Numbers and bools tolerate surrounding white space; strings keep it. */
    const char *b = text, *e = text + strlen(text);
    trim(&b, &e);
    char *t = dup_n(b, (size_t)(e - b));
    char canon[64];
    int rc = 0;
    memset(out, 0, sizeof *out);

    switch (s->type) {
    case SG_CFG_INT: {
        /* Decimal integer text only: no "1e3", no "0x10", no "12abc". */
        const char *p = t + (t[0] == '+' || t[0] == '-');
        int digits = *p != '\0';
        for (; *p; p++) digits &= isdigit((unsigned char)*p) != 0;
        if (!digits) {
            rc = sg_errf(err, "config key '%s' (from %s): '%s' is not an integer; expected %s",
                         s->key, origin, text, expected);
            break;
        }
        errno = 0;
        long long v = strtoll(t, NULL, 10);
        if (errno == ERANGE || (double)v < s->min || (double)v > s->max) {
            rc = sg_errf(err, "config key '%s' (from %s): %s is out of range; expected %s", s->key,
                         origin, t, expected);
            break;
        }
        out->i = v;
        snprintf(canon, sizeof canon, "%lld", v);
        break;
    }
    case SG_CFG_FLOAT: {
        /* Decimal text only (digits, sign, point, exponent): strtod would also take "nan",
         * "inf" and hex floats, none of which is a sensible setting. */
        int ok = t[0] != '\0';
        for (const char *p = t; *p; p++) ok &= strchr("+-.0123456789eE", *p) != NULL;
        char *end = t;
        double v = 0;
        if (ok) {
            errno = 0;
            v = strtod(t, &end);
            ok = end != t && *end == '\0';
        }
        if (!ok) {
            rc = sg_errf(err, "config key '%s' (from %s): '%s' is not a number; expected %s",
                         s->key, origin, text, expected);
            break;
        }
        if (!isfinite(v) || v < s->min || v > s->max) {
            rc = sg_errf(err, "config key '%s' (from %s): %s is out of range; expected %s", s->key,
                         origin, t, expected);
            break;
        }
        out->f = v;
        fmt_double(v, canon, sizeof canon);
        break;
    }
    case SG_CFG_BOOL: {
        static const char *yes[] = {"true", "on", "yes", "1"}, *no[] = {"false", "off", "no", "0"};
        int v = -1;
        for (int k = 0; k < 4; k++) {
            if (ieq(t, yes[k])) v = 1;
            if (ieq(t, no[k])) v = 0;
        }
        if (v < 0) {
            rc = sg_errf(err, "config key '%s' (from %s): '%s' is not a bool; expected %s", s->key,
                         origin, text, expected);
            break;
        }
        out->b = v;
        snprintf(canon, sizeof canon, "%s", v ? "true" : "false");
        break;
    }
    case SG_CFG_STRING: break;
    case SG_CFG_ENUM: {
        if (!is_choice(s->choices, t)) {
            char hint[256];
            if (suggest_choice(s->choices, t, hint, sizeof hint))
                rc = sg_errf(err,
                             "config key '%s' (from %s): '%s' is not a valid choice; expected %s; "
                             "did you mean '%s'?",
                             s->key, origin, text, expected, hint);
            else
                rc = sg_errf(err,
                             "config key '%s' (from %s): '%s' is not a valid choice; expected %s",
                             s->key, origin, text, expected);
        }
        break;
    }
    }
    if (rc == 0) {
        if (s->type == SG_CFG_STRING)
            out->text = dup_str(text);
        else if (s->type == SG_CFG_ENUM)
            out->text = dup_str(t);
        else
            out->text = dup_str(canon);
    }
    free(t);
    return rc;
}

/* ---- construction ---------------------------------------------------------------------------- */

sg_config *sg_config_new(const sg_cfg_spec *specs, int nspecs) {
    SG_CHECK(nspecs >= 0 && (specs != NULL || nspecs == 0), "bad schema (%d specs)", nspecs);
    sg_config *c = calloc(1, sizeof *c);
    SG_CHECK(c != NULL, "out of memory");
    c->specs = specs;
    c->n = nspecs;
    c->vals = calloc(nspecs > 0 ? (size_t)nspecs : 1, sizeof *c->vals);
    SG_CHECK(c->vals != NULL, "out of memory (%d config values)", nspecs);
    for (int i = 0; i < nspecs; i++) {
        const sg_cfg_spec *s = &specs[i];
        SG_CHECK(s->key != NULL && valid_key(s->key, strlen(s->key)),
                 "config schema entry %d: key '%s' is not a dotted name of [A-Za-z0-9_-]", i,
                 s->key ? s->key : "(null)");
        SG_CHECK(s->type >= SG_CFG_INT && s->type <= SG_CFG_ENUM, "config key '%s': bad type %d",
                 s->key, (int)s->type);
        for (int j = 0; j < i; j++)
            SG_CHECK(strcmp(specs[j].key, s->key) != 0, "config key '%s' is listed twice", s->key);
        if (s->type == SG_CFG_INT || s->type == SG_CFG_FLOAT)
            SG_CHECK(!isnan(s->min) && !isnan(s->max) && s->min <= s->max,
                     "config key '%s': empty range [%g, %g]", s->key, s->min, s->max);
        if (s->type == SG_CFG_ENUM) {
            const char *ch = s->choices;
            SG_CHECK(ch != NULL && ch[0] != '\0' && ch[0] != '|' && ch[strlen(ch) - 1] != '|' &&
                         strstr(ch, "||") == NULL,
                     "config key '%s': enum choices '%s' must be a '|'-separated list of names",
                     s->key, ch ? ch : "(null)");
        }
        sg_err err;
        int rc = parse_value(s, s->def ? s->def : "", ORIGIN_DEFAULT, &c->vals[i], &err);
        SG_CHECK(rc == 0, "invalid default in the config schema: %s", err.msg);
        c->vals[i].origin = dup_str(ORIGIN_DEFAULT);
    }
    return c;
}

void sg_config_free(sg_config *c) {
    if (!c) return;
    for (int i = 0; i < c->n; i++) {
        free(c->vals[i].text);
        free(c->vals[i].origin);
    }
    free(c->vals);
    free(c);
}

/* ---- setting values ---------------------------------------------------------------------------
 */

int sg_config_set(sg_config *c, const char *key, const char *value, const char *origin,
                  sg_err *err) {
    SG_CHECK(c && key && value && origin, "sg_config_set needs a config, key, value and origin");
    int i = find_key(c, key);
    if (i < 0) {
        const char *hint = suggest_key(c, key);
        if (hint)
            return sg_errf(err, "unknown config key '%s' (from %s); did you mean '%s'?", key,
                           origin, hint);
        return sg_errf(err, "unknown config key '%s' (from %s)", key, origin);
    }
    cfg_value v;
    if (parse_value(&c->specs[i], value, origin, &v, err) != 0) return -1;
    v.origin = dup_str(origin);
    v.set = 1;
    free(c->vals[i].text);
    free(c->vals[i].origin);
    c->vals[i] = v;
    return 0;
}

int sg_config_set_arg(sg_config *c, const char *arg, sg_err *err) {
    SG_CHECK(c && arg, "sg_config_set_arg needs a config and an argument");
    const char *eq = strchr(arg, '=');
    if (!eq) return sg_errf(err, "expected key=value on the command line, got '%s'", arg);
    const char *kb = arg, *ke = eq;
    trim(&kb, &ke);
    if (kb == ke) return sg_errf(err, "missing key before '=' on the command line in '%s'", arg);
    char *key = dup_n(kb, (size_t)(ke - kb));
    int rc = sg_config_set(c, key, eq + 1, "command line", err);
    free(key);
    return rc;
}

/* Whether [p, e) is empty or a comment after white space. */
static int only_comment(const char *p, const char *e) {
    while (p < e && is_space(*p)) p++;
    return p == e || *p == '#';
}

/* Parses one non-blank line: a section header updates *section; a setting is applied.
 * `where` is "FILE:LINE". */
static int load_line(sg_config *c, char *line, char **section, const char *where, sg_err *err) {
    const char *p = line, *end = line + strlen(line);
    trim(&p, &end);
    if (p == end || *p == '#') return 0;

    if (*p == '[') {
        const char *close = memchr(p, ']', (size_t)(end - p));
        if (!close)
            return sg_errf(err, "%s: expected '[section]', got '%s' (no closing ']')", where, p);
        const char *nb = p + 1, *ne = close;
        trim(&nb, &ne);
        if (!valid_key(nb, (size_t)(ne - nb)))
            return sg_errf(err, "%s: expected a section name of [A-Za-z0-9_.-] in '%.*s'", where,
                           (int)(close + 1 - p), p);
        if (!only_comment(close + 1, end))
            return sg_errf(err, "%s: unexpected text after '%.*s': expected a comment or nothing",
                           where, (int)(close + 1 - p), p);
        free(*section);
        *section = dup_n(nb, (size_t)(ne - nb));
        return 0;
    }

    const char *eq = memchr(p, '=', (size_t)(end - p));
    if (!eq) return sg_errf(err, "%s: expected 'key = value' or '[section]', got '%s'", where, p);
    const char *kb = p, *ke = eq;
    trim(&kb, &ke);
    if (kb == ke) return sg_errf(err, "%s: missing key before '=' in '%s'", where, p);

    /* The value: quoted (escapes \" \\ \n \t, then only a comment may follow) or bare (up to
     * a '#' comment, white space trimmed). */
    const char *vb = eq + 1;
    while (vb < end && is_space(*vb)) vb++;
    char *value;
    if (vb < end && *vb == '"') {
        value = malloc((size_t)(end - vb) + 1);
        SG_CHECK(value != NULL, "out of memory");
        size_t n = 0;
        const char *q = vb + 1;
        for (; q < end && *q != '"'; q++) {
            if (*q == '\\' && q + 1 < end) {
                q++;
                switch (*q) {
                case 'n': value[n++] = '\n'; break;
                case 't': value[n++] = '\t'; break;
                case '"':
                case '\\': value[n++] = *q; break;
                default:
                    free(value);
                    return sg_errf(err,
                                   "%s: unknown escape '\\%c' in a quoted value "
                                   "(expected \\\", \\\\, \\n or \\t)",
                                   where, *q);
                }
            } else {
                value[n++] = *q;
            }
        }
        value[n] = '\0';
        if (q >= end) {
            free(value);
            return sg_errf(err, "%s: unterminated quoted value: expected a closing '\"' in '%s'",
                           where, p);
        }
        if (!only_comment(q + 1, end)) {
            free(value);
            return sg_errf(err,
                           "%s: unexpected text after the quoted value: expected a comment "
                           "or nothing in '%s'",
                           where, p);
        }
    } else {
        const char *ve = memchr(vb, '#', (size_t)(end - vb));
        if (!ve) ve = end;
        while (ve > vb && is_space(ve[-1])) ve--;
        value = dup_n(vb, (size_t)(ve - vb));
    }

    size_t lk = (size_t)(ke - kb), ls = *section ? strlen(*section) : 0;
    char *key = malloc(ls + 1 + lk + 1);
    SG_CHECK(key != NULL, "out of memory");
    if (ls)
        snprintf(key, ls + 1 + lk + 1, "%s.%.*s", *section, (int)lk, kb);
    else
        snprintf(key, lk + 1, "%.*s", (int)lk, kb);
    int rc = sg_config_set(c, key, value, where, err);
    free(key);
    free(value);
    return rc;
}

int sg_config_load_file(sg_config *c, const char *path, sg_err *err) {
    SG_CHECK(c && path, "sg_config_load_file needs a config and a path");
    FILE *f = sg_fopen_regular(path, NULL, err);
    if (!f) {
        char why[sizeof err->msg];
        snprintf(why, sizeof why, "%s", err->msg);
        return sg_errf(err, "cannot open config file: %s", why);
    }
    char *line = NULL, *section = NULL;
    size_t cap = 0;
    size_t where_len = strlen(path) + 32;
    char *where = malloc(where_len);
    SG_CHECK(where != NULL, "out of memory");
    int rc = 0;
    for (long lineno = 1; rc == 0; lineno++) {
        int got = sg_read_line(f, &line, &cap, SG_CONFIG_MAX_LINE, path, lineno, err);
        if (got <= 0) {
            rc = got;
            break;
        }
        snprintf(where, where_len, "%s:%ld", path, lineno);
        rc = load_line(c, line, &section, where, err);
    }
    fclose(f);
    free(line);
    free(section);
    free(where);
    return rc;
}

/* ---- typed getters ----------------------------------------------------------------------------
 */

static const cfg_value *get(const sg_config *c, const char *key, sg_cfg_type want, int also_enum) {
    SG_CHECK(c && key, "config getter needs a config and a key");
    int i = find_key(c, key);
    SG_CHECK(i >= 0, "config key '%s' is not in the schema", key);
    sg_cfg_type t = c->specs[i].type;
    SG_CHECK(t == want || (also_enum && t == SG_CFG_ENUM), "config key '%s' is a %s, read as a %s",
             key, type_name(t), type_name(want));
    return &c->vals[i];
}

long long sg_config_int(const sg_config *c, const char *key) {
    return get(c, key, SG_CFG_INT, 0)->i;
}

double sg_config_float(const sg_config *c, const char *key) {
    return get(c, key, SG_CFG_FLOAT, 0)->f;
}

int sg_config_bool(const sg_config *c, const char *key) { return get(c, key, SG_CFG_BOOL, 0)->b; }

const char *sg_config_str(const sg_config *c, const char *key) {
    return get(c, key, SG_CFG_STRING, 1)->text;
}

const char *sg_config_text(const sg_config *c, const char *key) {
    SG_CHECK(c && key, "sg_config_text needs a config and a key");
    int i = find_key(c, key);
    SG_CHECK(i >= 0, "config key '%s' is not in the schema", key);
    return c->vals[i].text;
}

int sg_config_is_set(const sg_config *c, const char *key) {
    SG_CHECK(c && key, "sg_config_is_set needs a config and a key");
    int i = find_key(c, key);
    SG_CHECK(i >= 0, "config key '%s' is not in the schema", key);
    return c->vals[i].set;
}

/* ---- output -----------------------------------------------------------------------------------
 */

/* Whether a value must be quoted to read back unchanged: empty, surrounding white space, a
 * '#' (comment), a leading '"' (quote), or a character only an escape can carry. */
static int needs_quotes(const char *v) {
    size_t n = strlen(v);
    if (n == 0 || is_space(v[0]) || is_space(v[n - 1]) || v[0] == '"') return 1;
    for (const char *p = v; *p; p++)
        if (*p == '#' || *p == '\n' || *p == '\t' || *p == '\r') return 1;
    return 0;
}

static void write_value(const char *v, FILE *f) {
    if (!needs_quotes(v)) {
        fputs(v, f);
        return;
    }
    fputc('"', f);
    for (const char *p = v; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\t': fputs("\\t", f); break;
        default: fputc(*p, f);
        }
    }
    fputc('"', f);
}

void sg_config_write(const sg_config *c, FILE *f) {
    SG_CHECK(c && f, "sg_config_write needs a config and a file");
    fprintf(f, "# stopgrad config\n");
    for (int i = 0; i < c->n; i++) {
        fprintf(f, "%s = ", c->specs[i].key);
        write_value(c->vals[i].text, f);
        /* Where a non-default value came from; a comment, so it does not change the setting. */
        if (c->vals[i].set) fprintf(f, "  # %s", c->vals[i].origin);
        fputc('\n', f);
    }
}

uint64_t sg_config_hash(const sg_config *c) { return sg_config_hash_without(c, NULL, 0); }

uint64_t sg_config_hash_without(const sg_config *c, const char *const *skip, int nskip) {
    SG_CHECK(c != NULL, "sg_config_hash needs a config");
    /* Over "key=value\n" for every key in schema order, values in canonical text. */
    uint64_t h = SG_FNV1A64_INIT;
    for (int i = 0; i < c->n; i++) {
        int skipped = 0;
        for (int k = 0; k < nskip && !skipped; k++) skipped = !strcmp(skip[k], c->specs[i].key);
        if (skipped) continue;
        h = sg_fnv1a64_str(h, c->specs[i].key);
        h = sg_fnv1a64_str(h, "=");
        h = sg_fnv1a64_str(h, c->vals[i].text);
        h = sg_fnv1a64_str(h, "\n");
    }
    return h;
}

void sg_config_print_help(const sg_config *c, FILE *f) {
    SG_CHECK(c && f, "sg_config_print_help needs a config and a file");
    for (int i = 0; i < c->n; i++) {
        const sg_cfg_spec *s = &c->specs[i];
        char what[512];
        switch (s->type) {
        case SG_CFG_INT:
        case SG_CFG_FLOAT: {
            char r[128];
            fmt_range(s, r, sizeof r);
            snprintf(what, sizeof what, "%s in %s", type_name(s->type), r);
            break;
        }
        case SG_CFG_ENUM: {
            char ch[400];
            fmt_choices(s->choices, ch, sizeof ch);
            snprintf(what, sizeof what, "one of: %s", ch);
            break;
        }
        case SG_CFG_BOOL:
        case SG_CFG_STRING: snprintf(what, sizeof what, "%s", type_name(s->type)); break;
        }
        fprintf(f, "  %s (%s; default ", s->key, what);
        /* The default in canonical form ("yes" shows as true), written as a config file would
         * have it, so an empty string shows as "". sg_config_new checked that it parses. */
        cfg_value def;
        sg_err err;
        SG_CHECK(parse_value(s, s->def ? s->def : "", ORIGIN_DEFAULT, &def, &err) == 0, "%s",
                 err.msg);
        if (needs_quotes(def.text))
            write_value(def.text, f);
        else
            fputs(def.text, f);
        free(def.text);
        fprintf(f, ")\n      %s\n", s->help ? s->help : "");
    }
}
