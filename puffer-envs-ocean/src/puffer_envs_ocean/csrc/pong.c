/* pong: the agent's paddle (right) against a scripted opponent (left) that tracks the ball at limited speed.
 *
 * Field: PONG_W x PONG_H units, y grows downwards. The ball bounces off the top and bottom walls and off
 * paddles; where it hits a paddle sets its new vertical speed, and every paddle hit speeds it up a little.
 * Actions: 0 stay, 1 up, 2 down. Reward +1 when the opponent misses, -1 when the agent misses; the first side
 * to reach max_score ends the episode (terminal); max_steps truncates it.
 * Observation (float32, 8 values in [-1, 1]): own paddle y, opponent paddle y, ball x, ball y, ball vx,
 * ball vy (each divided by the field size or the top speed), own score and opponent score / max_score.
 * frameskip > 1 repeats the action that many frames per step (rewards add up).
 */
#include "ocean.h"

#define PONG_W 160.0f
#define PONG_H 120.0f
#define PONG_PADDLE_H 24.0f
#define PONG_PADDLE_W 4.0f
#define PONG_PADDLE_SPEED 4.0f
#define PONG_BALL_R 2.0f
#define PONG_BALL_VX0 3.0f
#define PONG_BALL_VMAX 8.0f
#define PONG_AGENT_X (PONG_W - 8.0f)  /* inner face of the agent's paddle */
#define PONG_OPP_X 8.0f               /* inner face of the opponent's paddle */
#define PONG_SCALE 2

enum { PG_P_MAX_SCORE = 0, PG_P_OPP_SPEED, PG_P_FRAMESKIP, PG_P_MAX_STEPS, PG_NUM_PARAMS };
static const OceanParam PG_PARAMS[PG_NUM_PARAMS] = {
    {"max_score", 21, 1, 1000, 1, "points that end the game"},
    {"opponent_speed", 2.0, 0.0, 8.0, 0, "top speed of the scripted paddle (the agent's is 4)"},
    {"frameskip", 1, 1, 16, 1, "frames per step, repeating the action"},
    {"max_steps", 10000, 1, 10000000, 1, "steps before truncation"},
};

static const char *const PG_LOG[] = {"episode_return", "episode_length", "score", "opponent_score", "win", "hits"};
#define PG_NUM_LOG 6

typedef struct Pong {
    OceanHeader h; /* must be first */
    float paddle_y, opp_y; /* paddle centres */
    float bx, by, vx, vy;
    int score, opp_score, tick, hits;
    float episode_return;
    int max_score, frameskip, max_steps;
    float opp_speed;
    float inv_max_score;
} Pong;

static void pg_layout(const double *params, OceanLayout *out) {
    (void)params;
    out->state_bytes = sizeof(Pong);
    out->agents = 1;
    out->obs_ndim = 1;
    out->obs_shape[0] = 8;
    out->render_width = (int)PONG_W * PONG_SCALE;
    out->render_height = (int)PONG_H * PONG_SCALE;
}

static void pg_init(void *env, const double *params) {
    Pong *p = env;
    p->max_score = (int)params[PG_P_MAX_SCORE];
    p->opp_speed = (float)params[PG_P_OPP_SPEED];
    p->frameskip = (int)params[PG_P_FRAMESKIP];
    p->max_steps = (int)params[PG_P_MAX_STEPS];
    p->inv_max_score = 1.0f / (float)p->max_score;
}

/* Serve from the centre towards `direction` (+1: towards the agent) at a random angle. */
static void pg_serve(Pong *p, float direction) {
    p->bx = PONG_W * 0.5f;
    p->by = ocean_rand_uniform(&p->h.rng, PONG_H * 0.25f, PONG_H * 0.75f);
    p->vx = direction * PONG_BALL_VX0;
    p->vy = ocean_rand_uniform(&p->h.rng, -2.0f, 2.0f);
}

static void pg_write_obs(Pong *p) {
    float *o = p->h.obs;
    /* multiplications by reciprocals: a division per value would dominate the step */
    const float inv_h = 1.0f / PONG_H, inv_w = 1.0f / PONG_W, inv_v = 1.0f / PONG_BALL_VMAX;
    o[0] = p->paddle_y * inv_h;
    o[1] = p->opp_y * inv_h;
    o[2] = p->bx * inv_w;
    o[3] = p->by * inv_h;
    o[4] = p->vx * inv_v;
    o[5] = p->vy * inv_v;
    o[6] = (float)p->score * p->inv_max_score;
    o[7] = (float)p->opp_score * p->inv_max_score;
}

static void pg_reset(void *env) {
    Pong *p = env;
    p->paddle_y = PONG_H * 0.5f;
    p->opp_y = PONG_H * 0.5f;
    p->score = p->opp_score = p->tick = p->hits = 0;
    p->episode_return = 0.0f;
    pg_serve(p, ocean_rand_below(&p->h.rng, 2) ? 1.0f : -1.0f);
    pg_write_obs(p);
}

static float pg_move(float y, float dy) {
    return ocean_clampf(y + dy, PONG_PADDLE_H * 0.5f, PONG_H - PONG_PADDLE_H * 0.5f);
}

