/* tests/core/test_config.c: the typed configuration (core/base/config.c).
 * Defaults, file + command-line precedence and origins, every kind of user error and the words
 * its message must contain, the write -> load round trip and hash, bool spellings, enum choices,
 * quoting, sections, help text, and the aborts for programming errors (in a forked child). */
#define _POSIX_C_SOURCE 200809L

#include "core/base/config.h"
#include "test_fork.h"
#include "test_util.h"

static const sg_cfg_spec SPECS[] = {
    {"run.seed", SG_CFG_INT, "42", 0, 1e9, NULL, "random seed"},
    {"run.name", SG_CFG_STRING, "baseline", 0, 0, NULL, "a label for the run"},
    {"run.note", SG_CFG_STRING, "", 0, 0, NULL, "free text"},
    {"trainer.m", SG_CFG_FLOAT, "0.996", 0, 1, NULL, "EMA momentum of the target network"},
    {"trainer.lr", SG_CFG_FLOAT, "0.03", 1e-8, 10, NULL, "learning rate"},
    {"trainer.epochs", SG_CFG_INT, "100", 1, 1000, NULL, "training epochs"},
    {"trainer.method", SG_CFG_ENUM, "byol", 0, 0, "byol|simsiam|directpred", "the method"},
    {"trainer.use_bn", SG_CFG_BOOL, "yes", 0, 0, NULL, "batch norm in the predictor"},
    {"trainer.offset", SG_CFG_INT, "-3", -10, 10, NULL, "a signed integer"},
};
static const int NSPECS = (int)(sizeof SPECS / sizeof SPECS[0]);

static int contains(const char *hay, const char *needle) { return strstr(hay, needle) != NULL; }

/* Writes `text` to a fresh file under the test directory; returns its path (static buffer per
 * slot so two paths can be alive at once). */
static const char *write_file(int slot, const char *text) {
    static char paths[4][512];
    snprintf(paths[slot], sizeof paths[slot], "%s/test_config_%d_%d.cfg", tu_tmpdir(),
             (int)getpid(), slot);
    FILE *f = fopen(paths[slot], "w");
    if (!f) {
        fprintf(stderr, "cannot write %s\n", paths[slot]);
        exit(2);
    }
    fputs(text, f);
    fclose(f);
    return paths[slot];
}


static void bad_int_default(void) {
    static const sg_cfg_spec s[] = {{"a.b", SG_CFG_INT, "1.5", 0, 10, NULL, "x"}};
    sg_config_new(s, 1);
}
static void out_of_range_default(void) {
    static const sg_cfg_spec s[] = {{"a.b", SG_CFG_FLOAT, "2", 0, 1, NULL, "x"}};
    sg_config_new(s, 1);
}
static void bad_enum_default(void) {
    static const sg_cfg_spec s[] = {{"a.b", SG_CFG_ENUM, "c", 0, 0, "a|b", "x"}};
    sg_config_new(s, 1);
}
static void duplicate_key(void) {
    static const sg_cfg_spec s[] = {{"a.b", SG_CFG_INT, "1", 0, 10, NULL, "x"},
                                    {"a.b", SG_CFG_INT, "1", 0, 10, NULL, "x"}};
    sg_config_new(s, 2);
}
static void get_unknown_key(void) {
    sg_config *c = sg_config_new(SPECS, NSPECS);
    sg_config_int(c, "trainer.nope");
}
static void get_wrong_type(void) {
    sg_config *c = sg_config_new(SPECS, NSPECS);
    sg_config_int(c, "trainer.m");
}
static void get_str_of_bool(void) {
    sg_config *c = sg_config_new(SPECS, NSPECS);
    sg_config_str(c, "trainer.use_bn");
}
static void is_set_unknown_key(void) {
    sg_config *c = sg_config_new(SPECS, NSPECS);
    sg_config_is_set(c, "nope");
}
static void valid_schema(void) {
    sg_config *c = sg_config_new(SPECS, NSPECS);
    sg_config_free(c);
}

