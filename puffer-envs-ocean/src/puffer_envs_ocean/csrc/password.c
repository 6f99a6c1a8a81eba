/* password: a memory test that only a policy with memory solves.
 *
 * At the first step of an episode the observation shows a random binary code of `length` bits; then come
 * `delay` blank steps; then `length` answer steps, in which the agent types bit j of the code at answer step j.
 * After the last answer: reward 1 and terminal when every bit was right, reward 0 and terminal otherwise.
 * A memoryless policy sees identical observations for every code during the answers, so it succeeds with
 * probability 2^-length at best; a recurrent one can always succeed.
 *
 * Observation (uint8, length + 3 values):
 *   [0, length)  the code (1 = bit 0, 2 = bit 1) at the first step, 0 afterwards
 *   length       1 during the answer steps, else 0
 *   length + 1   which bit to type now (0..length-1) during the answer steps, else 0
 *   length + 2   1 during the blank delay steps, else 0
 * Actions: Discrete(2), the bit; ignored outside the answer steps.
 */
#include "ocean.h"

#define PW_MAX_LEN 32

enum { PW_P_LENGTH = 0, PW_P_DELAY, PW_NUM_PARAMS };
static const OceanParam PW_PARAMS[PW_NUM_PARAMS] = {
    {"length", 4, 1, PW_MAX_LEN, 1, "bits in the code"},
    {"delay", 4, 0, 10000, 1, "blank steps between seeing the code and typing it"},
};

static const char *const PW_LOG[] = {"episode_return", "episode_length", "score", "bits_correct"};
#define PW_NUM_LOG 4

typedef struct Password {
    OceanHeader h; /* must be first */
    int length, delay;
    int tick;    /* steps taken in this episode */
    int correct; /* bits typed right so far */
    uint8_t code[PW_MAX_LEN];
} Password;

static void pw_layout(const double *params, OceanLayout *out) {
    out->state_bytes = sizeof(Password);
    out->agents = 1;
    out->obs_ndim = 1;
    out->obs_shape[0] = (int)params[PW_P_LENGTH] + 3;
    out->render_width = 32 * ((int)params[PW_P_LENGTH] + 2);
    out->render_height = 64;
}

static void pw_init(void *env, const double *params) {
    Password *p = env;
    p->length = (int)params[PW_P_LENGTH];
    p->delay = (int)params[PW_P_DELAY];
}

/* Observation for the step about to be taken (tick = steps already taken). */
static void pw_write_obs(Password *p) {
    uint8_t *o = p->h.obs;
    memset(o, 0, (size_t)p->length + 3);
    int answer = p->tick - 1 - p->delay; /* index of the bit to type, when >= 0 */
    if (p->tick == 0) {
        for (int j = 0; j < p->length; j++) o[j] = (uint8_t)(1 + p->code[j]);
    } else if (answer >= 0) {
        o[p->length] = 1;
        o[p->length + 1] = (uint8_t)answer;
    } else {
        o[p->length + 2] = 1;
    }
}

static void pw_reset(void *env) {
    Password *p = env;
    uint64_t bits = ocean_rand_u64(&p->h.rng);
    for (int j = 0; j < p->length; j++) p->code[j] = (uint8_t)((bits >> j) & 1u);
    p->tick = 0;
    p->correct = 0;
    pw_write_obs(p);
}

static void pw_step(void *env) {
    Password *p = env;
    int answer = p->tick - 1 - p->delay;
    if (answer >= 0) p->correct += p->h.actions[0] == p->code[answer];
    p->tick++;
    if (answer == p->length - 1) {
        float reward = p->correct == p->length ? 1.0f : 0.0f;
        p->h.rewards[0] = reward;
        p->h.terminals[0] = 1;
        float values[PW_NUM_LOG] = {reward, (float)p->tick, reward, (float)p->correct / (float)p->length};
        ocean_log_episode(&p->h, values, PW_NUM_LOG);
        /* The final observation is the one after the last answer, as pw_write_obs would write it: the answer
         * flag with index `length`, one past the last bit (within obs_high = PW_MAX_LEN). The observation of
         * the last answer step differs from it only in that index (length - 1), so one store makes it. */
        ((uint8_t *)p->h.obs)[p->length + 1] = (uint8_t)p->length;
        ocean_keep_final_obs(&p->h, 0);
        pw_reset(p);
        return;
    }
    pw_write_obs(p);
}

static void pw_render(const void *env, uint8_t *rgb, int width, int height) {
    const Password *p = env;
    ocean_fill_rect(rgb, width, height, 0, 0, width, height, 30, 30, 40);
    int answer = p->tick - 1 - p->delay;
    for (int j = 0; j < p->length; j++) {
        int x = 32 * (j + 1) + 4;
        int shown = p->tick == 0;
        uint8_t r = shown ? (p->code[j] ? 250 : 60) : 90, g = shown ? (p->code[j] ? 210 : 120) : 90;
        ocean_fill_rect(rgb, width, height, x, 16, 24, 24, r, g, shown ? 60 : 90);
        if (answer == j) ocean_fill_rect(rgb, width, height, x, 44, 24, 4, 120, 220, 120);
    }
    if (answer < 0 && p->tick > 0) ocean_fill_rect(rgb, width, height, 8, 24, 12, 8, 200, 200, 200);
}

static int pw_render_ansi(const void *env, char *out, int cap) {
    const Password *p = env;
    int answer = p->tick - 1 - p->delay;
    int k = 0;
    for (int j = 0; j < p->length && k < cap - 1; j++) out[k++] = p->tick == 0 ? (char)('0' + p->code[j]) : '*';
    const char *tail = answer >= 0 ? " type bit " : (p->tick > 0 ? " wait" : " remember");
    for (const char *c = tail; *c && k < cap - 1; c++) out[k++] = *c;
    if (answer >= 0 && k < cap - 3) {
        k += answer >= 10 ? 2 : 1;
        if (answer >= 10) out[k - 2] = (char)('0' + answer / 10);
        out[k - 1] = (char)('0' + answer % 10);
    }
    out[k] = '\0';
    return k;
}

const OceanEnvDef ocean_env_password = {
    .abi_version = OCEAN_ABI_VERSION,
    .name = "password",
    .obs_dtype = OCEAN_OBS_U8,
    .obs_low = 0,
    .obs_high = PW_MAX_LEN,
    .act_dims = 0,
    .act_n = {2},
    .num_params = PW_NUM_PARAMS,
    .params = PW_PARAMS,
    .num_log = PW_NUM_LOG,
    .log_names = PW_LOG,
    .layout = pw_layout,
    .init = pw_init,
    .reset = pw_reset,
    .step = pw_step,
    .render = pw_render,
    .render_ansi = pw_render_ansi,
};
