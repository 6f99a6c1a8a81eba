/* infer.c: the policy inference library declared in infer.h.
 *
 * Policy file (all integers little-endian; written by puffer_trainer.export, layout in docs/export.md):
 *
 *   offset  size  field
 *   0       8     magic "PUFFPOL\0"
 *   8       4     u32 format version (PINF_FORMAT_VERSION)
 *   12      4     u32 header bytes (PINF_HEADER_BYTES = 64)
 *   16      4     u32 observation dtype (0 uint8, 1 float32)
 *   20      4     u32 observation rank (1..3)
 *   24      12    u32 observation shape[3] (unused dims 1)
 *   36      4     u32 number of layers L (1..PINF_MAX_LAYERS)
 *   40      4     u32 number of extra ints I (unpack leaf tables, then categorical action sizes, starts)
 *   44      4     u32 metadata bytes M (a multiple of 4; key=value lines, NUL padded)
 *   48      8     u64 number of float32 weights W
 *   56      4     u32 CRC-32 (zlib's) of every byte after the header
 *   60      4     u32 reserved, 0
 *   64      48*L  layer records: i32 op, i32 p[11]
 *   ...     4*I   i32 ints
 *   ...     M     metadata
 *   ...     4*W   f32 weights, each layer's in layer order (the order listed for its op in infer.h)
 *
 * The file must be exactly that long. Every field is checked before use, and the layers are walked once at
 * parse time to check that their shapes chain and that the weights add up to W, so pinf_forward itself
 * needs no checks but the caller's buffers.
 */
#include "infer.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PINF_MAX_WIDTH ((int64_t)1 << 28) /* per-row activation floats: 1 GiB, far beyond any policy */

static int fail(char *err, size_t errlen, const char *fmt, ...) {
    if (err != NULL && errlen > 0) {
        va_list args;
        va_start(args, fmt);
        vsnprintf(err, errlen, fmt, args);
        va_end(args);
    }
    return -1;
}

static uint32_t read_u32(const unsigned char *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static uint64_t read_u64(const unsigned char *p) { return (uint64_t)read_u32(p) | ((uint64_t)read_u32(p + 4) << 32); }

static int little_endian_host(void) {
    const uint32_t one = 1;
    unsigned char first;
    memcpy(&first, &one, 1);
    return first == 1;
}

/* zlib's CRC-32 (polynomial 0xEDB88320), a nibble at a time from a 16-entry table. */
static uint32_t crc32_bytes(const unsigned char *p, size_t n) {
    static const uint32_t table[16] = {
        0x00000000u, 0x1DB71064u, 0x3B6E20C8u, 0x26D930ACu, 0x76DC4190u, 0x6B6B51F4u, 0x4DB26158u, 0x5005713Cu,
        0xEDB88320u, 0xF00F9344u, 0xD6D6A3E8u, 0xCB61B38Cu, 0x9B64C2B0u, 0x86D3D2D4u, 0xA00AE278u, 0xBDBDF21Cu,
    };
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        crc = (crc >> 4) ^ table[crc & 15u];
        crc = (crc >> 4) ^ table[crc & 15u];
    }
    return crc ^ 0xFFFFFFFFu;
}

static const char *op_name(int op) {
    switch (op) {
    case PINF_OP_NORMALIZE: return "normalize";
    case PINF_OP_SCALE: return "scale";
    case PINF_OP_LINEAR: return "linear";
    case PINF_OP_RELU: return "relu";
    case PINF_OP_GELU: return "gelu";
    case PINF_OP_TANH: return "tanh";
    case PINF_OP_SIGMOID: return "sigmoid";
    case PINF_OP_LAYERNORM: return "layernorm";
    case PINF_OP_CONV2D: return "conv2d";
    case PINF_OP_HWC_TO_CHW: return "hwc_to_chw";
    case PINF_OP_SET_MAX: return "set_max";
    case PINF_OP_EMBEDDING: return "embedding";
    case PINF_OP_LSTM: return "lstm";
    case PINF_OP_HEADS: return "heads";
    case PINF_OP_UNPACK: return "unpack";
    default: return "unknown";
    }
}

/* a * b, or -1 when either is negative or the product leaves [0, PINF_MAX_WIDTH]. */
static int64_t mul_checked(int64_t a, int64_t b) {
    if (a < 0 || b < 0) return -1;
    if (a != 0 && b > PINF_MAX_WIDTH / a) return -1;
    return a * b;
}

/* Shapes and weight count of layer k given its input width; fills l->in/out. Returns weights or -1. */
static int leaf_size(int dtype) {
    static const int sizes[9] = {1, 1, 2, 4, 8, 2, 4, 8, 1};
    return dtype >= 0 && dtype <= PINF_LEAF_BOOL ? sizes[dtype] : 0;
}

