/* cartpole: gymnasium CartPole-v1, same constants, Euler integration, limits and termination.
 *
 * State (x, x_dot, theta, theta_dot) in double precision like gymnasium (its state is a float64 array), the
 * observation is the float32 cast of it. Actions: 0 push left, 1 push right. Reward 1 every step (also the
 * terminating one). Terminal when |x| > 2.4 or |theta| > 12 degrees; truncation after max_steps (500).
 * A step that both terminates and reaches the limit is reported as terminal only. Reset: each state variable
 * uniform in [-0.05, 0.05).
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
    float episode_return;
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

static double cp_uniform(OceanRng *r) { return -0.05 + 0.1 * ocean_rand_double(r); }

static void cp_reset(void *env) {
    Cartpole *c = env;
    c->x = cp_uniform(&c->h.rng);
    c->x_dot = cp_uniform(&c->h.rng);
    c->theta = cp_uniform(&c->h.rng);
    c->theta_dot = cp_uniform(&c->h.rng);
    c->tick = 0;
    c->episode_return = 0.0f;
    cp_write_obs(c);
}

/* sin and cos for the angles cartpole lives at. While the episode runs |theta| <= 12 degrees (0.21 rad), where
 * Taylor series to x^15 / x^16 are exact to below half an ulp (the next terms are < 1e-19 relative at 0.5 rad),
 * at a quarter of the cost of libm's sincos, which dominated the step. Larger angles (only reachable by setting
 * a state by hand) take libm's path. */
static inline void cp_sincos(double x, double *s, double *c) {
    if (fabs(x) > 0.5) {
        *s = sin(x);
        *c = cos(x);
        return;
    }
    double x2 = x * x;
    *s = x * (1.0 + x2 * (-1.0 / 6 + x2 * (1.0 / 120 + x2 * (-1.0 / 5040 + x2 * (1.0 / 362880 +
         x2 * (-1.0 / 39916800 + x2 * (1.0 / 6227020800.0 + x2 * (-1.0 / 1307674368000.0))))))));
    *c = 1.0 + x2 * (-1.0 / 2 + x2 * (1.0 / 24 + x2 * (-1.0 / 720 + x2 * (1.0 / 40320 + x2 * (-1.0 / 3628800 +
         x2 * (1.0 / 479001600 + x2 * (-1.0 / 87178291200.0 + x2 * (1.0 / 20922789888000.0))))))));
}

static void cp_step(void *env) {
    Cartpole *c = env;
    double force = c->h.actions[0] == 1 ? CP_FORCE_MAG : -CP_FORCE_MAG;
    double costheta, sintheta;
    cp_sincos(c->theta, &sintheta, &costheta);
    double temp = (force + CP_POLEMASS_LENGTH * c->theta_dot * c->theta_dot * sintheta) / CP_TOTAL_MASS;
    double thetaacc = (CP_GRAVITY * sintheta - costheta * temp) /
                      (CP_LENGTH * (4.0 / 3.0 - CP_MASSPOLE * costheta * costheta / CP_TOTAL_MASS));
    double xacc = temp - CP_POLEMASS_LENGTH * thetaacc * costheta / CP_TOTAL_MASS;
    /* Euler, in gymnasium's order: positions use the old velocities. */
    c->x = c->x + CP_TAU * c->x_dot;
    c->x_dot = c->x_dot + CP_TAU * xacc;
    c->theta = c->theta + CP_TAU * c->theta_dot;
    c->theta_dot = c->theta_dot + CP_TAU * thetaacc;
    c->tick++;
    c->h.rewards[0] = 1.0f;
    c->episode_return += 1.0f;
    int out_of_bounds = c->x < -CP_X_THRESHOLD || c->x > CP_X_THRESHOLD;
    int terminal = out_of_bounds || c->theta < -CP_THETA_THRESHOLD || c->theta > CP_THETA_THRESHOLD;
    int truncated = !terminal && c->tick >= c->max_steps;
    if (terminal || truncated) {
        c->h.terminals[0] = (uint8_t)terminal;
        c->h.truncations[0] = (uint8_t)truncated;
        float values[CP_NUM_LOG] = {c->episode_return, (float)c->tick, c->episode_return, (float)out_of_bounds};
        ocean_log_episode(&c->h, values, CP_NUM_LOG);
        cp_reset(c);
        return;
    }
    cp_write_obs(c);
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