static void test_defaults(void) {
    sg_config *c = sg_config_new(SPECS, NSPECS);
    CHECK(sg_config_int(c, "run.seed") == 42, "seed %lld", sg_config_int(c, "run.seed"));
    CHECK(strcmp(sg_config_str(c, "run.name"), "baseline") == 0, "name");
    CHECK(strcmp(sg_config_str(c, "run.note"), "") == 0, "empty default string");
    CHECK(sg_config_float(c, "trainer.m") == 0.996, "m %.17g", sg_config_float(c, "trainer.m"));
    CHECK(sg_config_float(c, "trainer.lr") == 0.03, "lr");
    CHECK(sg_config_int(c, "trainer.epochs") == 100, "epochs");
    CHECK(strcmp(sg_config_str(c, "trainer.method"), "byol") == 0, "enum via sg_config_str");
    CHECK(sg_config_bool(c, "trainer.use_bn") == 1, "bool default");
    CHECK(sg_config_int(c, "trainer.offset") == -3, "negative int default");
    for (int i = 0; i < NSPECS; i++)
        CHECK(!sg_config_is_set(c, SPECS[i].key), "%s reported as set", SPECS[i].key);
    sg_config_free(c);
}

static void test_precedence_and_origin(void) {
    sg_config *c = sg_config_new(SPECS, NSPECS);
    sg_err err = {{0}};
    const char *path = write_file(0, "# a run\n"
                                     "trainer.m = 0.99\n"
                                     "trainer.lr = 1e-3   # scientific notation\n"
                                     "run.seed = 7\n");
    CHECK(sg_config_load_file(c, path, &err) == 0, "load: %s", err.msg);
    CHECK(sg_config_set_arg(c, "trainer.m=0.5", &err) == 0, "override: %s", err.msg);
    CHECK(sg_config_float(c, "trainer.m") == 0.5, "command line wins over file");
    CHECK(sg_config_float(c, "trainer.lr") == 1e-3, "lr from the file");
    CHECK(sg_config_int(c, "run.seed") == 7, "seed from the file");
    CHECK(sg_config_int(c, "trainer.epochs") == 100, "untouched key keeps its default");
    CHECK(sg_config_is_set(c, "trainer.m") && sg_config_is_set(c, "trainer.lr") &&
              sg_config_is_set(c, "run.seed") && !sg_config_is_set(c, "trainer.epochs"),
          "is_set");

    /* Origins show up in the written config as comments: file:line and command line. */
    char *buf = NULL;
    size_t len = 0;
    FILE *mf = open_memstream(&buf, &len);
    sg_config_write(c, mf);
    fclose(mf);
    char want_lr[600], want_seed[600];
    snprintf(want_lr, sizeof want_lr, "trainer.lr = 0.001  # %s:3", path);
    snprintf(want_seed, sizeof want_seed, "run.seed = 7  # %s:4", path);
    CHECK(contains(buf, want_lr), "origin of lr: want '%s' in\n%s", want_lr, buf);
    CHECK(contains(buf, want_seed), "origin of seed: want '%s'", want_seed);
    CHECK(contains(buf, "trainer.m = 0.5  # command line"), "origin of m in\n%s", buf);
    CHECK(contains(buf, "trainer.epochs = 100\n"), "a default has no origin comment");
    free(buf);

    /* A later set of the same key replaces the value and its origin. */
    CHECK(sg_config_set(c, "trainer.m", "0.25", "suite.cfg:9", &err) == 0, "set: %s", err.msg);
    CHECK(sg_config_float(c, "trainer.m") == 0.25, "second override");
    /* A failed set leaves the value alone. */
    CHECK(sg_config_set_arg(c, "trainer.m=7", &err) == -1, "out of range accepted");
    CHECK(sg_config_float(c, "trainer.m") == 0.25, "failed set changed the value");
    sg_config_free(c);
    remove(path);
}