/* The unpack layer's leaf table: every leaf inside the bytes, known dtype; returns the output width or -1. */
static int64_t check_unpack(const int32_t *p, int k, int64_t width, const int32_t *ints, int64_t num_ints,
                            int64_t *ints_at, char *err, size_t errlen) {
    if (k != 0 || p[0] < 1 || p[1] != width || p[2] != *ints_at || (int64_t)p[2] + 5 * (int64_t)p[0] > num_ints) {
        fail(err, errlen, "layer %d (unpack): must come first, read all %lld observation bytes and own the "
             "next %d*5 ints at %lld (got leaves %d, bytes %d, ints at %d)", k, (long long)width, p[0],
             (long long)*ints_at, p[0], p[1], p[2]);
        return -1;
    }
    int64_t out = 0;
    for (int i = 0; i < p[0]; i++) {
        const int32_t *leaf = ints + p[2] + 5 * i;
        int size = leaf_size(leaf[1]);
        if (size == 0 || leaf[0] < 0 || leaf[2] < 1 || leaf[3] < 0 ||
            (int64_t)leaf[0] + (int64_t)leaf[2] * size > width) {
            fail(err, errlen, "layer %d (unpack): leaf %d (offset %d, dtype %d, count %d, classes %d) does not fit "
                 "%lld bytes", k, i, leaf[0], leaf[1], leaf[2], leaf[3], (long long)width);
            return -1;
        }
        out += leaf[3] > 0 ? leaf[3] : leaf[2];
        if (out > PINF_MAX_WIDTH) {
            fail(err, errlen, "layer %d (unpack): output too wide", k);
            return -1;
        }
    }
    *ints_at += 5 * (int64_t)p[0];
    return out;
}

static int64_t check_layer(PinfLayer *l, int k, int64_t width, int64_t *state, int64_t *scratch, char *err,
                           size_t errlen) {
    const int32_t *p = l->p;
    const char *name = op_name(l->op);
    l->in = width;
    l->out = width;
    l->state_at = -1;
    switch (l->op) {
    case PINF_OP_NORMALIZE:
    case PINF_OP_SCALE:
    case PINF_OP_RELU:
    case PINF_OP_GELU:
    case PINF_OP_TANH:
    case PINF_OP_SIGMOID:
        if (p[0] != width) {
            fail(err, errlen, "layer %d (%s): size %d does not match its input width %lld", k, name, p[0],
                 (long long)width);
            return -1;
        }
        if (l->op == PINF_OP_NORMALIZE) return 2 * width;
        return l->op == PINF_OP_SCALE ? 1 : 0;
    case PINF_OP_LINEAR: {
        if (p[0] < 1 || p[1] < 1 || p[2] < 1) break;
        if (mul_checked(p[0], p[2]) != width) {
            fail(err, errlen, "layer %d (linear): %d groups of %d inputs do not match its input width %lld", k,
                 p[2], p[0], (long long)width);
            return -1;
        }
        l->out = mul_checked(p[1], p[2]);
        int64_t wc = mul_checked(p[0], p[1]);
        if (l->out < 0 || wc < 0) break;
        return wc + p[1];
    }
    case PINF_OP_LAYERNORM: {
        float eps;
        memcpy(&eps, &p[2], sizeof eps);
        if (p[0] < 1 || p[1] < 1 || !(eps >= 0.0f) || !isfinite(eps)) break;
        if (mul_checked(p[0], p[1]) != width) {
            fail(err, errlen, "layer %d (layernorm): %d groups of %d do not match its input width %lld", k, p[0],
                 p[1], (long long)width);
            return -1;
        }
        return 2 * (int64_t)p[1];
    }
    case PINF_OP_CONV2D: {
        for (int i = 0; i < 8; i++)
            if (p[i] < 1) goto bad;
        if (p[8] < 0 || p[9] < 0 || p[8] > 65536 || p[9] > 65536) break;
        int64_t in = mul_checked(mul_checked(p[0], p[1]), p[2]);
        if (in != width) {
            fail(err, errlen, "layer %d (conv2d): input [%d][%d][%d] does not match its input width %lld", k,
                 p[0], p[1], p[2], (long long)width);
            return -1;
        }
        int64_t oh = ((int64_t)p[1] + 2 * (int64_t)p[8] - p[4]) / p[6] + 1;
        int64_t ow = ((int64_t)p[2] + 2 * (int64_t)p[9] - p[5]) / p[7] + 1;
        if ((int64_t)p[1] + 2 * (int64_t)p[8] < p[4] || (int64_t)p[2] + 2 * (int64_t)p[9] < p[5]) {
            fail(err, errlen, "layer %d (conv2d): kernel %dx%d is larger than the padded input %dx%d", k, p[4],
                 p[5], p[1] + 2 * p[8], p[2] + 2 * p[9]);
            return -1;
        }
        l->out = mul_checked(mul_checked(p[3], oh), ow);
        int64_t wc = mul_checked(mul_checked(mul_checked(p[3], p[0]), p[4]), p[5]);
        int64_t patches = mul_checked(mul_checked(oh, ow), mul_checked(mul_checked(p[0], p[4]), p[5]));
        if (l->out < 0 || wc < 0 || patches < 0) break;
        if (patches > *scratch) *scratch = patches; /* conv_patches' unfolded input */
        return wc + p[3];
    }
    case PINF_OP_HWC_TO_CHW:
        if (p[0] < 1 || p[1] < 1 || p[2] < 1) break;
        if (mul_checked(mul_checked(p[0], p[1]), p[2]) != width) {
            fail(err, errlen, "layer %d (hwc_to_chw): [%d][%d][%d] does not match its input width %lld", k, p[0],
                 p[1], p[2], (long long)width);
            return -1;
        }
        return 0;
    case PINF_OP_SET_MAX:
        if (p[0] < 1 || p[1] < 1) break;
        if (mul_checked(p[0], p[1]) != width) {
            fail(err, errlen, "layer %d (set_max): %d items of %d do not match its input width %lld", k, p[0],
                 p[1], (long long)width);
            return -1;
        }
        l->out = p[1];
        return 0;
    case PINF_OP_EMBEDDING: {
        if (p[0] < 1 || p[1] < 1 || p[2] < 1) break;
        if (p[0] != width) {
            fail(err, errlen, "layer %d (embedding): %d indices do not match its input width %lld", k, p[0],
                 (long long)width);
            return -1;
        }
        l->out = mul_checked(p[0], p[2]);
        int64_t wc = mul_checked(p[1], p[2]);
        if (l->out < 0 || wc < 0) break;
        return wc;
    }
    case PINF_OP_LSTM: {
        if (p[0] < 1 || p[1] < 1) break;
        if (p[0] != width) {
            fail(err, errlen, "layer %d (lstm): input size %d does not match its input width %lld", k, p[0],
                 (long long)width);
            return -1;
        }
        int64_t h4 = mul_checked(4, p[1]);
        int64_t wc = mul_checked(h4, (int64_t)p[0] + p[1]);
        if (h4 < 0 || wc < 0) break;
        l->out = p[1];
        l->state_at = *state;
        *state += 2 * (int64_t)p[1];
        if (2 * h4 > *scratch) *scratch = 2 * h4; /* pinf_lstm_cell's gates */
        return wc + 2 * h4;
    }
    default:
        fail(err, errlen, "layer %d has unknown op %d (this library reads format version %d)", k, l->op,
             PINF_FORMAT_VERSION);
        return -1;
    }
bad:
    fail(err, errlen, "layer %d (%s) has invalid parameters [%d %d %d %d %d %d %d %d %d %d %d]", k, name, p[0],
         p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10]);
    return -1;
}