/* Bounce off a paddle centred at paddle_y: the offset from the centre sets the new vertical speed. */
static void pg_hit(Pong *p, float paddle_y, float face_x, float direction) {
    float offset = (p->by - paddle_y) / (PONG_PADDLE_H * 0.5f); /* -1..1 */
    float speed = fabsf(p->vx) * 1.05f;
    if (speed > PONG_BALL_VMAX * 0.75f) speed = PONG_BALL_VMAX * 0.75f;
    p->vx = direction * speed;
    p->vy = ocean_clampf(p->vy + 3.0f * offset, -PONG_BALL_VMAX, PONG_BALL_VMAX);
    p->bx = face_x + direction * PONG_BALL_R;
}

/* One frame; returns the reward of the frame. */
static float pg_frame(Pong *p, int action) {
    /* branch-free: random actions would make an if per action mispredict a third of the time */
    p->paddle_y = pg_move(p->paddle_y, PONG_PADDLE_SPEED * (float)((action == 2) - (action == 1)));
    float gap = p->by - p->opp_y;
    p->opp_y = pg_move(p->opp_y, ocean_clampf(gap, -p->opp_speed, p->opp_speed));

    p->bx += p->vx;
    p->by += p->vy;
    if (p->by < PONG_BALL_R) {
        p->by = 2.0f * PONG_BALL_R - p->by;
        p->vy = -p->vy;
    } else if (p->by > PONG_H - PONG_BALL_R) {
        p->by = 2.0f * (PONG_H - PONG_BALL_R) - p->by;
        p->vy = -p->vy;
    }
    const float reach = PONG_PADDLE_H * 0.5f + PONG_BALL_R;
    if (p->vx > 0 && p->bx + PONG_BALL_R >= PONG_AGENT_X) {
        if (fabsf(p->by - p->paddle_y) <= reach && p->bx - p->vx + PONG_BALL_R <= PONG_AGENT_X + PONG_PADDLE_W) {
            pg_hit(p, p->paddle_y, PONG_AGENT_X, -1.0f);
            p->hits++;
        } else if (p->bx > PONG_W) {
            p->opp_score++;
            pg_serve(p, 1.0f);
            return -1.0f;
        }
    } else if (p->vx < 0 && p->bx - PONG_BALL_R <= PONG_OPP_X) {
        if (fabsf(p->by - p->opp_y) <= reach && p->bx - p->vx - PONG_BALL_R >= PONG_OPP_X - PONG_PADDLE_W) {
            pg_hit(p, p->opp_y, PONG_OPP_X, 1.0f);
        } else if (p->bx < 0.0f) {
            p->score++;
            pg_serve(p, -1.0f);
            return 1.0f;
        }
    }
    return 0.0f;
}

static void pg_step(void *env) {
    Pong *p = env;
    int action = p->h.actions[0];
    float reward = 0.0f;
    for (int f = 0; f < p->frameskip; f++) {
        reward += pg_frame(p, action);
        if (p->score >= p->max_score || p->opp_score >= p->max_score) break;
    }
    p->tick++;
    p->h.rewards[0] = reward;
    p->episode_return += reward;
    int terminal = p->score >= p->max_score || p->opp_score >= p->max_score;
    int truncated = !terminal && p->tick >= p->max_steps;
    if (terminal || truncated) {
        p->h.terminals[0] = (uint8_t)terminal;
        p->h.truncations[0] = (uint8_t)truncated;
        float values[PG_NUM_LOG] = {p->episode_return, (float)p->tick, (float)p->score, (float)p->opp_score,
                                    (float)(p->score > p->opp_score), (float)p->hits};
        ocean_log_episode(&p->h, values, PG_NUM_LOG);
        pg_reset(p);
        return;
    }
    pg_write_obs(p);
}

static void pg_render(const void *env, uint8_t *rgb, int width, int height) {
    const Pong *p = env;
    const int s = PONG_SCALE;
    ocean_fill_rect(rgb, width, height, 0, 0, width, height, 10, 30, 20);
    for (int y = 0; y < height; y += 8) ocean_fill_rect(rgb, width, height, width / 2, y, 1, 4, 80, 110, 90);
    int ph = (int)(PONG_PADDLE_H * s), pw = (int)(PONG_PADDLE_W * s);
    ocean_fill_rect(rgb, width, height, (int)(PONG_AGENT_X * s), (int)((p->paddle_y - PONG_PADDLE_H / 2) * s), pw,
                    ph, 90, 200, 255);
    ocean_fill_rect(rgb, width, height, (int)(PONG_OPP_X * s) - pw, (int)((p->opp_y - PONG_PADDLE_H / 2) * s), pw,
                    ph, 255, 120, 90);
    ocean_fill_circle(rgb, width, height, (int)(p->bx * s), (int)(p->by * s), (int)(PONG_BALL_R * s), 250, 250,
                      250);
    /* scores as pips along the top */
    for (int i = 0; i < p->opp_score && i < 40; i++) ocean_fill_rect(rgb, width, height, 4 + i * 4, 2, 2, 4, 255, 120, 90);
    for (int i = 0; i < p->score && i < 40; i++)
        ocean_fill_rect(rgb, width, height, width - 6 - i * 4, 2, 2, 4, 90, 200, 255);
}

const OceanEnvDef ocean_env_pong = {
    .abi_version = OCEAN_ABI_VERSION,
    .name = "pong",
    .obs_dtype = OCEAN_OBS_F32,
    .obs_low = -1.0,
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