static void test_unknown_keys(void) {
    sg_config *c = sg_config_new(SPECS, NSPECS);
    sg_err err = {{0}};
    CHECK(sg_config_set_arg(c, "trainer.mm=0.9", &err) == -1, "unknown key accepted");
    CHECK(strcmp(err.msg, "unknown config key 'trainer.mm' (from command line); did you mean "
                          "'trainer.m'?") == 0,
          "message: %s", err.msg);

    CHECK(sg_config_set_arg(c, "trainer.epohcs=3", &err) == -1, "unknown key accepted");
    CHECK(contains(err.msg, "'trainer.epohcs'") &&
              contains(err.msg, "did you mean 'trainer.epochs'"),
          "transposition: %s", err.msg);

    /* A key given without its section is recognised. */
    CHECK(sg_config_set_arg(c, "epochs=3", &err) == -1, "bare key accepted");
    CHECK(contains(err.msg, "did you mean 'trainer.epochs'"), "bare key: %s", err.msg);

    /* Nothing close: no suggestion. */
    CHECK(sg_config_set_arg(c, "zzz=1", &err) == -1, "unknown key accepted");
    CHECK(contains(err.msg, "'zzz'") && !contains(err.msg, "did you mean"), "far key: %s", err.msg);
    CHECK(sg_config_set_arg(c, "model.width=64", &err) == -1, "unknown key accepted");
    CHECK(contains(err.msg, "'model.width'") && !contains(err.msg, "did you mean"), "far key: %s",
          err.msg);

    /* From a file: names file:line and the suggestion. */
    const char *path = write_file(0, "run.seed = 1\n\n[trainer]\nlrr = 0.1\n");
    CHECK(sg_config_load_file(c, path, &err) == -1, "unknown key in file accepted");
    char want[600];
    snprintf(want, sizeof want,
             "unknown config key 'trainer.lrr' (from %s:4); did you mean "
             "'trainer.lr'?",
             path);
    CHECK(strcmp(err.msg, want) == 0, "file message: %s", err.msg);
    sg_config_free(c);
    remove(path);
}

static void test_type_and_range_errors(void) {
    sg_config *c = sg_config_new(SPECS, NSPECS);
    sg_err err = {{0}};
    struct {
        const char *arg;
        const char *words[4]; /* all must appear in the message */
    } cases[] = {
        {"trainer.m=1.5", {"'trainer.m'", "1.5", "[0, 1]", "command line"}},
        {"trainer.m=-0.1", {"'trainer.m'", "-0.1", "out of range", "[0, 1]"}},
        {"trainer.m=abc", {"'trainer.m'", "'abc'", "float", "[0, 1]"}},
        {"trainer.m=nan", {"'trainer.m'", "'nan'", "finite float", "[0, 1]"}},
        {"trainer.m=inf", {"'trainer.m'", "'inf'", "float", "command line"}},
        {"trainer.m=1e999", {"'trainer.m'", "1e999", "out of range", "[0, 1]"}},
        {"trainer.m=", {"'trainer.m'", "''", "float", "[0, 1]"}},
        {"trainer.lr=1e-9", {"'trainer.lr'", "1e-9", "out of range", "[1e-08, 10]"}},
        {"trainer.epochs=0", {"'trainer.epochs'", "0", "integer", "[1, 1000]"}},
        {"trainer.epochs=1001", {"'trainer.epochs'", "1001", "out of range", "[1, 1000]"}},
        {"trainer.epochs=2.5", {"'trainer.epochs'", "'2.5'", "not an integer", "[1, 1000]"}},
        {"trainer.epochs=1e2", {"'trainer.epochs'", "'1e2'", "not an integer", "[1, 1000]"}},
        {"trainer.epochs=12abc", {"'trainer.epochs'", "'12abc'", "integer", "[1, 1000]"}},
        {"trainer.epochs=0x10", {"'trainer.epochs'", "'0x10'", "integer", "[1, 1000]"}},
        {"trainer.epochs=99999999999999999999999",
         {"'trainer.epochs'", "99999999999999999999999", "out of range", "[1, 1000]"}},
        {"trainer.offset=-11", {"'trainer.offset'", "-11", "out of range", "[-10, 10]"}},
        {"trainer.use_bn=maybe", {"'trainer.use_bn'", "'maybe'", "bool", "true/false"}},
        {"trainer.use_bn=2", {"'trainer.use_bn'", "'2'", "on/off", "yes/no"}},
        {"trainer.method=simsaim",
         {"'trainer.method'", "'simsaim'", "byol, simsiam, directpred", "did you mean 'simsiam'"}},
        {"trainer.method=BYOL", {"'trainer.method'", "'BYOL'", "one of", "did you mean 'byol'"}},
        {"trainer.method=moco",
         {"'trainer.method'", "'moco'", "byol, simsiam, directpred", "command line"}},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        err.msg[0] = '\0';
        int rc = sg_config_set_arg(c, cases[k].arg, &err);
        CHECK(rc == -1, "'%s' accepted", cases[k].arg);
        for (int w = 0; w < 4; w++)
            CHECK(contains(err.msg, cases[k].words[w]), "'%s': message lacks \"%s\": %s",
                  cases[k].arg, cases[k].words[w], err.msg);
    }
    /* No suggestion for a choice nowhere near. */
    sg_config_set_arg(c, "trainer.method=moco", &err);
    CHECK(!contains(err.msg, "did you mean"), "far choice suggested: %s", err.msg);

    /* Type errors from a file name the file and line. */
    const char *path = write_file(0, "[trainer]\nm = 0.9\nepochs = many\n");
    CHECK(sg_config_load_file(c, path, &err) == -1, "bad int in file accepted");
    char where[600];
    snprintf(where, sizeof where, "(from %s:3)", path);
    CHECK(contains(err.msg, where) && contains(err.msg, "'trainer.epochs'") &&
              contains(err.msg, "'many'") && contains(err.msg, "[1, 1000]"),
          "file type error: %s", err.msg);

    /* Boundaries are inclusive; white space around a number is tolerated. */
    CHECK(sg_config_set_arg(c, "trainer.m=1", &err) == 0, "max: %s", err.msg);
    CHECK(sg_config_set_arg(c, "trainer.m=0", &err) == 0, "min: %s", err.msg);
    CHECK(sg_config_set_arg(c, "trainer.epochs= 1000 ", &err) == 0, "ws: %s", err.msg);
    CHECK(sg_config_int(c, "trainer.epochs") == 1000, "epochs");
    CHECK(sg_config_set_arg(c, "trainer.offset=-10", &err) == 0, "neg min: %s", err.msg);
    CHECK(sg_config_set_arg(c, "trainer.offset=+7", &err) == 0, "plus sign: %s", err.msg);
    CHECK(sg_config_int(c, "trainer.offset") == 7, "offset");
    CHECK(sg_config_set_arg(c, "trainer.lr=2.5E-4", &err) == 0, "E exponent: %s", err.msg);
    CHECK(sg_config_float(c, "trainer.lr") == 2.5e-4, "lr");
    CHECK(sg_config_set_arg(c, "trainer.lr=.5", &err) == 0, "leading point: %s", err.msg);
    CHECK(sg_config_float(c, "trainer.lr") == 0.5, "lr .5");
    sg_config_free(c);
    remove(path);
}

