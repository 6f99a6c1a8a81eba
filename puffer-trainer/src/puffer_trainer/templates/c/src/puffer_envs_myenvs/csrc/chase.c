/* chase: agents walk a square grid to a target cell. C11, no globals, no allocation: the caller owns the
 * memory (chase_bytes tells how much) and the buffers; chase_step only reads actions and writes buffers.
 *
 * Observation per agent: 4 floats in [0, 1]: agent x, agent y, target x, target y, divided by size - 1.
 * Actions: 0 stay, 1 up, 2 down, 3 left, 4 right; a move into a wall leaves the agent where it is.
 * Reward 1 and a terminal on reaching the target; a truncation (not a terminal) after max_steps steps.
 * A finished episode writes its final observation, is logged, and restarts in the same step (auto-reset). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#if defined(_WIN32)
#define CHASE_API __declspec(dllexport)
#else
#define CHASE_API __attribute__((visibility("default")))
#endif

#define CHASE_ABI_VERSION 1
#define CHASE_OBS 4
#define CHASE_ACTIONS 5
#define CHASE_MAX_SIZE 4096
#define CHASE_MAX_AGENTS (1 << 24)

typedef struct Agent {
    uint64_t rng;
    int32_t x, y, tx, ty, tick;
    float episode_return;
} Agent;

typedef struct ChaseLog {
    double episode_return, episode_length, score, n;
} ChaseLog;

typedef struct Chase {
    int num_agents, size, max_steps;
    float *obs, *rewards, *final_obs;
    const int32_t *actions;
    uint8_t *terminals, *truncations;
    ChaseLog log;
    Agent agents[];
} Chase;

static const int32_t MOVE_X[CHASE_ACTIONS] = {0, 0, 0, -1, 1};
static const int32_t MOVE_Y[CHASE_ACTIONS] = {0, -1, 1, 0, 0};

/* splitmix64: a good 64-bit generator whose whole state is one word, so every agent carries its own. */
static uint64_t next_u64(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int32_t below(uint64_t *state, int32_t n) { /* uniform in [0, n), n < 2**31 */
    return (int32_t)(((next_u64(state) >> 32) * (uint64_t)n) >> 32);
}

static void observe(const Chase *c, const Agent *a, float *out) {
    float scale = 1.0f / (float)(c->size - 1);
    out[0] = (float)a->x * scale;
    out[1] = (float)a->y * scale;
    out[2] = (float)a->tx * scale;
    out[3] = (float)a->ty * scale;
}

static void start_episode(Chase *c, Agent *a) {
    int32_t cells = c->size * c->size;
    int32_t here = below(&a->rng, cells);
    int32_t there = below(&a->rng, cells - 1); /* any other cell: the target is never where the agent is */
    if (there >= here) there += 1;
    a->x = here % c->size;
    a->y = here / c->size;
    a->tx = there % c->size;
    a->ty = there / c->size;
    a->tick = 0;
    a->episode_return = 0.0f;
}

CHASE_API int chase_abi_version(void) { return CHASE_ABI_VERSION; }

CHASE_API size_t chase_bytes(int num_agents) {
    if (num_agents < 1 || num_agents > CHASE_MAX_AGENTS) return 0;
    return sizeof(Chase) + (size_t)num_agents * sizeof(Agent);
}

CHASE_API int chase_init(Chase *c, int num_agents, int size, int max_steps, float *obs, const int32_t *actions,
                         float *rewards, uint8_t *terminals, uint8_t *truncations, float *final_obs, char *err,
                         int errlen) {
    if (num_agents < 1 || num_agents > CHASE_MAX_AGENTS) {
        snprintf(err, (size_t)errlen, "num_agents must be in [1, %d], got %d", CHASE_MAX_AGENTS, num_agents);
        return 1;
    }
    if (size < 2 || size > CHASE_MAX_SIZE) {
        snprintf(err, (size_t)errlen, "size must be in [2, %d], got %d", CHASE_MAX_SIZE, size);
        return 1;
    }
    if (max_steps < 1) {
        snprintf(err, (size_t)errlen, "max_steps must be at least 1, got %d", max_steps);
        return 1;
    }
    if (!obs || !actions || !rewards || !terminals || !truncations || !final_obs) {
        snprintf(err, (size_t)errlen, "every buffer must be given (got a NULL pointer)");
        return 1;
    }
    memset(c, 0, chase_bytes(num_agents));
    c->num_agents = num_agents;
    c->size = size;
    c->max_steps = max_steps;
    c->obs = obs;
    c->actions = actions;
    c->rewards = rewards;
    c->terminals = terminals;
    c->truncations = truncations;
    c->final_obs = final_obs;
    return 0;
}

/* Agent i's generator starts from (seed, i), so a run does not depend on how agents are split into envs. */
CHASE_API void chase_reset(Chase *c, uint64_t seed) {
    for (int i = 0; i < c->num_agents; i++) {
        Agent *a = &c->agents[i];
        a->rng = seed ^ ((uint64_t)i * 0xD1B54A32D192ED03ull);
        next_u64(&a->rng);
        start_episode(c, a);
        observe(c, a, c->obs + (size_t)i * CHASE_OBS);
        c->rewards[i] = 0.0f;
        c->terminals[i] = 0;
        c->truncations[i] = 0;
    }
    memset(&c->log, 0, sizeof(c->log));
}

/* Returns -1 after stepping every agent, or the index of the first agent with an action outside [0, 5):
 * then nothing was stepped. */
CHASE_API int chase_step(Chase *c) {
    for (int i = 0; i < c->num_agents; i++) {
        if (c->actions[i] < 0 || c->actions[i] >= CHASE_ACTIONS) return i;
    }
    int32_t last = c->size - 1;
    for (int i = 0; i < c->num_agents; i++) {
        Agent *a = &c->agents[i];
        int32_t action = c->actions[i];
        int32_t x = a->x + MOVE_X[action], y = a->y + MOVE_Y[action];
        if (x >= 0 && x <= last) a->x = x; /* walls: a move off the grid is no move */
        if (y >= 0 && y <= last) a->y = y;
        a->tick += 1;
        uint8_t reached = a->x == a->tx && a->y == a->ty;
        uint8_t timeout = !reached && a->tick >= c->max_steps;
        float reward = reached ? 1.0f : 0.0f;
        a->episode_return += reward;
        c->rewards[i] = reward;
        c->terminals[i] = reached;
        c->truncations[i] = timeout;
        float *obs = c->obs + (size_t)i * CHASE_OBS;
        if (reached || timeout) {
            observe(c, a, c->final_obs + (size_t)i * CHASE_OBS);
            c->log.episode_return += a->episode_return;
            c->log.episode_length += a->tick;
            c->log.score += reached;
            c->log.n += 1;
            start_episode(c, a);
        }
        observe(c, a, obs);
    }
    return -1;
}

/* Copies the sums of the episodes finished since the last call (return, length, score, count), then zeroes
 * them. */
CHASE_API void chase_drain_log(Chase *c, double *out) {
    out[0] = c->log.episode_return;
    out[1] = c->log.episode_length;
    out[2] = c->log.score;
    out[3] = c->log.n;
    memset(&c->log, 0, sizeof(c->log));
}
