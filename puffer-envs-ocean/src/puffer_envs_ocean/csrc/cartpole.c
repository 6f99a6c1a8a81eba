/* cartpole: gymnasium CartPole-v1, same constants, Euler integration, limits and termination.
 *
 * State (x, x_dot, theta, theta_dot) in double precision like gymnasium (its state is a float64 array), each
 * step reproducing gymnasium's float64 result to about an ulp; the observation is the float32 cast of it.
 * Actions: 0 push left, 1 push right. Reward 1 every step (also the terminating one). Terminal when
 * |x| > 2.4 or |theta| > 12 degrees; truncation after max_steps (500). A step that both terminates and
 * reaches the limit is reported as terminal only. Reset: each state variable uniform in [-0.05, 0.05).
 */
#include "ocean.h"

#define CP_GRAVITY 9.8
#define CP_MASSCART 1.0
#define CP_MASSPOLE 0.1
#define CP_TOTAL_MASS (CP_MASSPOLE + CP_MASSCART)
#define CP_LENGTH 0.5 /* half the pole's length */
#define CP_POLEMASS_LENGTH (CP_MASSPOLE * CP_LENGTH)
#define CP_FORCE_MAG 10.0
#define CP_TAU 0.02
#define CP_THETA_THRESHOLD (12.0 * 2.0 * 3.14159265358979323846 / 360.0)
#define CP_X_THRESHOLD 2.4

enum { CP_P_MAX_STEPS = 0, CP_NUM_PARAMS };
static const OceanParam CP_PARAMS[CP_NUM_PARAMS] = {
    {"max_steps", 500, 1, 1000000, 1, "steps before truncation (CartPole-v1: 500)"},
};

static const char *const CP_LOG[] = {"episode_return", "episode_length", "score", "out_of_bounds"};
#define CP_NUM_LOG 4
#define CP_RENDER_W 300
#define CP_RENDER_H 200

typedef struct Cartpole {
    OceanHeader h; /* must be first */
    double x, x_dot, theta, theta_dot;
    int tick, max_steps;
    float episode_return; /* the layout up to here is mirrored by cartpole.py's STATE_CDEF */
    /* sin and cos of `trig_theta`, worked out at the end of the previous step (see cp_step). They are used
     * only while trig_theta == theta: a state set from outside (tests) is recomputed. */
    double trig_theta, sin_theta, cos_theta;
} Cartpole;

static void cp_layout(const double *params, OceanLayout *out) {
    (void)params;
    out->state_bytes = sizeof(Cartpole);
    out->agents = 1;
    out->obs_ndim = 1;
    out->obs_shape[0] = 4;
    out->render_width = CP_RENDER_W;
    out->render_height = CP_RENDER_H;
}

static void cp_init(void *env, const double *params) {
    Cartpole *c = env;
    c->max_steps = (int)params[CP_P_MAX_STEPS];
}

static void cp_write_obs(Cartpole *c) {
    float *obs = c->h.obs;
    obs[0] = (float)c->x;
    obs[1] = (float)c->x_dot;
    obs[2] = (float)c->theta;
    obs[3] = (float)c->theta_dot;
}

/* sin and cos of the angles a running episode has: |theta| <= 12 degrees (0.21 rad) after every step that
 * does not end the episode. Below 0.25 rad, Taylor series to x^13 / x^14 are exact to far below an ulp (the
 * next terms are < 3e-21 relative), and cheaper than libm's sincos, which dominated the step. Larger angles
 * (a state set by hand) take libm's path. */
static inline void cp_sincos(double x, double *s, double *c) {
    if (fabs(x) > 0.25) {
        *s = sin(x);
        *c = cos(x);
        return;
    }
    double x2 = x * x;
    *s = x * (1.0 + x2 * (-1.0 / 6 + x2 * (1.0 / 120 + x2 * (-1.0 / 5040 + x2 * (1.0 / 362880 +
         x2 * (-1.0 / 39916800 + x2 * (1.0 / 6227020800.0)))))));
    *c = 1.0 + x2 * (-1.0 / 2 + x2 * (1.0 / 24 + x2 * (-1.0 / 720 + x2 * (1.0 / 40320 +
         x2 * (-1.0 / 3628800 + x2 * (1.0 / 479001600 + x2 * (-1.0 / 87178291200.0)))))));
}

static void cp_set_trig(Cartpole *c, double theta) {
    c->trig_theta = theta;
    cp_sincos(theta, &c->sin_theta, &c->cos_theta);
}

static double cp_uniform(OceanRng *r) { return -0.05 + 0.1 * ocean_rand_double(r); }

static void cp_reset(void *env) {
    Cartpole *c = env;
    c->x = cp_uniform(&c->h.rng);
    c->x_dot = cp_uniform(&c->h.rng);
    c->theta = cp_uniform(&c->h.rng);
    c->theta_dot = cp_uniform(&c->h.rng);
    c->tick = 0;
    c->episode_return = 0.0f;
    cp_set_trig(c, c->theta);
    cp_write_obs(c);
}