static void test_file_errors(void) {
    sg_config *c = sg_config_new(SPECS, NSPECS);
    sg_err err = {{0}};
    char missing[512];
    snprintf(missing, sizeof missing, "%s/test_config_no_such_file_%d.cfg", tu_tmpdir(),
             (int)getpid());
    CHECK(sg_config_load_file(c, missing, &err) == -1, "missing file accepted");
    CHECK(contains(err.msg, missing) && contains(err.msg, "cannot open"), "missing: %s", err.msg);

    char want[700];
    const char *path = write_file(0, "# header\ntrainer.m = 0.9\njust some words\n");
    CHECK(sg_config_load_file(c, path, &err) == -1, "line without '=' accepted");
    snprintf(want, sizeof want,
             "%s:3: expected 'key = value' or '[section]', got 'just some words'", path);
    CHECK(strcmp(err.msg, want) == 0, "no '=': %s", err.msg);

    path = write_file(0, "run.name = \"unterminated\n");
    CHECK(sg_config_load_file(c, path, &err) == -1, "unterminated quote accepted");
    snprintf(want, sizeof want, "%s:1:", path);
    CHECK(contains(err.msg, want) && contains(err.msg, "closing '\"'"), "quote: %s", err.msg);

    path = write_file(0, "\n\n[trainer\n");
    CHECK(sg_config_load_file(c, path, &err) == -1, "bad section accepted");
    snprintf(want, sizeof want, "%s:3:", path);
    CHECK(contains(err.msg, want) && contains(err.msg, "']'"), "section: %s", err.msg);

    path = write_file(0, "[train er]\n");
    CHECK(sg_config_load_file(c, path, &err) == -1, "bad section name accepted");
    CHECK(contains(err.msg, "section name"), "section name: %s", err.msg);

    path = write_file(0, "= 3\n");
    CHECK(sg_config_load_file(c, path, &err) == -1, "missing key accepted");
    snprintf(want, sizeof want, "%s:1: missing key", path);
    CHECK(contains(err.msg, want), "missing key: %s", err.msg);

    path = write_file(0, "run.name = \"a\" b\n");
    CHECK(sg_config_load_file(c, path, &err) == -1, "text after quotes accepted");
    CHECK(contains(err.msg, "after the quoted value"), "after quote: %s", err.msg);

    path = write_file(0, "run.name = \"a\\qb\"\n");
    CHECK(sg_config_load_file(c, path, &err) == -1, "unknown escape accepted");
    CHECK(contains(err.msg, "escape"), "escape: %s", err.msg);

    CHECK(sg_config_set_arg(c, "trainer.m", &err) == -1, "arg without '=' accepted");
    CHECK(contains(err.msg, "key=value") && contains(err.msg, "'trainer.m'"), "arg: %s", err.msg);
    CHECK(sg_config_set_arg(c, "=3", &err) == -1, "arg without key accepted");
    CHECK(contains(err.msg, "missing key"), "arg key: %s", err.msg);

    /* A NULL err is allowed: failure is still reported by the return value. */
    CHECK(sg_config_set_arg(c, "trainer.m=9", NULL) == -1, "NULL err");
    sg_config_free(c);
    remove(path);
}

