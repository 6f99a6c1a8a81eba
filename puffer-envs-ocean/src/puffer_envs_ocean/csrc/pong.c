/* pong: PufferLib 3.0 ocean Pong. The agent plays the right paddle against a scripted left paddle.
 *
 * Geometry follows the reference: a width x height field with y growing upwards; the paddle and ball
 * positions are their lower edges (the ball's x its left edge). Paddles may stick out of the field by half
 * their height. Both paddles move at most paddle_speed per frame: the agent's by its action (0 stay,
 * 1 up, 2 down), the opponent's towards the ball's lower edge with its own centre.
 * A frame: move the paddles, then the ball; a ball past the top or bottom reverses vy (no clipping). At
 * x < 0 the ball bounces off the opponent's paddle if they overlap in y, else the agent wins the point
 * (+1). Past the right edge it bounces off the agent's paddle (reward 0.1; vy += increment * direction of
 * the agent's move, clamped, and a nearly flat ball gets vy = increment; the ball is clipped into the
 * field), else the opponent wins the point (-1). A point ends the step at once (the remaining frames
 * of the frameskip are dropped) and serves again: paddles centred, ball at width/5 going right at
 * ball_initial_speed_x with vy = 0 or -ball_initial_speed_y (even odds). The first to max_score points ends
 * the episode (terminal; there is no time limit).
 */
#include "ocean.h"

enum {
    PG_P_WIDTH = 0,
    PG_P_HEIGHT,
    PG_P_PADDLE_WIDTH,
    PG_P_PADDLE_HEIGHT,
    PG_P_BALL_WIDTH,
    PG_P_BALL_HEIGHT,
    PG_P_PADDLE_SPEED,
    PG_P_BALL_VX0,
    PG_P_BALL_VY0,
    PG_P_BALL_VY_INC,
    PG_P_BALL_VY_MAX,
    PG_P_MAX_SCORE,
    PG_P_FRAMESKIP,
    PG_NUM_PARAMS
};
/* Bounds keep the field wider and taller than the ball and every speed positive where it divides. */
static const OceanParam PG_PARAMS[PG_NUM_PARAMS] = {
    {"width", 500, 100, 2000, 0, "field width"},
    {"height", 640, 100, 2000, 0, "field height"},
    {"paddle_width", 20, 1, 100, 0, "paddle width (drawing only: the paddles sit outside the field)"},
    {"paddle_height", 70, 1, 1000, 0, "paddle height"},
    {"ball_width", 32, 1, 64, 0, "ball width"},
    {"ball_height", 32, 1, 64, 0, "ball height"},
    {"paddle_speed", 8, 0, 100, 0, "top speed of both paddles per frame"},
    {"ball_initial_speed_x", 10, 1, 100, 0, "horizontal ball speed (constant in magnitude)"},
    {"ball_initial_speed_y", 1, 0, 100, 0, "vertical ball speed at a serve (0 or downwards)"},
    {"ball_speed_y_increment", 3, 0, 100, 0, "vy change when the agent returns the ball while moving"},
    {"ball_max_speed_y", 13, 1, 100, 0, "largest |vy| after a return"},
    {"max_score", 21, 1, 1000, 1, "points that end the game"},
    {"frameskip", 8, 1, 16, 1, "frames per step, repeating the action"},
};

static const char *const PG_LOG[] = {"episode_return", "episode_length", "score", "perf"};
#define PG_NUM_LOG 4
#define PG_RENDER_SCALE 0.5f

/* action -> paddle direction (y grows upwards) */
static const float PG_DIR[3] = {0.0f, 1.0f, -1.0f};

typedef struct Pong {
    OceanHeader h; /* must be first */
    float agent_y, opp_y; /* lower edges of the right (agent) and left (opponent) paddles */
    float bx, by, vx, vy;
    int points, opp_points, tick;
    float episode_return;
    /* params */
    float width, height, paddle_w, paddle_h, ball_w, ball_h, speed, vx0, vy0, vy_inc, vy_max;
    int max_score, frameskip;
    /* derived once in init, so that a frame does no division */
    float paddle_lo, paddle_hi, half_paddle, bx_hi, by_hi;
    float inv_width, inv_height, inv_paddle_range, inv_vy_range, inv_max_score;
} Pong;

static void pg_layout(const double *params, OceanLayout *out) {
    out->state_bytes = sizeof(Pong);
    out->agents = 1;
    out->obs_ndim = 1;
    out->obs_shape[0] = 8;
    /* the reference's window: the field plus three paddle widths on each side, drawn at half size */
    out->render_width = (int)((params[PG_P_WIDTH] + 6.0 * params[PG_P_PADDLE_WIDTH]) * PG_RENDER_SCALE);
    out->render_height = (int)(params[PG_P_HEIGHT] * PG_RENDER_SCALE);
}