int pinf_model_parse(PinfModel *m, const void *data, size_t size, char *err, size_t errlen) {
    if (m == NULL || data == NULL) return fail(err, errlen, "pinf_model_parse: NULL model or data");
    memset(m, 0, sizeof *m); /* also owned = NULL: a parsed model owns nothing (pinf_model_free is safe) */
    const unsigned char *b = (const unsigned char *)data;
    if (!little_endian_host())
        return fail(err, errlen, "policy files are little-endian; this host is big-endian (not supported)");
    if (((uintptr_t)data & 3u) != 0) return fail(err, errlen, "policy data must be 4-byte aligned");
    if (size < PINF_HEADER_BYTES)
        return fail(err, errlen, "not a policy file: %zu bytes, shorter than the %d-byte header", size,
                    PINF_HEADER_BYTES);
    if (memcmp(b, "PUFFPOL\0", 8) != 0)
        return fail(err, errlen, "not a policy file: bad magic (expected \"PUFFPOL\" at offset 0)");
    uint32_t version = read_u32(b + 8);
    if (version != PINF_FORMAT_VERSION)
        return fail(err, errlen, "policy format version %u, but this library reads version %d", version,
                    PINF_FORMAT_VERSION);
    if (read_u32(b + 12) != PINF_HEADER_BYTES || read_u32(b + 60) != 0)
        return fail(err, errlen, "corrupt policy header (header size %u, reserved %u)", read_u32(b + 12),
                    read_u32(b + 60));
    uint32_t dtype = read_u32(b + 16), ndim = read_u32(b + 20);
    if (dtype > PINF_OBS_F32) return fail(err, errlen, "unknown observation dtype %u (0 uint8, 1 float32)", dtype);
    if (ndim < 1 || ndim > 3) return fail(err, errlen, "observation rank %u outside 1..3", ndim);
    int64_t obs_size = 1;
    for (int i = 0; i < 3; i++) {
        uint32_t d = read_u32(b + 24 + 4 * i);
        if (d < 1 || d > (uint32_t)PINF_MAX_WIDTH || ((uint32_t)i >= ndim && d != 1))
            return fail(err, errlen, "invalid observation shape entry %d: %u", i, d);
        m->obs_shape[i] = (int)d;
        obs_size = mul_checked(obs_size, d);
        if (obs_size < 0) return fail(err, errlen, "observation too large");
    }
    uint32_t num_layers = read_u32(b + 36), num_ints = read_u32(b + 40), meta_bytes = read_u32(b + 44);
    uint64_t num_weights = read_u64(b + 48);
    if (num_layers < 1 || num_layers > PINF_MAX_LAYERS)
        return fail(err, errlen, "%u layers, expected 1..%d", num_layers, PINF_MAX_LAYERS);
    if (num_ints > 1u << 20) return fail(err, errlen, "%u extra ints, at most %d", num_ints, 1 << 20);
    if (meta_bytes > PINF_MAX_META_BYTES || meta_bytes % 4 != 0)
        return fail(err, errlen, "metadata of %u bytes (must be a multiple of 4, at most %d)", meta_bytes,
                    PINF_MAX_META_BYTES);
    if (num_weights > (uint64_t)1 << 40) return fail(err, errlen, "implausible weight count %llu", (unsigned long long)num_weights);
    uint64_t expected = (uint64_t)PINF_HEADER_BYTES + (uint64_t)num_layers * PINF_LAYER_INTS * 4 +
                        (uint64_t)num_ints * 4 + meta_bytes + num_weights * 4;
    if ((uint64_t)size < expected)
        return fail(err, errlen, "policy file truncated: %zu bytes, the header says %llu", size,
                    (unsigned long long)expected);
    if ((uint64_t)size > expected)
        return fail(err, errlen, "policy file has %llu trailing bytes after the %llu its header describes",
                    (unsigned long long)((uint64_t)size - expected), (unsigned long long)expected);
    uint32_t crc = crc32_bytes(b + PINF_HEADER_BYTES, size - PINF_HEADER_BYTES);
    if (crc != read_u32(b + 56))
        return fail(err, errlen, "policy file corrupt: CRC-32 %08x does not match the header's %08x", crc,
                    read_u32(b + 56));

    const unsigned char *cursor = b + PINF_HEADER_BYTES;
    const int32_t *records = (const int32_t *)(const void *)cursor;
    cursor += (size_t)num_layers * PINF_LAYER_INTS * 4;
    const int32_t *ints = (const int32_t *)(const void *)cursor;
    cursor += (size_t)num_ints * 4;
    m->meta = (const char *)cursor;
    m->meta_bytes = meta_bytes;
    cursor += meta_bytes;
    m->weights = (const float *)(const void *)cursor;
    m->num_weights = (int64_t)num_weights;
    m->obs_dtype = (int)dtype;
    m->obs_ndim = (int)ndim;
    m->obs_size = obs_size;
    m->num_layers = (int)num_layers;

    int64_t width = obs_size, max_width = obs_size, state = 0, scratch = 0, used = 0, ints_at = 0;
    m->ints = ints;
    m->num_ints = num_ints;
    for (uint32_t k = 0; k < num_layers; k++) {
        PinfLayer *l = &m->layers[k];
        l->op = records[k * PINF_LAYER_INTS];
        memcpy(l->p, records + k * PINF_LAYER_INTS + 1, sizeof l->p);
        if (l->op == PINF_OP_HEADS) {
            if (k != num_layers - 1) return fail(err, errlen, "layer %u (heads) must be the last layer", k);
            break;
        }
        if (k == num_layers - 1) return fail(err, errlen, "the last layer must be heads, got %s", op_name(l->op));
        int64_t wc = 0;
        if (l->op == PINF_OP_UNPACK) {
            if (dtype != PINF_OBS_U8) return fail(err, errlen, "layer 0 (unpack) needs uint8 observations");
            l->in = width;
            l->state_at = -1;
            l->out = check_unpack(l->p, (int)k, width, ints, num_ints, &ints_at, err, errlen);
            if (l->out < 0) return -1;
        } else {
            wc = check_layer(l, (int)k, width, &state, &scratch, err, errlen);
            if (wc < 0) return -1;
        }
        if ((uint64_t)(used + wc) > num_weights)
            return fail(err, errlen, "layer %u (%s) needs weights past the %llu in the file", k, op_name(l->op),
                        (unsigned long long)num_weights);
        l->w = wc ? m->weights + used : NULL;
        used += wc;
        width = l->out;
        if (width > max_width) max_width = width;
    }
    /* The heads: what the last width means. */
    PinfLayer *heads = &m->layers[num_layers - 1];
    heads->in = heads->out = width;
    heads->state_at = -1;
    int kind = heads->p[0], dims = heads->p[1];
    if (dims < 1 || dims > PINF_MAX_ACT_DIMS) return fail(err, errlen, "heads: %d action dims, expected 1..%d", dims, PINF_MAX_ACT_DIMS);
    m->act_kind = kind;
    m->act_dims = dims;
    m->out_size = width;
    m->param_size = width - 1;
    if (kind == PINF_ACT_CATEGORICAL) {
        if ((int64_t)num_ints - ints_at != 2 * (int64_t)dims)
            return fail(err, errlen, "heads: categorical with %d dims needs %d ints, the file has %lld left", dims,
                        2 * dims, (long long)((int64_t)num_ints - ints_at));
        ints += ints_at;
        int64_t total = 0;
        for (int i = 0; i < dims; i++) {
            if (ints[i] < 1) return fail(err, errlen, "heads: action dim %d has %d choices", i, ints[i]);
            total += ints[i];
        }
        if (total + 1 != width)
            return fail(err, errlen, "heads: %lld logits + 1 value do not match the output width %lld",
                        (long long)total, (long long)width);
        m->act_n = ints;
        m->act_start = ints + dims;
    } else if (kind == PINF_ACT_GAUSSIAN) {
        if ((int64_t)num_ints != ints_at)
            return fail(err, errlen, "heads: gaussian actions take no ints, the file has %lld left",
                        (long long)((int64_t)num_ints - ints_at));
        if ((int64_t)dims + 1 != width)
            return fail(err, errlen, "heads: %d means + 1 value do not match the output width %lld", dims, (long long)width);
        if ((uint64_t)(used + dims) > num_weights) return fail(err, errlen, "heads: log_std missing from the weights");
        m->log_std = m->weights + used;
        heads->w = m->log_std;
        used += dims;
    } else {
        return fail(err, errlen, "heads: unknown action kind %d (0 categorical, 1 gaussian)", kind);
    }
    if (used != (int64_t)num_weights)
        return fail(err, errlen, "the layers use %lld weights but the file holds %llu", (long long)used,
                    (unsigned long long)num_weights);
    for (int64_t i = 0; i < used; i++)
        if (!isfinite(m->weights[i])) return fail(err, errlen, "weight %lld is not finite", (long long)i);
    m->state_size = state;
    m->max_width = max_width;
    m->workspace = 2 * max_width + scratch;
    return 0;
}