static void test_bools(void) {
    sg_config *c = sg_config_new(SPECS, NSPECS);
    sg_err err = {{0}};
    const char *yes[] = {"true", "on", "yes", "1", "TRUE", "On", "Yes"};
    const char *no[] = {"false", "off", "no", "0", "FALSE", "Off", "NO"};
    uint64_t h_true = 0, h_false = 0;
    for (int k = 0; k < 7; k++) {
        char arg[64];
        snprintf(arg, sizeof arg, "trainer.use_bn=%s", no[k]);
        CHECK(sg_config_set_arg(c, arg, &err) == 0, "%s: %s", arg, err.msg);
        CHECK(sg_config_bool(c, "trainer.use_bn") == 0, "%s is not false", no[k]);
        if (k == 0) h_false = sg_config_hash(c);
        CHECK(sg_config_hash(c) == h_false, "spelling '%s' changed the hash", no[k]);
        snprintf(arg, sizeof arg, "trainer.use_bn=%s", yes[k]);
        CHECK(sg_config_set_arg(c, arg, &err) == 0, "%s: %s", arg, err.msg);
        CHECK(sg_config_bool(c, "trainer.use_bn") == 1, "%s is not true", yes[k]);
        if (k == 0) h_true = sg_config_hash(c);
        CHECK(sg_config_hash(c) == h_true, "spelling '%s' changed the hash", yes[k]);
    }
    CHECK(h_true != h_false, "true and false hash the same");
    sg_config_free(c);
}

static void test_enums(void) {
    sg_config *c = sg_config_new(SPECS, NSPECS);
    sg_err err = {{0}};
    const char *choices[] = {"byol", "simsiam", "directpred"};
    for (int k = 0; k < 3; k++) {
        char arg[64];
        snprintf(arg, sizeof arg, "trainer.method=%s", choices[k]);
        CHECK(sg_config_set_arg(c, arg, &err) == 0, "%s: %s", arg, err.msg);
        CHECK(strcmp(sg_config_str(c, "trainer.method"), choices[k]) == 0, "%s", choices[k]);
    }
    /* Substrings and prefixes of the choice list are not choices. */
    const char *bad[] = {"sim", "byol|simsiam", "directpredx", "yol"};
    for (int k = 0; k < 4; k++) {
        char arg[64];
        snprintf(arg, sizeof arg, "trainer.method=%s", bad[k]);
        CHECK(sg_config_set_arg(c, arg, &err) == -1, "'%s' accepted", bad[k]);
    }
    CHECK(strcmp(sg_config_str(c, "trainer.method"), "directpred") == 0, "unchanged after errors");
    sg_config_free(c);
}

