/*  ml4t-model-tool: drives ml4t_model from the command line, for the Python
    interoperability test and by hand.

      ml4t-model-tool rows OUT.csv [N]              real feature rows from the bundled month
      ml4t-model-tool train ROWS.csv MODEL [TREES [DEPTH]]   train and save
      ml4t-model-tool predict MODEL ROWS.csv [--xgb]          one probability per line
      ml4t-model-tool info MODEL                              the manifest as JSON

    A rows CSV has a header of feature names, optionally ending with "y" (the
    label), then one row per line; "nan" or an empty field is missing. predict
    loads the model with the CSV's feature names as the expected list.
    Exit status: 0 success, 1 failure (the error on stderr), 2 usage. */
#include "ml4t/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/model_fixture.h"

typedef struct {
    size_t n, k;  /* rows, feature columns */
    char **names; /* k names */
    float *X, *y; /* y NULL without a "y" column */
} s_csv_t;

static void s_csv_free(s_csv_t *c)
{
    for (size_t i = 0; c->names && i < c->k; i++)
        free(c->names[i]);
    free(c->names);
    free(c->X);
    free(c->y);
    memset(c, 0, sizeof *c);
}

static size_t s_split(char *line, char **fields, size_t max)
{
    size_t n = 0;
    line[strcspn(line, "\r\n")] = '\0';
    for (char *p = line; n < max;) {
        fields[n++] = p;
        char *comma = strchr(p, ',');
        if (!comma)
            break;
        *comma = '\0';
        p = comma + 1;
    }
    return n;
}

static int s_csv_read(const char *path, s_csv_t *c)
{
    enum { MAXF = 4097 };
    static char line[1 << 16];
    char *f[MAXF];
    memset(c, 0, sizeof *c);
    FILE *in = fopen(path, "r");
    if (!in || !fgets(line, sizeof line, in)) {
        fprintf(stderr, "ml4t-model-tool: cannot read %s\n", path);
        if (in)
            fclose(in);
        return -1;
    }
    size_t nf = s_split(line, f, MAXF);
    bool has_y = nf > 1 && strcmp(f[nf - 1], "y") == 0;
    c->k = has_y ? nf - 1 : nf;
    c->names = calloc(c->k, sizeof *c->names);
    for (size_t j = 0; j < c->k; j++)
        c->names[j] = strdup(f[j]);
    size_t cap = 0;
    while (fgets(line, sizeof line, in)) {
        if (s_split(line, f, MAXF) != nf)
            continue;
        if (c->n == cap) {
            cap = cap ? 2 * cap : 1024;
            c->X = realloc(c->X, cap * c->k * sizeof *c->X);
            c->y = realloc(c->y, cap * sizeof *c->y);
        }
        for (size_t j = 0; j < c->k; j++)
            c->X[c->n * c->k + j] = *f[j] ? strtof(f[j], NULL) : NAN;
        c->y[c->n] = has_y ? strtof(f[nf - 1], NULL) : 0.0f;
        c->n++;
    }
    fclose(in);
    if (!has_y) {
        free(c->y);
        c->y = NULL;
    }
    return c->n ? 0 : -1;
}

static int s_fail(const ml4t_error_t *err)
{
    fprintf(stderr, "ml4t-model-tool: %s: %s (%s)\n", err->field, err->msg,
            ml4t_err_reason(err->code));
    return 1;
}

static int s_rows(int argc, char **argv)
{
    size_t max = argc > 3 ? strtoul(argv[3], NULL, 10) : 5000;
    float *X = NULL, *y = NULL;
    size_t n =
        t_rows_load(ML4T_SOURCE_DIR "/examples/data/FILUSDT-1m-2023-11.csv.gz", max, &X, &y, NULL);
    FILE *out = fopen(argv[2], "w");
    if (!n || !out) {
        fprintf(stderr, "ml4t-model-tool: cannot build rows into %s\n", argv[2]);
        return 1;
    }
    for (size_t j = 0; j < T_ROW_K; j++)
        fprintf(out, "%s,", t_row_names()[j]);
    fprintf(out, "y\n");
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < T_ROW_K; j++)
            fprintf(out, "%.9g,", X[i * T_ROW_K + j]); /* 9 digits: float round trip */
        fprintf(out, "%g\n", y[i]);
    }
    fclose(out);
    free(X);
    free(y);
    return 0;
}