int pinf_model_load(PinfModel *m, const char *path, char *err, size_t errlen) {
    if (m == NULL || path == NULL) return fail(err, errlen, "pinf_model_load: NULL model or path");
    memset(m, 0, sizeof *m);
    FILE *f = fopen(path, "rb");
    if (f == NULL) return fail(err, errlen, "cannot open policy file %s", path);
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0) size = ftell(f);
    if (size < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return fail(err, errlen, "cannot read policy file %s", path);
    }
    /* float-aligned storage: malloc's alignment covers the int32 and float sections. */
    void *buffer = malloc(size > 0 ? (size_t)size : 1);
    if (buffer == NULL) {
        fclose(f);
        return fail(err, errlen, "out of memory reading %s (%ld bytes)", path, size);
    }
    size_t got = fread(buffer, 1, (size_t)size, f);
    fclose(f);
    if (got != (size_t)size) {
        free(buffer);
        return fail(err, errlen, "short read of %s: %zu of %ld bytes", path, got, size);
    }
    if (pinf_model_parse(m, buffer, (size_t)size, err, errlen) != 0) {
        free(buffer);
        memset(m, 0, sizeof *m);
        return -1;
    }
    m->owned = buffer;
    return 0;
}

void pinf_model_free(PinfModel *m) {
    if (m == NULL) return;
    free(m->owned);
    memset(m, 0, sizeof *m);
}

