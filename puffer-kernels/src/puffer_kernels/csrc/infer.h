/* infer.h: run an exported Puffer policy in plain C (C11, no dependencies beyond libm).
 *
 * Two layers of API:
 *  - layer kernels (pinf_linear, pinf_conv2d, pinf_lstm_cell, ...): plain functions on caller buffers;
 *  - a model: a policy file (written by `puffer export`) parsed into a PinfModel and run row by row with
 *    pinf_forward, then turned into actions with pinf_act.
 *
 * Memory: pinf_model_parse allocates nothing (the model points into the caller's bytes); pinf_model_load
 * allocates one buffer for the file. pinf_forward and pinf_act never allocate: the caller passes a
 * workspace of pinf_workspace_floats(model) floats, sized once and independent of the batch.
 *
 * Layout of every tensor: row-major (C order), float32. Linear weights are [out][in] (torch's
 * nn.Linear.weight), conv weights [out_c][in_c][kh][kw], activations of a conv are [C][H][W] and are
 * flattened in that order. The file format is described in docs/export.md and in infer.c.
 *
 * Errors: functions that can fail return 0 on success and -1 with a NUL-terminated message in err (when
 * err is not NULL), never crash on a bad file or bad index. The file must be little-endian (as written
 * by `puffer export`); a big-endian host gets an error.
 */
#ifndef PUFFER_INFER_H
#define PUFFER_INFER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(PINF_STATIC)
#define PINF_API
#elif defined(_WIN32)
#define PINF_API __declspec(dllexport)
#else
#define PINF_API __attribute__((visibility("default")))
#endif

#define PINF_FORMAT_VERSION 1
#define PINF_HEADER_BYTES 64
#define PINF_LAYER_INTS 12     /* one layer record: op + 11 int32 parameters */
#define PINF_MAX_LAYERS 64
#define PINF_MAX_ACT_DIMS 256
#define PINF_MAX_META_BYTES 65536

/* Observation element types. */
enum { PINF_OBS_U8 = 0, PINF_OBS_F32 = 1 };

/* Layer ops. p[] are the record's parameters; "width" is the per-row activation size flowing through. */
enum PinfOp {
    PINF_OP_NORMALIZE = 1, /* p0 n: x = (x - mean) / std; weights mean[n], std[n] */
    PINF_OP_SCALE = 2,     /* p0 n: x = x * s; weights s (one float) */
    PINF_OP_LINEAR = 3,    /* p0 in, p1 out, p2 groups (>= 1): y[g] = W x[g] + b per group;
                              weights W[out][in], b[out]; width groups*in -> groups*out */
    PINF_OP_RELU = 4,      /* p0 n */
    PINF_OP_GELU = 5,      /* p0 n: exact GELU, 0.5 x (1 + erf(x / sqrt 2)) (torch's default) */
    PINF_OP_TANH = 6,      /* p0 n */
    PINF_OP_SIGMOID = 7,   /* p0 n */
    PINF_OP_LAYERNORM = 8, /* p0 groups, p1 dim, p2 eps (float32 bits); weights gamma[dim], beta[dim] */
    PINF_OP_CONV2D = 9,    /* p0 in_c, p1 in_h, p2 in_w, p3 out_c, p4 kh, p5 kw, p6 stride_h, p7 stride_w,
                              p8 pad_h, p9 pad_w (zero padding); weights W[out_c][in_c][kh][kw], b[out_c];
                              input [in_c][in_h][in_w], output [out_c][out_h][out_w] */
    PINF_OP_HWC_TO_CHW = 10, /* p0 h, p1 w, p2 c: permute [h][w][c] to [c][h][w] */
    PINF_OP_SET_MAX = 11,  /* p0 items, p1 dim: [items][dim] -> [dim], max over items (a set/object list) */
    PINF_OP_EMBEDDING = 12, /* p0 count, p1 num, p2 dim: count indices (whole floats in [0, num)) ->
                               [count][dim] rows of table[num][dim] (weights) */
    PINF_OP_LSTM = 13,     /* p0 in, p1 hidden: one LSTM step (torch gate order i, f, g, o); weights
                              W_ih[4h][in], W_hh[4h][h], b_ih[4h], b_hh[4h]; state h[hidden], c[hidden] */
    PINF_OP_UNPACK = 15,   /* first layer, uint8 observations holding the bytes of several typed leaves (a
                              flattened Dict/Tuple): p0 leaves, p1 bytes, p2 index of its table in the ints:
                              per leaf 5 ints (byte offset, PINF_LEAF_* dtype, count, classes, start). A leaf
                              with classes > 0 is a category: one-hot of (element 0 - start), classes wide;
                              else its count elements as floats. Output: the leaves concatenated. */
    PINF_OP_HEADS = 14,    /* last layer; p0 kind (PINF_ACT_*), p1 action dims; width must be
                              params + 1: [action params..., value]. Categorical: ints n[dims], start[dims];
                              Gaussian: weights log_std[dims], params are the means */
};