static void cp_step(void *env) {
    static const double FORCE[2] = {-CP_FORCE_MAG, CP_FORCE_MAG};
    /* gymnasium divides by the total mass; multiplying by its reciprocal is faster and differs from it by at
     * most an ulp on some steps, far inside what the tests hold us to (1e-12 relative per step). */
    const double inv_total_mass = 1.0 / CP_TOTAL_MASS;
    Cartpole *c = env;
    double x = c->x, x_dot = c->x_dot, theta = c->theta, theta_dot = c->theta_dot;
    if (theta != c->trig_theta) cp_set_trig(c, theta); /* only after a state was set from outside */
    double sintheta = c->sin_theta, costheta = c->cos_theta;
    double force = FORCE[c->h.actions[0]];
    double temp = (force + CP_POLEMASS_LENGTH * theta_dot * theta_dot * sintheta) * inv_total_mass;
    double thetaacc = (CP_GRAVITY * sintheta - costheta * temp) /
                      (CP_LENGTH * (4.0 / 3.0 - CP_MASSPOLE * costheta * costheta * inv_total_mass));
    double xacc = temp - CP_POLEMASS_LENGTH * thetaacc * costheta * inv_total_mass;
    /* Euler, in gymnasium's order: positions move by the old velocities. */
    x = x + CP_TAU * x_dot;
    x_dot = x_dot + CP_TAU * xacc;
    theta = theta + CP_TAU * theta_dot;
    theta_dot = theta_dot + CP_TAU * thetaacc;
    c->x = x;
    c->x_dot = x_dot;
    c->theta = theta;
    c->theta_dot = theta_dot;
    c->tick++;
    c->h.rewards[0] = 1.0f;
    c->episode_return += 1.0f;
    /* One branch for both limits (NaN compares false either way, as in gymnasium). */
    int out_of_bounds = fabs(x) > CP_X_THRESHOLD;
    int terminal = out_of_bounds | (fabs(theta) > CP_THETA_THRESHOLD);
    if (terminal | (c->tick >= c->max_steps)) {
        c->h.terminals[0] = (uint8_t)terminal;
        c->h.truncations[0] = (uint8_t)!terminal; /* terminal wins when both happen */
        float ret = c->episode_return;
        float values[CP_NUM_LOG] = {ret, (float)c->tick, ret, (float)out_of_bounds};
        ocean_log_episode(&c->h, values, CP_NUM_LOG);
        cp_write_obs(c); /* the state that ended the episode, e.g. for bootstrapping a truncation */
        ocean_keep_final_obs(&c->h, 0);
        cp_reset(c);
        return;
    }
    /* The next step's sin/cos: the new angle only needed the old state, so (the branch above being predicted)
     * this runs beside the dynamics above rather than at the head of the next step's dependency chain. */
    cp_set_trig(c, theta);
    float *obs = c->h.obs;
    obs[0] = (float)x;
    obs[1] = (float)x_dot;
    obs[2] = (float)theta;
    obs[3] = (float)theta_dot;
}

static void cp_render(const void *env, uint8_t *rgb, int width, int height) {
    const Cartpole *c = env;
    ocean_fill_rect(rgb, width, height, 0, 0, width, height, 245, 245, 245);
    double scale = width / (2.0 * CP_X_THRESHOLD * 1.2);
    int track_y = height * 3 / 4;
    ocean_fill_rect(rgb, width, height, 0, track_y, width, 1, 0, 0, 0);
    int cx = (int)lround(width / 2.0 + c->x * scale);
    int cart_w = 30, cart_h = 18;
    ocean_fill_rect(rgb, width, height, cx - cart_w / 2, track_y - cart_h / 2, cart_w, cart_h, 20, 20, 20);
    double pole_len = scale * 2.0 * CP_LENGTH;
    int py = track_y - cart_h / 4;
    for (int k = 0; k <= (int)pole_len; k++) {
        int x = (int)lround(cx + sin(c->theta) * k);
        int y = (int)lround(py - cos(c->theta) * k);
        ocean_fill_rect(rgb, width, height, x - 2, y - 2, 5, 5, 202, 152, 101);
    }
    ocean_fill_circle(rgb, width, height, cx, py, 3, 129, 132, 203);
}

const OceanEnvDef ocean_env_cartpole = {
    .abi_version = OCEAN_ABI_VERSION,
    .name = "cartpole",
    .obs_dtype = OCEAN_OBS_F32,
    .obs_low = -INFINITY,
    .obs_high = INFINITY,
    .act_dims = 0,
    .act_n = {2},
    .num_params = CP_NUM_PARAMS,
    .params = CP_PARAMS,
    .num_log = CP_NUM_LOG,
    .log_names = CP_LOG,
    .layout = cp_layout,
    .init = cp_init,
    .reset = cp_reset,
    .step = cp_step,
    .render = cp_render,
    .render_ansi = NULL,
};