int pinf_model_meta(const PinfModel *m, const char *key, char *out, size_t cap) {
    if (m == NULL || key == NULL || out == NULL || cap == 0) return -1;
    size_t klen = strlen(key);
    const char *p = m->meta, *end = m->meta + m->meta_bytes;
    while (p < end && *p != '\0') {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = nl ? nl : end;
        const char *nul = memchr(p, '\0', (size_t)(line_end - p));
        if (nul) line_end = nul;
        size_t len = (size_t)(line_end - p);
        if (len > klen && memcmp(p, key, klen) == 0 && p[klen] == '=') {
            size_t vlen = len - klen - 1;
            if (vlen + 1 > cap) return -1;
            memcpy(out, p + klen + 1, vlen);
            out[vlen] = '\0';
            return 0;
        }
        if (!nl) break;
        p = nl + 1;
    }
    return -1;
}

int64_t pinf_workspace_floats(const PinfModel *m) { return m ? m->workspace : 0; }

size_t pinf_model_sizeof(void) { return sizeof(PinfModel); }

/* ---- kernels ------------------------------------------------------------------------------------------ */
void pinf_linear(const float *x, const float *w, const float *b, float *y, int64_t rows, int64_t in,
                 int64_t out) {
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * in;
        float *yr = y + r * out;
        for (int64_t o = 0; o < out; o++) {
            const float *wo = w + o * in;
            /* four partial sums: independent chains the compiler can vectorize */
            float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
            int64_t i = 0;
            for (; i + 4 <= in; i += 4) {
                s0 += wo[i] * xr[i];
                s1 += wo[i + 1] * xr[i + 1];
                s2 += wo[i + 2] * xr[i + 2];
                s3 += wo[i + 3] * xr[i + 3];
            }
            for (; i < in; i++) s0 += wo[i] * xr[i];
            yr[o] = (s0 + s1) + (s2 + s3) + (b ? b[o] : 0.0f);
        }
    }
}

void pinf_relu(float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void pinf_gelu(float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
}

void pinf_tanh(float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] = tanhf(x[i]);
}

static float sigmoidf(float v) { return 1.0f / (1.0f + expf(-v)); }

void pinf_sigmoid(float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] = sigmoidf(x[i]);
}

void pinf_layernorm(const float *x, const float *gamma, const float *beta, float *y, int64_t rows,
                    int64_t dim, float eps) {
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * dim;
        float *yr = y + r * dim;
        double mean = 0.0, var = 0.0;
        for (int64_t i = 0; i < dim; i++) mean += xr[i];
        mean /= (double)dim;
        for (int64_t i = 0; i < dim; i++) var += ((double)xr[i] - mean) * ((double)xr[i] - mean);
        var /= (double)dim; /* biased, as torch's layer_norm */
        float inv = (float)(1.0 / sqrt(var + (double)eps));
        for (int64_t i = 0; i < dim; i++) yr[i] = ((float)((double)xr[i] - mean) * inv) * gamma[i] + beta[i];
    }
}