static void pg_init(void *env, const double *params) {
    Pong *p = env;
    p->width = (float)params[PG_P_WIDTH];
    p->height = (float)params[PG_P_HEIGHT];
    p->paddle_w = (float)params[PG_P_PADDLE_WIDTH];
    p->paddle_h = (float)params[PG_P_PADDLE_HEIGHT];
    p->ball_w = (float)params[PG_P_BALL_WIDTH];
    p->ball_h = (float)params[PG_P_BALL_HEIGHT];
    p->speed = (float)params[PG_P_PADDLE_SPEED];
    p->vx0 = (float)params[PG_P_BALL_VX0];
    p->vy0 = (float)params[PG_P_BALL_VY0];
    p->vy_inc = (float)params[PG_P_BALL_VY_INC];
    p->vy_max = (float)params[PG_P_BALL_VY_MAX];
    p->max_score = (int)params[PG_P_MAX_SCORE];
    p->frameskip = (int)params[PG_P_FRAMESKIP];
    p->half_paddle = p->paddle_h / 2;
    p->paddle_lo = -p->half_paddle;
    p->paddle_hi = p->height - p->half_paddle;
    p->bx_hi = p->width - p->ball_w;
    p->by_hi = p->height - p->ball_h;
    p->inv_width = 1.0f / p->width;
    p->inv_height = 1.0f / p->height;
    p->inv_paddle_range = 1.0f / (p->paddle_hi - p->paddle_lo);
    p->inv_vy_range = 1.0f / (2.0f * p->vy_max);
    p->inv_max_score = 1.0f / (float)p->max_score;
}

/* min(max(v, lo), hi): the reference's clipping order (hi wins when lo > hi). Plain comparisons, not
 * fminf/fmaxf: those are NaN-aware libm calls without -ffast-math, and no value here is ever NaN. */
static inline float pg_clip(float v, float lo, float hi) {
    float t = v > lo ? v : lo;
    return t < hi ? t : hi;
}

/* [0, 1] clamp for the observation: the ball may be a few units past an edge for one frame */
static inline float pg_unit(float v) { return pg_clip(v, 0.0f, 1.0f); }

static void pg_write_obs(Pong *p) {
    float *o = p->h.obs;
    o[0] = pg_unit((p->opp_y - p->paddle_lo) * p->inv_paddle_range);
    o[1] = pg_unit((p->agent_y - p->paddle_lo) * p->inv_paddle_range);
    o[2] = pg_unit(p->bx * p->inv_width);
    o[3] = pg_unit(p->by * p->inv_height);
    /* |vx| never changes, so (vx + vx0) / (2 vx0) is exactly 0 or 1 */
    o[4] = p->vx > 0.0f ? 1.0f : 0.0f;
    o[5] = pg_unit((p->vy + p->vy_max) * p->inv_vy_range);
    o[6] = (float)p->opp_points * p->inv_max_score;
    o[7] = (float)p->points * p->inv_max_score;
}

static void pg_serve(Pong *p) {
    p->agent_y = p->opp_y = p->height / 2 - p->paddle_h / 2;
    p->bx = p->width / 5;
    p->by = p->height / 2 - p->ball_h / 2;
    p->vx = p->vx0;
    p->vy = ocean_rand_below(&p->h.rng, 2) ? 0.0f : -p->vy0;
}

static void pg_reset(void *env) {
    Pong *p = env;
    p->points = p->opp_points = p->tick = 0;
    p->episode_return = 0.0f;
    pg_serve(p);
    pg_write_obs(p);
}

/* One frame with the agent's paddle moving in direction dir. Returns +1 when the agent wins the point,
 * -1 when the opponent does, else 0; *reward is set to 0.1 by a return (a later point overrides it). */