enum { PINF_ACT_CATEGORICAL = 0, PINF_ACT_GAUSSIAN = 1 };

/* Leaf dtypes of PINF_OP_UNPACK (little-endian in the observation bytes). */
enum {
    PINF_LEAF_U8 = 0, PINF_LEAF_I8 = 1, PINF_LEAF_I16 = 2, PINF_LEAF_I32 = 3, PINF_LEAF_I64 = 4,
    PINF_LEAF_F16 = 5, PINF_LEAF_F32 = 6, PINF_LEAF_F64 = 7, PINF_LEAF_BOOL = 8,
};

typedef struct PinfLayer {
    int32_t op;
    int32_t p[PINF_LAYER_INTS - 1];
    const float *w;      /* this layer's weights inside the model's weight block (NULL if none) */
    int64_t in, out;     /* per-row widths */
    int64_t state_at;    /* LSTM: offset of its (h, c) in a row's state; -1 otherwise */
} PinfLayer;

typedef struct PinfModel {
    int obs_dtype;               /* PINF_OBS_U8 or PINF_OBS_F32 */
    int obs_ndim;
    int obs_shape[3];
    int64_t obs_size;            /* elements per row */
    int num_layers;
    PinfLayer layers[PINF_MAX_LAYERS];
    int act_kind;                /* PINF_ACT_CATEGORICAL or PINF_ACT_GAUSSIAN */
    int act_dims;
    const int32_t *act_n;        /* categorical: choices per dim */
    const int32_t *act_start;    /* categorical: the space's start per dim (added by pinf_act) */
    const int32_t *ints;         /* the file's extra ints: unpack tables, then the action sizes and starts */
    int64_t num_ints;
    const float *log_std;        /* gaussian */
    int64_t param_size;          /* action parameters per row (out_size - 1) */
    int64_t out_size;            /* pinf_forward's output per row: params then the value */
    int64_t state_size;          /* recurrent state floats per row (0: feed-forward) */
    int64_t max_width;           /* the widest per-row activation */
    int64_t workspace;           /* pinf_workspace_floats: 2 * max_width + scratch (LSTM gates, conv patches) */
    const char *meta;            /* key=value lines (not NUL-terminated; meta_bytes long, NUL padded) */
    int64_t meta_bytes;
    const float *weights;
    int64_t num_weights;
    void *owned;                 /* the file buffer of pinf_model_load (freed by pinf_model_free) */
} PinfModel;

/* splitmix64: seeded, one 8-byte state, the same generator ocean envs use. */
typedef struct PinfRng {
    uint64_t s;
} PinfRng;