void pinf_conv2d(const float *x, const float *w, const float *b, float *y, int in_c, int in_h, int in_w,
                 int out_c, int kh, int kw, int stride_h, int stride_w, int pad_h, int pad_w) {
    int out_h = (in_h + 2 * pad_h - kh) / stride_h + 1;
    int out_w = (in_w + 2 * pad_w - kw) / stride_w + 1;
    /* Weight-stationary: each kernel tap scales a strip of an input row into a strip of an output row, an
     * inner loop without a reduction chain (the compiler vectorizes it for stride 1). Padding becomes the
     * range of output columns whose input column is inside the image. */
    for (int oc = 0; oc < out_c; oc++) {
        float *yo = y + (size_t)oc * out_h * out_w;
        for (int i = 0; i < out_h * out_w; i++) yo[i] = b ? b[oc] : 0.0f;
        for (int ic = 0; ic < in_c; ic++) {
            const float *xc = x + (size_t)ic * in_h * in_w;
            const float *wk = w + ((size_t)oc * in_c + ic) * kh * kw;
            for (int ky = 0; ky < kh; ky++) {
                for (int kx = 0; kx < kw; kx++) {
                    const float wv = wk[ky * kw + kx];
                    int shift = kx - pad_w; /* ix = ox * stride_w + shift */
                    int lo = shift >= 0 ? 0 : (-shift + stride_w - 1) / stride_w;
                    int hi = in_w - 1 - shift < 0 ? 0 : (in_w - 1 - shift) / stride_w + 1;
                    if (hi > out_w) hi = out_w;
                    for (int oy = 0; oy < out_h; oy++) {
                        int iy = oy * stride_h - pad_h + ky;
                        if (iy < 0 || iy >= in_h) continue;
                        const float *xr = xc + (size_t)iy * in_w + shift;
                        float *yr = yo + (size_t)oy * out_w;
                        if (stride_w == 1) {
                            for (int ox = lo; ox < hi; ox++) yr[ox] += wv * xr[ox];
                        } else {
                            for (int ox = lo; ox < hi; ox++) yr[ox] += wv * xr[(size_t)ox * stride_w];
                        }
                    }
                }
            }
        }
    }
}

/* The same convolution through unfolded patches: patches[pos][in_c][kh][kw] (zero where the padding is), then
 * one dot product of length in_c*kh*kw per output, with pinf_linear's four independent sums. Several times
 * faster than the direct loop on the small images of RL policies; needs out_h*out_w*in_c*kh*kw floats. */
static void conv_patches(const float *x, const float *w, const float *b, float *y, float *patches, int in_c,
                         int in_h, int in_w, int out_c, int kh, int kw, int stride_h, int stride_w, int pad_h,
                         int pad_w) {
    int out_h = (in_h + 2 * pad_h - kh) / stride_h + 1;
    int out_w = (in_w + 2 * pad_w - kw) / stride_w + 1;
    int64_t k = (int64_t)in_c * kh * kw, positions = (int64_t)out_h * out_w;
    for (int oy = 0; oy < out_h; oy++)
        for (int ox = 0; ox < out_w; ox++) {
            float *patch = patches + ((int64_t)oy * out_w + ox) * k;
            for (int ic = 0; ic < in_c; ic++)
                for (int ky = 0; ky < kh; ky++) {
                    int iy = oy * stride_h - pad_h + ky;
                    for (int kx = 0; kx < kw; kx++) {
                        int ix = ox * stride_w - pad_w + kx;
                        int inside = iy >= 0 && iy < in_h && ix >= 0 && ix < in_w;
                        *patch++ = inside ? x[((size_t)ic * in_h + iy) * in_w + ix] : 0.0f;
                    }
                }
        }
    /* y[oc][pos] = W[oc] . patches[pos] + b[oc]: pinf_linear gives [pos][oc], so one row of W at a time. */
    for (int oc = 0; oc < out_c; oc++)
        pinf_linear(patches, w + (int64_t)oc * k, b ? b + oc : NULL, y + (int64_t)oc * positions, positions, k, 1);
}

void pinf_hwc_to_chw(const float *x, float *y, int h, int w, int c) {
    for (int i = 0; i < h; i++)
        for (int j = 0; j < w; j++)
            for (int k = 0; k < c; k++) y[((size_t)k * h + i) * w + j] = x[((size_t)i * w + j) * c + k];
}

void pinf_set_max(const float *x, float *y, int64_t items, int64_t dim) {
    for (int64_t d = 0; d < dim; d++) y[d] = x[d];
    for (int64_t i = 1; i < items; i++)
        for (int64_t d = 0; d < dim; d++) {
            float v = x[i * dim + d];
            if (v > y[d] || v != v) y[d] = v; /* NaN propagates, as torch.max does */
        }
}

int pinf_embedding(const int32_t *idx, const float *table, float *y, int64_t count, int64_t num, int64_t dim) {
    for (int64_t i = 0; i < count; i++) {
        if (idx[i] < 0 || idx[i] >= num) return -1;
        memcpy(y + i * dim, table + (int64_t)idx[i] * dim, (size_t)dim * sizeof(float));
    }
    return 0;
}

void pinf_lstm_cell(const float *x, float *h, float *c, const float *w_ih, const float *w_hh, const float *b_ih,
                    const float *b_hh, float *gates, int64_t in, int64_t hidden) {
    int64_t h4 = 4 * hidden;
    pinf_linear(x, w_ih, b_ih, gates, 1, in, h4);
    float *recurrent = gates + h4; /* W_hh h + b_hh, in the scratch's second half */
    pinf_linear(h, w_hh, b_hh, recurrent, 1, hidden, h4);
    for (int64_t g = 0; g < h4; g++) gates[g] += recurrent[g];
    for (int64_t j = 0; j < hidden; j++) {
        float i = sigmoidf(gates[j]);
        float f = sigmoidf(gates[hidden + j]);
        float g = tanhf(gates[2 * hidden + j]);
        float o = sigmoidf(gates[3 * hidden + j]);
        c[j] = f * c[j] + i * g;
        h[j] = o * tanhf(c[j]);
    }
}

