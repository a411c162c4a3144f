/* core/base/config.h: typed configuration with dotted keys.
 *
 * A schema (array of sg_cfg_spec) lists every key with its type, default, range and help.
 * Values come from defaults, then a config file, then command-line `key=value` overrides, each
 * remembered with its origin. Unknown keys are errors that suggest the nearest known key;
 * type and range errors name the key, the value and what is allowed.
 *
 * Config file syntax (one setting per line):
 *     # comment
 *     trainer.m = 0.996
 *     [trainer]            # section: following keys are prefixed with "trainer."
 *     lr = 0.03
 * A value may be quoted with "..." to keep spaces or '#'.
 */
#pragma once
#include <stdint.h>
#include <stdio.h>

#include "core/base/err.h"

typedef enum {
    SG_CFG_INT,    /* integer within [min, max] */
    SG_CFG_FLOAT,  /* finite double within [min, max] */
    SG_CFG_BOOL,   /* true/false, on/off, yes/no, 1/0 */
    SG_CFG_STRING, /* any text */
    SG_CFG_ENUM,   /* one of `choices`, a '|'-separated list */
} sg_cfg_type;

typedef struct {
    const char *key;     /* dotted name, e.g. "trainer.m" */
    sg_cfg_type type;
    const char *def;     /* default, as text (must itself be valid) */
    double min, max;     /* inclusive range for INT/FLOAT */
    const char *choices; /* ENUM only: "byol|simsiam" */
    const char *help;    /* one line */
} sg_cfg_spec;

typedef struct sg_config sg_config;

/* Copies nothing: `specs` must outlive the config. Aborts if a default is invalid. */
sg_config *sg_config_new(const sg_cfg_spec *specs, int nspecs);
void sg_config_free(sg_config *c);

/* Sets one key from text; origin ("command line", "run.cfg:12") is kept for the report. */
int sg_config_set(sg_config *c, const char *key, const char *value, const char *origin,
                  sg_err *err);
/* "key=value" (a command-line override). */
int sg_config_set_arg(sg_config *c, const char *arg, sg_err *err);
/* A config file as described above; errors name the file and line. Only a regular file is read
 * (core/base/file.h), and no line may be longer than SG_CONFIG_MAX_LINE characters. */
#define SG_CONFIG_MAX_LINE 65536
int sg_config_load_file(sg_config *c, const char *path, sg_err *err);

/* Typed getters. Asking for a key not in the schema, or with the wrong type, is a programming
 * error and aborts. */
long long sg_config_int(const sg_config *c, const char *key);
double sg_config_float(const sg_config *c, const char *key);
int sg_config_bool(const sg_config *c, const char *key);
const char *sg_config_str(const sg_config *c, const char *key); /* STRING and ENUM */
/* The canonical text of any key's value (bools as true/false, numbers in shortest exact form). */
const char *sg_config_text(const sg_config *c, const char *key);
/* Whether the value was set by a file or the command line (not the default). */
int sg_config_is_set(const sg_config *c, const char *key);

/* The resolved config, every key, in a format sg_config_load_file reads back. */
void sg_config_write(const sg_config *c, FILE *f);
/* 64-bit FNV-1a hash of the resolved "key=value" lines: identifies a setting in result rows. */
uint64_t sg_config_hash(const sg_config *c);
/* The same hash over every key but the nskip keys of skip (keys that say where or how a run is
 * stored or executed, not what it computes). */
uint64_t sg_config_hash_without(const sg_config *c, const char *const *skip, int nskip);
/* `--help` text: every key with type, default, range/choices and help. */
void sg_config_print_help(const sg_config *c, FILE *f);

/* Damerau-free Levenshtein distance, exposed for tests and for suggesting subcommands. */
int sg_edit_distance(const char *a, const char *b);