/* ---- models ---------------------------------------------------------------------------------------- */
/* Parse a policy file held in memory (4-byte aligned, kept alive while the model is used). No allocation. */
PINF_API int pinf_model_parse(PinfModel *m, const void *data, size_t size, char *err, size_t errlen);
/* Read and parse a policy file (one allocation, released by pinf_model_free). */
PINF_API int pinf_model_load(PinfModel *m, const char *path, char *err, size_t errlen);
PINF_API void pinf_model_free(PinfModel *m);
/* The value of metadata key `key` copied into out (NUL-terminated); 0 if found, -1 if not (or too long). */
PINF_API int pinf_model_meta(const PinfModel *m, const char *key, char *out, size_t cap);
PINF_API int64_t pinf_workspace_floats(const PinfModel *m);
/* sizeof(PinfModel): lets bindings (cffi in Python) check that they agree with this build's layout. */
PINF_API size_t pinf_model_sizeof(void);

/* Run `batch` rows: obs [batch][obs_size] (uint8 or float per obs_dtype), state [batch][state_size] (read
 * and updated; may be NULL when state_size is 0), out [batch][out_size] = action params then the value. */
PINF_API int pinf_forward(const PinfModel *m, const void *obs, int64_t batch, float *state, float *out,
                          float *workspace, int64_t workspace_floats, char *err, size_t errlen);
/* Actions from pinf_forward's out: categorical -> int32 actions[batch][act_dims] (argmax when greedy, else
 * sampled from softmax(logits), start offsets added); gaussian -> float actions[batch][act_dims] (the mean
 * when greedy, else mean + exp(log_std) * N(0, 1)). rng may be NULL only when greedy. */
PINF_API int pinf_act(const PinfModel *m, const float *out, int64_t batch, int greedy, PinfRng *rng,
                      void *actions, char *err, size_t errlen);

/* ---- random numbers and action selection ---------------------------------------------------------- */
PINF_API void pinf_rng_seed(PinfRng *r, uint64_t seed);
PINF_API uint64_t pinf_rng_u64(PinfRng *r);
PINF_API double pinf_rng_uniform(PinfRng *r); /* [0, 1) with 53 bits */
PINF_API int pinf_argmax(const float *logits, int n);  /* first index of the maximum */
PINF_API int pinf_sample_logits(const float *logits, int n, PinfRng *r); /* softmax(logits) sample */

/* ---- layer kernels (row-major; x and y never alias unless stated) ---------------------------------- */
PINF_API void pinf_linear(const float *x, const float *w, const float *b, float *y, int64_t rows,
                          int64_t in, int64_t out);
PINF_API void pinf_relu(float *x, int64_t n);      /* in place */
PINF_API void pinf_gelu(float *x, int64_t n);      /* in place */
PINF_API void pinf_tanh(float *x, int64_t n);      /* in place */
PINF_API void pinf_sigmoid(float *x, int64_t n);   /* in place */
PINF_API void pinf_layernorm(const float *x, const float *gamma, const float *beta, float *y, int64_t rows,
                             int64_t dim, float eps);
PINF_API void pinf_conv2d(const float *x, const float *w, const float *b, float *y, int in_c, int in_h,
                          int in_w, int out_c, int kh, int kw, int stride_h, int stride_w, int pad_h,
                          int pad_w);
PINF_API void pinf_hwc_to_chw(const float *x, float *y, int h, int w, int c);
PINF_API void pinf_set_max(const float *x, float *y, int64_t items, int64_t dim);
/* -1 (nothing written past the bad entry) when an index is outside [0, num). */
PINF_API int pinf_embedding(const int32_t *idx, const float *table, float *y, int64_t count, int64_t num,
                            int64_t dim);
/* One LSTM step for one row: h, c [hidden] updated in place; gates is scratch of 8*hidden floats. */
PINF_API void pinf_lstm_cell(const float *x, float *h, float *c, const float *w_ih, const float *w_hh,
                             const float *b_ih, const float *b_hh, float *gates, int64_t in, int64_t hidden);

#ifdef __cplusplus
}
#endif
#endif /* PUFFER_INFER_H */
