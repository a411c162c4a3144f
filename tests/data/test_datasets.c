/* The dataset table (core/data/datasets.h) and the enum name tables against the config schema
 * they stand behind: every data.dataset choice has a row and every row is a choice; every
* predictor.kind and predictor.eigmap choice names its enum. Each row that `data fake` can write
 * is written at a small size and read back through sg_dataset_open_split: the reader, channels,
 * classes and split sizes the table promises. */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/data/augment.h"
#include "core/data/datasets.h"
#include "core/ssl/ssl.h"
#include "core/ssl/train_config.h"
#include "test_util.h"

/* The choices of schema key `key`, "a|b|c". */
static const char *choices(const char *key) {
    int n;
    const sg_cfg_spec *s = sg_train_schema(&n);
    for (int i = 0; i < n; i++)
        if (!strcmp(s[i].key, key)) return s[i].choices;
    return NULL;
}

/* Whether `name` is one of the '|'-separated choices. */
static int is_choice(const char *list, const char *name) {
    size_t n = strlen(name);
    for (const char *p = list; p && *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && !strncmp(p, name, n)) return 1;
        p = bar ? bar + 1 : NULL;
    }
    return 0;
}

static int count_choices(const char *list) {
    int k = 1;
    for (const char *p = list; *p; p++) k += *p == '|';
    return k;
}

static void names_match(const char *key, const char *const *names, int n) {
    const char *list = choices(key);
    CHECK(list != NULL, "schema has %s", key);
    if (!list) return;
    CHECK(count_choices(list) == n, "%s: %d choices, %d names", key, count_choices(list), n);
    for (int i = 0; i < n; i++) CHECK(is_choice(list, names[i]), "%s: %s is a choice", key, names[i]);
}

static void fake_and_read(const sg_dataset_info *ds, const char *root) {
    char dir[700];
    snprintf(dir, sizeof dir, "%s/%s", root, ds->name);
    sg_err err;
    CHECK(sg_dataset_write_fake(ds, dir, 12, 3, &err) == 0, "%s: fake data written: %s",
          ds->name, err.msg);
    sg_dataset d;
    for (int sp = SG_SPLIT_PRETRAIN; sp <= SG_SPLIT_EVAL_TEST; sp++) {
        if (sp == SG_SPLIT_EVAL_TRAIN && ds->eval_on_pretrain) continue;
        int rc = sg_dataset_open_split(ds, dir, (sg_split)sp, &d, &err);
        CHECK(rc == 0, "%s split %d opens: %s", ds->name, sp, rc ? err.msg : "");
        if (rc) continue;
        CHECK(d.kind == ds->format && d.C == ds->channels, "%s split %d: format %d, %d channels",
              ds->name, sp, (int)d.kind, d.C);
        CHECK(ds->format == SG_DS_IMAGENET || d.H == ds->fake_size, "%s: side %d", ds->name, d.H);
        /* STL-10's pre-training split adds the unlabeled images to the labelled ones */
        int want = ds->format == SG_DS_STL10 && sp == SG_SPLIT_PRETRAIN ? 24 : 12;
        CHECK(d.n == want, "%s split %d: %d images, want %d", ds->name, sp, d.n, want);
        sg_dataset_close(&d);
    }
}

int main(void) {
    names_match("predictor.kind", sg_pred_kind_names, SG_PRED_COUNT);
    names_match("predictor.eigmap", sg_eigmap_names, SG_EIGMAP_COUNT);

    const char *list = choices("data.dataset");
    CHECK(list && count_choices(list) == sg_dataset_count(), "one row per data.dataset choice");
    char root[600];
    snprintf(root, sizeof root, "%s/datasets_%d", tu_tmpdir(), (int)getpid());
    mkdir(root, 0777);
    for (int i = 0; i < sg_dataset_count(); i++) {
        const sg_dataset_info *ds = sg_dataset_at(i);
        CHECK(is_choice(list, ds->name), "row %s is a data.dataset choice", ds->name);
        CHECK(sg_dataset_find(ds->name) == ds, "%s found by name", ds->name);
        CHECK(ds->channels == 1 || ds->channels == 3, "%s: %d channels", ds->name, ds->channels);
        CHECK(!ds->mean == !ds->std, "%s: mean and std go together", ds->name);
        sg_aug_recipe r;
        sg_aug_recipe_make(ds, 0, ds->channels, 16, &r);
        CHECK(r.out_size == 16 && r.normalize == (ds->mean != NULL && ds->channels == 3),
              "%s: recipe normalises exactly when the row has constants", ds->name);
        if (ds->fake_size > 0) fake_and_read(ds, root);
    }
    CHECK(sg_dataset_find("mnist-typo") == NULL, "an unknown name has no row");
    sg_err err;
    sg_dataset d;
    CHECK(sg_dataset_open_split(sg_dataset_find("stl10"), "", SG_SPLIT_PRETRAIN, &d, &err) != 0 &&
              strstr(err.msg, "stl10_binary"),
          "a dataset without its folder names what the folder holds: %s", err.msg);
    return test_finish();
}