static void test_quotes_and_sections(void) {
    sg_config *c = sg_config_new(SPECS, NSPECS);
    sg_err err = {{0}};
    const char *first =
        write_file(0, "run.name = \"exp #3, with spaces\"   # the '#' inside stays\n"
                      "run.note = plain text # a comment\n"
                      "[trainer]\n"
                      "  m=0.9\n"
                      "method = simsiam\n"
                      "[run]   # back to run\n"
                      "seed = 11\n"
                      "\t\n"
                      "[trainer]\n"
                      "epochs = \"12\"\n");
    CHECK(sg_config_load_file(c, first, &err) == 0, "load: %s", err.msg);
    CHECK(strcmp(sg_config_str(c, "run.name"), "exp #3, with spaces") == 0, "quoted: '%s'",
          sg_config_str(c, "run.name"));
    CHECK(strcmp(sg_config_str(c, "run.note"), "plain text") == 0, "bare + comment: '%s'",
          sg_config_str(c, "run.note"));
    CHECK(sg_config_float(c, "trainer.m") == 0.9, "section key");
    CHECK(strcmp(sg_config_str(c, "trainer.method"), "simsiam") == 0, "section enum");
    CHECK(sg_config_int(c, "run.seed") == 11, "second section");
    CHECK(sg_config_int(c, "trainer.epochs") == 12, "quoted int");

    /* Escapes in quoted values. */
    const char *path = write_file(1, "run.note = \"say \\\"hi\\\"\\tand \\\\ go\\n\"\n");
    CHECK(sg_config_load_file(c, path, &err) == 0, "escapes: %s", err.msg);
    CHECK(strcmp(sg_config_str(c, "run.note"), "say \"hi\"\tand \\ go\n") == 0, "escapes: '%s'",
          sg_config_str(c, "run.note"));
    /* Empty quoted string. */
    path = write_file(1, "run.name = \"\"\n");
    CHECK(sg_config_load_file(c, path, &err) == 0, "empty: %s", err.msg);
    CHECK(strcmp(sg_config_str(c, "run.name"), "") == 0, "empty quoted string");
    /* Windows line endings. */
    path = write_file(1, "run.seed = 5\r\n[trainer]\r\nm = 0.5\r\n");
    CHECK(sg_config_load_file(c, path, &err) == 0, "crlf: %s", err.msg);
    CHECK(sg_config_int(c, "run.seed") == 5 && sg_config_float(c, "trainer.m") == 0.5, "crlf");
    /* A command-line value is taken literally (the shell already removed any quotes). */
    CHECK(sg_config_set_arg(c, "run.note=a = b # c", &err) == 0, "arg: %s", err.msg);
    CHECK(strcmp(sg_config_str(c, "run.note"), "a = b # c") == 0, "literal arg");
    sg_config_free(c);
    remove(first);
    remove(path);
}

static void test_round_trip(void) {
    sg_config *a = sg_config_new(SPECS, NSPECS);
    sg_err err = {{0}};
    const char *args[] = {"run.seed=123456789",
                          "run.name=  hash # and \"quotes\" \\ back\tslash  ",
                          "run.note=line1\nline2",
                          "trainer.m=0.1",
                          "trainer.lr=3.0000000000000004",
                          "trainer.method=directpred",
                          "trainer.use_bn=off",
                          "trainer.offset=-9"};
    for (size_t k = 0; k < sizeof args / sizeof args[0]; k++)
        CHECK(sg_config_set_arg(a, args[k], &err) == 0, "%s: %s", args[k], err.msg);

    char path[512];
    snprintf(path, sizeof path, "%s/test_config_%d_rt.cfg", tu_tmpdir(), (int)getpid());
    FILE *f = fopen(path, "w");
    CHECK(f != NULL, "cannot write %s", path);
    if (!f) return;
    sg_config_write(a, f);
    fclose(f);

    sg_config *b = sg_config_new(SPECS, NSPECS);
    CHECK(sg_config_load_file(b, path, &err) == 0, "reload: %s", err.msg);
    CHECK(sg_config_hash(a) == sg_config_hash(b), "hash %016llx != %016llx",
          (unsigned long long)sg_config_hash(a), (unsigned long long)sg_config_hash(b));
    CHECK(strcmp(sg_config_str(a, "run.name"), sg_config_str(b, "run.name")) == 0,
          "name '%s' vs '%s'", sg_config_str(a, "run.name"), sg_config_str(b, "run.name"));
    CHECK(strcmp(sg_config_str(b, "run.note"), "line1\nline2") == 0, "newline in a string");
    CHECK(sg_config_float(b, "trainer.lr") == 3.0000000000000004, "lr exact: %.17g",
          sg_config_float(b, "trainer.lr"));
    CHECK(sg_config_float(b, "trainer.m") == 0.1, "m");
    CHECK(sg_config_int(b, "run.seed") == 123456789, "seed");
    CHECK(sg_config_bool(b, "trainer.use_bn") == 0, "bool");
    CHECK(sg_config_int(b, "trainer.offset") == -9, "offset");
    CHECK(strcmp(sg_config_str(b, "trainer.method"), "directpred") == 0, "enum");

    /* The hash is a function of the resolved values: defaults hash differently, and equal
     * values reached through different spellings hash the same. */
    sg_config *d = sg_config_new(SPECS, NSPECS);
    CHECK(sg_config_hash(d) != sg_config_hash(a), "hash ignores values");
    uint64_t h0 = sg_config_hash(d);
    CHECK(sg_config_set_arg(d, "trainer.lr=3e-2", &err) == 0, "%s", err.msg);
    CHECK(sg_config_hash(d) == h0, "0.03 and 3e-2 hash differently");
    CHECK(sg_config_set_arg(d, "trainer.lr=0.031", &err) == 0, "%s", err.msg);
    CHECK(sg_config_hash(d) != h0, "hash unchanged by a new value");

    /* The hash is FNV-1a 64 over "key=value\n" lines in schema order (an independent
     * computation of the documented definition). */
    static const sg_cfg_spec one[] = {{"a.b", SG_CFG_INT, "5", 0, 9, NULL, "x"},
                                      {"c", SG_CFG_STRING, "hi", 0, 0, NULL, "y"}};
    sg_config *o = sg_config_new(one, 2);
    const char *text = "a.b=5\nc=hi\n";
    uint64_t h = 0xcbf29ce484222325ull;
    for (const char *p = text; *p; p++) h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
    CHECK(sg_config_hash(o) == h, "fnv1a: %016llx vs %016llx",
          (unsigned long long)sg_config_hash(o), (unsigned long long)h);
    sg_config_free(o);

    sg_config_free(a);
    sg_config_free(b);
    sg_config_free(d);
    remove(path);
}