/* ---- the model ------------------------------------------------------------------------------------------ */
static float half_to_float(uint16_t h) {
    int sign = h >> 15, exponent = (h >> 10) & 31, mantissa = h & 1023;
    float v;
    if (exponent == 0) v = ldexpf((float)mantissa, -24); /* zero and subnormals */
    else if (exponent == 31) v = mantissa ? NAN : INFINITY;
    else v = ldexpf((float)(mantissa | 1024), exponent - 25);
    return sign ? -v : v;
}

/* Element i of a leaf, from observation bytes held as floats 0..255. */
static double leaf_value(const float *x, const int32_t *leaf, int64_t i) {
    int size = leaf_size(leaf[1]);
    uint64_t bits = 0;
    for (int b = 0; b < size; b++) bits |= (uint64_t)(uint8_t)x[leaf[0] + i * size + b] << (8 * b);
    switch (leaf[1]) {
    case PINF_LEAF_U8: return (double)(uint8_t)bits;
    case PINF_LEAF_I8: return (double)(int8_t)(uint8_t)bits;
    case PINF_LEAF_I16: return (double)(int16_t)(uint16_t)bits;
    case PINF_LEAF_I32: return (double)(int32_t)(uint32_t)bits;
    case PINF_LEAF_I64: return (double)(int64_t)bits;
    case PINF_LEAF_F16: return (double)half_to_float((uint16_t)bits);
    case PINF_LEAF_F32: {
        uint32_t u = (uint32_t)bits;
        float f;
        memcpy(&f, &u, sizeof f);
        return (double)f;
    }
    case PINF_LEAF_F64: {
        double d;
        memcpy(&d, &bits, sizeof d);
        return d;
    }
    default: return bits ? 1.0 : 0.0; /* bool */
    }
}

static int run_layer(const PinfModel *m, const PinfLayer *l, float **cur, float **nxt, float *scratch, float *state,
                     int64_t row, char *err, size_t errlen) {
    const int32_t *p = l->p;
    float *x = *cur, *y = *nxt;
    switch (l->op) {
    case PINF_OP_NORMALIZE:
        for (int64_t i = 0; i < l->in; i++) x[i] = (x[i] - l->w[i]) / l->w[l->in + i];
        return 0;
    case PINF_OP_SCALE:
        for (int64_t i = 0; i < l->in; i++) x[i] *= l->w[0];
        return 0;
    case PINF_OP_RELU: pinf_relu(x, l->in); return 0;
    case PINF_OP_GELU: pinf_gelu(x, l->in); return 0;
    case PINF_OP_TANH: pinf_tanh(x, l->in); return 0;
    case PINF_OP_SIGMOID: pinf_sigmoid(x, l->in); return 0;
    case PINF_OP_LINEAR:
        pinf_linear(x, l->w, l->w + (int64_t)p[0] * p[1], y, p[2], p[0], p[1]);
        break;
    case PINF_OP_LAYERNORM: {
        float eps;
        memcpy(&eps, &p[2], sizeof eps);
        pinf_layernorm(x, l->w, l->w + p[1], y, p[0], p[1], eps);
        break;
    }
    case PINF_OP_CONV2D:
        conv_patches(x, l->w, l->w + (int64_t)p[3] * p[0] * p[4] * p[5], y, scratch, p[0], p[1], p[2], p[3], p[4],
                     p[5], p[6], p[7], p[8], p[9]);
        break;
    case PINF_OP_HWC_TO_CHW: pinf_hwc_to_chw(x, y, p[0], p[1], p[2]); break;
    case PINF_OP_SET_MAX: pinf_set_max(x, y, p[0], p[1]); break;
    case PINF_OP_EMBEDDING:
        for (int64_t i = 0; i < p[0]; i++) {
            float v = x[i];
            if (!(v >= 0.0f && v < (float)p[1]) || v != floorf(v))
                return fail(err, errlen, "row %lld: embedding index %g at position %lld is not a whole number in "
                            "[0, %d)", (long long)row, (double)v, (long long)i, p[1]);
            memcpy(y + i * p[2], l->w + (int64_t)v * p[2], (size_t)p[2] * sizeof(float));
        }
        break;
    case PINF_OP_UNPACK: {
        int64_t at = 0;
        for (int i = 0; i < p[0]; i++) {
            const int32_t *leaf = m->ints + p[2] + 5 * i;
            if (leaf[3] > 0) { /* a category, as torch's one_hot: the class must exist */
                double v = leaf_value(x, leaf, 0) - leaf[4];
                if (!(v >= 0.0 && v < leaf[3]) || v != floor(v))
                    return fail(err, errlen, "row %lld: leaf %d holds class %g, outside [0, %d) after start %d",
                                (long long)row, i, v, leaf[3], leaf[4]);
                memset(y + at, 0, (size_t)leaf[3] * sizeof(float));
                y[at + (int64_t)v] = 1.0f;
                at += leaf[3];
            } else {
                for (int64_t e = 0; e < leaf[2]; e++) y[at + e] = (float)leaf_value(x, leaf, e);
                at += leaf[2];
            }
        }
        break;
    }
    case PINF_OP_LSTM: {
        int64_t in = p[0], hidden = p[1];
        const float *w_ih = l->w, *w_hh = w_ih + 4 * hidden * in;
        const float *b_ih = w_hh + 4 * hidden * hidden, *b_hh = b_ih + 4 * hidden;
        float *h = state + l->state_at, *c = h + hidden;
        pinf_lstm_cell(x, h, c, w_ih, w_hh, b_ih, b_hh, scratch, in, hidden);
        memcpy(y, h, (size_t)hidden * sizeof(float));
        break;
    }
    default: return fail(err, errlen, "unknown op %d", l->op);
    }
    *cur = y;
    *nxt = x;
    return 0;
}