static inline int pg_frame(Pong *p, float dir, float *reward) {
    p->agent_y = pg_clip(p->agent_y + p->speed * dir, p->paddle_lo, p->paddle_hi);
    float chase = pg_clip(p->by - (p->opp_y + p->half_paddle), -p->speed, p->speed);
    p->opp_y = pg_clip(p->opp_y + chase, p->paddle_lo, p->paddle_hi);

    p->bx += p->vx;
    p->by += p->vy;
    if (p->by < 0.0f || p->by + p->ball_h > p->height) p->vy = -p->vy;

    if (p->bx < 0.0f) {
        if (!(p->by + p->ball_h > p->opp_y && p->by < p->opp_y + p->paddle_h)) {
            *reward = 1.0f;
            return 1;
        }
        p->vx = -p->vx;
    }
    if (p->bx + p->ball_w > p->width) {
        if (!(p->by + p->ball_h > p->agent_y && p->by < p->agent_y + p->paddle_h)) {
            *reward = -1.0f;
            return -1;
        }
        p->vx = -p->vx;
        *reward = 0.1f;
        /* the agent's motion at the hit steers the ball; never send it back perfectly flat */
        p->vy = pg_clip(p->vy + p->vy_inc * dir, -p->vy_max, p->vy_max);
        if (fabsf(p->vy) < 0.01f) p->vy = p->vy_inc;
        p->bx = pg_clip(p->bx, 0.0f, p->bx_hi);
        p->by = pg_clip(p->by, 0.0f, p->by_hi);
    }
    return 0;
}

static void pg_step(void *env) {
    Pong *p = env;
    const float dir = PG_DIR[p->h.actions[0]];
    float reward = 0.0f;
    int point = 0;
    for (int f = 0; f < p->frameskip && point == 0; f++) point = pg_frame(p, dir, &reward);
    p->tick++;
    p->h.rewards[0] = reward;
    p->episode_return += reward;
    if (point != 0) {
        if (point > 0) {
            p->points++;
        } else {
            p->opp_points++;
        }
        if (p->points >= p->max_score || p->opp_points >= p->max_score) {
            p->h.terminals[0] = 1;
            float values[PG_NUM_LOG] = {p->episode_return, (float)p->tick, (float)(p->points - p->opp_points),
                                        (float)p->points / (float)(p->points + p->opp_points)};
            ocean_log_episode(&p->h, values, PG_NUM_LOG);
            pg_write_obs(p); /* the deciding frame: ball past a paddle, winning score shown */
            ocean_keep_final_obs(&p->h, 0);
            pg_reset(p);
            return;
        }
        pg_serve(p);
    }
    pg_write_obs(p);
}

static void pg_render(const void *env, uint8_t *rgb, int width, int height) {
    const Pong *p = env;
    const float s = PG_RENDER_SCALE;
    const float pad = 3.0f * p->paddle_w; /* room left and right of the field for the paddles */
    ocean_fill_rect(rgb, width, height, 0, 0, width, height, 8, 22, 30);
    ocean_fill_rect(rgb, width, height, (int)(pad * s), 0, (int)(p->width * s), height, 14, 40, 48);
    int pw = (int)(p->paddle_w * s) > 0 ? (int)(p->paddle_w * s) : 1;
    int ph = (int)(p->paddle_h * s) > 0 ? (int)(p->paddle_h * s) : 1;
    /* screen rows grow downwards, the game's y upwards */
    ocean_fill_rect(rgb, width, height, (int)((pad - p->paddle_w) * s),
                    (int)((p->height - p->opp_y - p->paddle_h) * s), pw, ph, 240, 90, 70);
    ocean_fill_rect(rgb, width, height, (int)((pad + p->width) * s),
                    (int)((p->height - p->agent_y - p->paddle_h) * s), pw, ph, 80, 220, 240);
    int bw = (int)(p->ball_w * s) > 0 ? (int)(p->ball_w * s) : 1;
    int bh = (int)(p->ball_h * s) > 0 ? (int)(p->ball_h * s) : 1;
    ocean_fill_rect(rgb, width, height, (int)((pad + p->bx) * s), (int)((p->height - p->by - p->ball_h) * s), bw,
                    bh, 250, 250, 250);
    /* scores as pips along the top, the opponent's from the left, the agent's from the right */
    for (int i = 0; i < p->opp_points && i < 40; i++) ocean_fill_rect(rgb, width, height, 4 + i * 5, 3, 3, 6, 240, 90, 70);
    for (int i = 0; i < p->points && i < 40; i++)
        ocean_fill_rect(rgb, width, height, width - 7 - i * 5, 3, 3, 6, 80, 220, 240);
}

const OceanEnvDef ocean_env_pong = {
    .abi_version = OCEAN_ABI_VERSION,
    .name = "pong",
    .obs_dtype = OCEAN_OBS_F32,
    .obs_low = 0.0,
    .obs_high = 1.0,
    .act_dims = 0,
    .act_n = {3},
    .num_params = PG_NUM_PARAMS,
    .params = PG_PARAMS,
    .num_log = PG_NUM_LOG,
    .log_names = PG_LOG,
    .layout = pg_layout,
    .init = pg_init,
    .reset = pg_reset,
    .step = pg_step,
    .render = pg_render,
    .render_ansi = NULL,
};