static int s_train(int argc, char **argv)
{
    s_csv_t c;
    if (s_csv_read(argv[2], &c) != 0 || !c.y) {
        fprintf(stderr, "ml4t-model-tool: %s needs rows and a y column\n", argv[2]);
        s_csv_free(&c);
        return 1;
    }
    ml4t_model_params_t p;
    ml4t_model_params_default(&p);
    if (argc > 4)
        p.n_estimators = atoi(argv[4]);
    if (argc > 5)
        p.max_depth = atoi(argv[5]);
    ml4t_error_t err;
    ml4t_model_t *m =
        ml4t_model_train(c.X, c.y, NULL, c.n, c.k, (const char *const *)c.names, &p, &err);
    int rc = 0;
    if (!m || ml4t_model_set_label_barriers(m, 2.0, 1.0, 60, &err) ||
        ml4t_model_set_window(m, 0, 0, c.n, &err) || ml4t_model_save(m, argv[3], &err))
        rc = s_fail(&err);
    else
        printf("%s\n", ml4t_model_version(m));
    ml4t_model_unref(&m);
    s_csv_free(&c);
    return rc;
}

static int s_predict(int argc, char **argv)
{
    bool xgb = argc > 4 && strcmp(argv[4], "--xgb") == 0;
    s_csv_t c;
    if (s_csv_read(argv[3], &c) != 0) {
        s_csv_free(&c);
        return 1;
    }
    ml4t_error_t err;
    ml4t_model_t *m = ml4t_model_load(argv[2], (const char *const *)c.names, c.k, &err);
    double *X = malloc(c.n * c.k * sizeof *X), *out = malloc(c.n * sizeof *out);
    int rc = 0;
    for (size_t i = 0; X && i < c.n * c.k; i++)
        X[i] = c.X[i];
    if (!m)
        rc = s_fail(&err);
    else if (xgb && ml4t_model_predict_xgb(m, X, c.n, out, &err))
        rc = s_fail(&err);
    else if (!xgb)
        ml4t_model_predict_batch(m, X, c.n, out);
    for (size_t i = 0; !rc && i < c.n; i++)
        printf("%.17g\n", out[i]);
    free(X);
    free(out);
    ml4t_model_unref(&m);
    s_csv_free(&c);
    return rc;
}

static int s_info(char **argv)
{
    ml4t_error_t err;
    ml4t_model_t *m = ml4t_model_load(argv[2], NULL, 0, &err);
    if (!m)
        return s_fail(&err);
    cJSON *j = ml4t_model_manifest_json(m);
    char *text = j ? cJSON_Print(j) : NULL;
    if (text)
        printf("%s\n", text);
    cJSON_free(text);
    cJSON_Delete(j);
    ml4t_model_unref(&m);
    return text ? 0 : 1;
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "";
    if (!strcmp(cmd, "rows") && argc >= 3)
        return s_rows(argc, argv);
    if (!strcmp(cmd, "train") && argc >= 4)
        return s_train(argc, argv);
    if (!strcmp(cmd, "predict") && argc >= 4)
        return s_predict(argc, argv);
    if (!strcmp(cmd, "info") && argc >= 3)
        return s_info(argv);
    fprintf(stderr, "usage: ml4t-model-tool rows OUT.csv [N]\n"
                    "       ml4t-model-tool train ROWS.csv MODEL.ubj [TREES [DEPTH]]\n"
                    "       ml4t-model-tool predict MODEL.ubj ROWS.csv [--xgb]\n"
                    "       ml4t-model-tool info MODEL.ubj\n");
    return 2;
}