int pinf_forward(const PinfModel *m, const void *obs, int64_t batch, float *state, float *out, float *workspace,
                 int64_t workspace_floats, char *err, size_t errlen) {
    if (m == NULL || m->num_layers == 0) return fail(err, errlen, "pinf_forward: no model loaded");
    if (batch < 0) return fail(err, errlen, "pinf_forward: negative batch %lld", (long long)batch);
    if (batch == 0) return 0;
    if (obs == NULL || out == NULL || workspace == NULL) return fail(err, errlen, "pinf_forward: NULL buffer");
    if (m->state_size > 0 && state == NULL)
        return fail(err, errlen, "pinf_forward: this policy is recurrent and needs a state buffer of %lld floats "
                    "per row", (long long)m->state_size);
    if (workspace_floats < m->workspace)
        return fail(err, errlen, "pinf_forward: workspace of %lld floats, this policy needs %lld",
                    (long long)workspace_floats, (long long)m->workspace);
    /* two activation buffers of max_width floats (swapped layer to layer), then the LSTM gates */
    float *a = workspace, *c = workspace + m->max_width, *scratch = workspace + 2 * m->max_width;
    for (int64_t r = 0; r < batch; r++) {
        float *cur = a, *nxt = c;
        if (m->obs_dtype == PINF_OBS_U8) {
            const uint8_t *o = (const uint8_t *)obs + r * m->obs_size;
            for (int64_t i = 0; i < m->obs_size; i++) cur[i] = (float)o[i];
        } else {
            memcpy(cur, (const float *)obs + r * m->obs_size, (size_t)m->obs_size * sizeof(float));
        }
        float *row_state = m->state_size ? state + r * m->state_size : NULL;
        for (int k = 0; k < m->num_layers - 1; k++)
            if (run_layer(m, &m->layers[k], &cur, &nxt, scratch, row_state, r, err, errlen) != 0) return -1;
        memcpy(out + r * m->out_size, cur, (size_t)m->out_size * sizeof(float));
    }
    return 0;
}

/* ---- actions ---------------------------------------------------------------------------------------------- */
void pinf_rng_seed(PinfRng *r, uint64_t seed) { r->s = seed; }

uint64_t pinf_rng_u64(PinfRng *r) {
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double pinf_rng_uniform(PinfRng *r) { return (double)(pinf_rng_u64(r) >> 11) * 0x1.0p-53; }

int pinf_argmax(const float *logits, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (logits[i] > logits[best]) best = i;
    return best;
}

int pinf_sample_logits(const float *logits, int n, PinfRng *r) {
    float top = logits[pinf_argmax(logits, n)];
    double total = 0.0;
    for (int i = 0; i < n; i++) total += exp((double)logits[i] - (double)top);
    double u = pinf_rng_uniform(r) * total;
    double acc = 0.0;
    int last = 0;
    for (int i = 0; i < n; i++) {
        double p = exp((double)logits[i] - (double)top);
        if (p > 0.0) last = i;
        acc += p;
        if (u < acc) return i;
    }
    return last; /* u landed on the rounding error of the sum */
}

int pinf_act(const PinfModel *m, const float *out, int64_t batch, int greedy, PinfRng *rng, void *actions,
             char *err, size_t errlen) {
    if (m == NULL || m->num_layers == 0) return fail(err, errlen, "pinf_act: no model loaded");
    if (batch < 0 || (batch > 0 && (out == NULL || actions == NULL)))
        return fail(err, errlen, "pinf_act: NULL buffer or negative batch");
    if (!greedy && rng == NULL) return fail(err, errlen, "pinf_act: sampling needs an rng (or greedy = 1)");
    for (int64_t r = 0; r < batch; r++) {
        const float *row = out + r * m->out_size;
        if (m->act_kind == PINF_ACT_CATEGORICAL) {
            int32_t *a = (int32_t *)actions + r * m->act_dims;
            int64_t at = 0;
            for (int d = 0; d < m->act_dims; d++) {
                int n = m->act_n[d];
                int choice = greedy ? pinf_argmax(row + at, n) : pinf_sample_logits(row + at, n, rng);
                a[d] = (int32_t)choice + m->act_start[d];
                at += n;
            }
        } else {
            float *a = (float *)actions + r * m->act_dims;
            for (int d = 0; d < m->act_dims; d++) {
                float noise = 0.0f;
                if (!greedy) { /* Box-Muller */
                    double u1 = 1.0 - pinf_rng_uniform(rng), u2 = pinf_rng_uniform(rng);
                    noise = (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
                }
                a[d] = row[d] + expf(m->log_std[d]) * noise;
            }
        }
    }
    return 0;
}