static void test_help(void) {
    sg_config *c = sg_config_new(SPECS, NSPECS);
    char *buf = NULL;
    size_t len = 0;
    FILE *mf = open_memstream(&buf, &len);
    sg_config_print_help(c, mf);
    fclose(mf);
    CHECK(contains(buf, "trainer.m (float in [0, 1]; default 0.996)"), "float help:\n%s", buf);
    CHECK(contains(buf, "EMA momentum of the target network"), "help text");
    CHECK(contains(buf, "trainer.epochs (int in [1, 1000]; default 100)"), "int help");
    CHECK(contains(buf, "trainer.method (one of: byol, simsiam, directpred; default byol)"),
          "enum help");
    CHECK(contains(buf, "trainer.use_bn (bool; default true)"), "bool help (canonical default)");
    CHECK(contains(buf, "trainer.lr (float in [1e-08, 10]; default 0.03)"), "float range help");
    CHECK(contains(buf, "run.note (string; default \"\")"), "empty string default shown");
    for (int i = 0; i < NSPECS; i++) CHECK(contains(buf, SPECS[i].help), "%s", SPECS[i].help);
    free(buf);
    sg_config_free(c);
}

static void test_edit_distance(void) {
    CHECK(sg_edit_distance("", "") == 0, "empty");
    CHECK(sg_edit_distance("abc", "") == 3, "to empty");
    CHECK(sg_edit_distance("", "abcd") == 4, "from empty");
    CHECK(sg_edit_distance("kitten", "sitting") == 3, "kitten");
    CHECK(sg_edit_distance("trainer.mm", "trainer.m") == 1, "delete");
    CHECK(sg_edit_distance("ab", "ba") == 2, "a transposition is two edits (no Damerau)");
    CHECK(sg_edit_distance("flaw", "lawn") == 2, "flaw");
    CHECK(sg_edit_distance("same", "same") == 0, "same");
}

static void test_aborts(void) {
    CHECK(!tu_aborts(valid_schema), "a valid schema aborted");
    CHECK(tu_aborts(bad_int_default), "non-integer default did not abort");
    CHECK(tu_aborts(out_of_range_default), "out-of-range default did not abort");
    CHECK(tu_aborts(bad_enum_default), "default outside the choices did not abort");
    CHECK(tu_aborts(duplicate_key), "duplicate key did not abort");
    CHECK(tu_aborts(get_unknown_key), "getter of an unknown key did not abort");
    CHECK(tu_aborts(get_wrong_type), "int getter of a float did not abort");
    CHECK(tu_aborts(get_str_of_bool), "string getter of a bool did not abort");
    CHECK(tu_aborts(is_set_unknown_key), "is_set of an unknown key did not abort");
}

int main(void) {
    test_defaults();
    test_precedence_and_origin();
    test_unknown_keys();
    test_type_and_range_errors();
    test_file_errors();
    test_bools();
    test_enums();
    test_quotes_and_sections();
    test_round_trip();
    test_help();
    test_edit_distance();
    test_aborts();
    return test_finish();
}
