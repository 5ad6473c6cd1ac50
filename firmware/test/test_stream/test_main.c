/* test_main.c - Unity tests of the application (firmware/src/app.h) on the board (qemu_m4) and the
 * host: the processing path of the firmware end to end, without the UART.
 *
 * The test plays the host: it encodes AUDIO frames and commands with bitear_protocol, hands their
 * bytes to app_rx in runs of random length (frames split anywhere), obeys the board's CREDIT, and
 * decodes every frame the application sends. 3 s of audio are streamed: audio.h (1.5 s, the word
 * "yes" in noise, made by make_audio.py) then quiet noise. Checked: READY and CREDIT at boot; one
 * RESULT every N hops from the hop that fills the window, exactly; every RESULT and DETECTION equal
 * to running bitear_stream + bitear_detector directly on the same samples; STATS; SET_THRESHOLD
 * (full depth: all results at the last exit; always stop: all at the first), RESET, SET_DETECTOR,
 * SET_PERIOD (results every N hops as set, kept over a stream RESET, in READY; the detector's minimum
 * count follows it), NACKs; malformed bytes counted and the application still answering; a host ignoring credit gets
 * overruns, gaps and stale hops counted; far-off hops (a stray frame, a host that renumbers, hop
 * 0xFFFFFFFF) neither kill the stream nor wrap a counter. No test asserts which word was heard: the
 * checks hold for any generated tables (what the network hears is measured by host.evaluate).
 */
#include <stdint.h>
#include <string.h>

#include "app.h"
#include "audio.h"
#include "bitear_board.h"
#include "board_cortex_m.h" /* BITEAR_BOARD_CORTEX_M: a bare-metal board (qemu_m4, feather_f405) */
#include "unity.h"

#if defined(BITEAR_BOARD_CORTEX_M)
/* The application's 4 KB stack (as in main.c), so app + test fit the 24 KB RAM budget. */
__asm__(".global BITEAR_STACK_SIZE\n.equ BITEAR_STACK_SIZE, 4096\n");
#endif

#define CLASSES BITEAR_MODEL_CLASSES
#define N APP_INFER_EVERY
#define C APP_QUEUE_HOPS
#define STREAM_HOPS 150u /* 3 s */
#define MAX_RESULTS 40u
#define MAX_DETECTIONS 8u
#define FIRST_RESULT_HOP ((uint32_t)BITEAR_MODEL_FRAMES)
#define CHUNK 333u /* samples per push in the direct replay */

static app_t app;

/* ---- the host: what the application sends, decoded --------------------------------------------- */

typedef struct {
    uint32_t hop, entropy_q16, cost, scores_sum;
    uint16_t score_q15, scores_hash;
    uint8_t label, exit_index;
} result_t;

static struct {
    bitear_proto_decoder_t dec;
    unsigned frames, damaged;
    uint16_t next_seq;             /* the application's seq must count up by one per frame */
    int seq_ok;
    unsigned readys;
    bitear_proto_ready_t ready;    /* strings copied below */
    char board[32], model[24], label2[16];
    unsigned credits;
    bitear_proto_credit_t credit;
    unsigned acks;
    bitear_proto_ack_t ack;        /* the last one */
    unsigned stats_count;
    bitear_proto_stats_t stats;
    unsigned n_results;
    result_t results[MAX_RESULTS];
    unsigned n_detections;
    bitear_proto_detection_t detections[MAX_DETECTIONS];
    uint8_t last_type;
} host;

static void copy_string(char *dst, size_t cap, const char *src)
{
    strncpy(dst, src, cap - 1u);
    dst[cap - 1u] = '\0';
}

static uint16_t hash_scores(const uint16_t *scores, unsigned n)
{
    uint16_t h = 0;
    for (unsigned i = 0; i < n; i++) {
        h = (uint16_t)(h * 31u + scores[i]);
    }
    return h;
}

static void host_got(const bitear_proto_msg_t *m)
{
    if (m->seq != host.next_seq) {
        host.seq_ok = 0;
    }
    host.next_seq = (uint16_t)(m->seq + 1u);
    host.last_type = m->type;
    switch (m->type) {
    case BITEAR_PROTO_READY:
        host.readys++;
        host.ready = m->body.ready;
        copy_string(host.board, sizeof host.board, m->body.ready.board);
        copy_string(host.model, sizeof host.model, m->body.ready.model);
        copy_string(host.label2, sizeof host.label2, bitear_proto_ready_label(&m->body.ready, 2));
        break;
    case BITEAR_PROTO_CREDIT:
        host.credits++;
        host.credit = m->body.credit;
        break;
    case BITEAR_PROTO_ACK:
        host.acks++;
        host.ack = m->body.ack;
        break;
    case BITEAR_PROTO_STATS:
        host.stats_count++;
        host.stats = m->body.stats;
        break;
    case BITEAR_PROTO_RESULT:
        if (host.n_results < MAX_RESULTS) {
            const bitear_proto_result_t *r = &m->body.result;
            result_t *s = &host.results[host.n_results];
            s->hop = r->hop;
            s->label = r->label;
            s->exit_index = r->exit_index;
            s->score_q15 = r->score_q15;
            s->entropy_q16 = r->entropy_q16;
            s->cost = r->cost;
            s->scores_sum = 0;
            for (unsigned c = 0; c < r->classes; c++) {
                s->scores_sum += r->scores_q15[c];
            }
            s->scores_hash = r->classes == CLASSES ? hash_scores(r->scores_q15, CLASSES) : 0u;
        }
        host.n_results++;
        break;
    case BITEAR_PROTO_DETECTION:
        if (host.n_detections < MAX_DETECTIONS) {
            host.detections[host.n_detections] = m->body.detection;
        }
        host.n_detections++;
        break;
    default:
        host.damaged++; /* not a board -> host message */
        break;
    }
}

/* app_write_fn: every call must be exactly one whole frame. */
static void capture(void *ctx, const uint8_t *frame, size_t len)
{
    (void)ctx;
    size_t used, i = 0;
    int messages = 0;
    while (i < len) {
        bitear_proto_msg_t m;
        const bitear_status_t st = bitear_proto_decoder_feed_bytes(&host.dec, frame + i, len - i, &used, &m);
        i += used;
        if (st == BITEAR_PROTO_MESSAGE) {
            messages++;
            host.frames++;
            host_got(&m);
        } else if (st < 0) {
            host.damaged++;
        }
    }
    if (messages != 1 || frame[len - 1u] != 0u) {
        host.damaged++;
    }
}

/* ---- the host: what it sends ------------------------------------------------------------------- */

static uint8_t tx[BITEAR_PROTO_MAX_FRAME];
static uint8_t pcm[2u * BITEAR_FRONTEND_HOP];
static uint16_t host_seq;
static uint32_t lcg = 12345u;

static uint32_t next_random(void)
{
    lcg = lcg * 1664525u + 1013904223u;
    return lcg >> 8;
}

/* Bytes to the application in runs of 1 .. 300 bytes: frames end up split anywhere. */
static void to_app(const uint8_t *bytes, size_t n)
{
    while (n > 0u) {
        size_t run = 1u + next_random() % 300u;
        if (run > n) {
            run = n;
        }
        app_rx(&app, bytes, run);
        bytes += run;
        n -= run;
    }
}

static void send_msg(bitear_proto_msg_t *m)
{
    size_t len;
    m->seq = host_seq++;
    TEST_ASSERT_EQUAL_INT(BITEAR_OK, bitear_proto_encode(m, tx, sizeof tx, &len));
    to_app(tx, len);
}

/* A command; returns the status of its ACK (checks that exactly one ACK came, for this command). */
static int16_t command(bitear_proto_msg_t *m)
{
    const unsigned acks = host.acks;
    send_msg(m);
    TEST_ASSERT_EQUAL_UINT(acks + 1u, host.acks);
    TEST_ASSERT_EQUAL_UINT(m->seq, host.ack.seq);
    TEST_ASSERT_EQUAL_UINT(m->type, host.ack.type);
    TEST_ASSERT_EQUAL_UINT(BITEAR_PROTO_ACK, host.last_type); /* the ACK comes last */
    return host.ack.status;
}

static int16_t simple_command(uint8_t type)
{
    bitear_proto_msg_t m = {.type = type};
    return command(&m);
}

static int16_t set_threshold(uint8_t exit_index, int32_t threshold_q16)
{
    bitear_proto_msg_t m = {.type = BITEAR_PROTO_SET_THRESHOLD};
    m.body.set_threshold.exit_index = exit_index;
    m.body.set_threshold.threshold_q16 = threshold_q16;
    return command(&m);
}

static int16_t reset(uint8_t flags)
{
    bitear_proto_msg_t m = {.type = BITEAR_PROTO_RESET};
    m.body.reset.flags = flags;
    return command(&m);
}

static const bitear_proto_stats_t *get_stats(void)
{
    TEST_ASSERT_EQUAL_INT(0, simple_command(BITEAR_PROTO_GET_STATS));
    return &host.stats;
}

/* Sample k of the test stream: audio.h, then quiet noise (+-128) that is a function of k alone, so
 * the stream can be replayed in any chunking. */
static int16_t sample_at(uint32_t k)
{
    if (k < TEST_AUDIO_SAMPLES) {
        return test_audio[k];
    }
    uint32_t x = k * 2654435761u;
    x ^= x >> 13;
    x *= 0x5bd1e995u;
    x ^= x >> 15;
    return (int16_t)((int32_t)(x & 0xFFu) - 128);
}

static void send_audio(uint32_t hop)
{
    for (unsigned i = 0; i < BITEAR_FRONTEND_HOP; i++) { /* little-endian on the wire */
        const uint16_t v = (uint16_t)sample_at(hop * BITEAR_FRONTEND_HOP + i);
        pcm[2u * i] = (uint8_t)(v & 0xFFu);
        pcm[2u * i + 1u] = (uint8_t)(v >> 8);
    }
    bitear_proto_msg_t m = {.type = BITEAR_PROTO_AUDIO};
    m.body.audio.hop = hop;
    m.body.audio.pcm = pcm;
    send_msg(&m);
}

/* Hops 0 .. hops-1 as a well-behaved host: send while the credit allows, else let the board work. */
static void stream(uint32_t hops)
{
    uint32_t next = 0;
    while (next < hops || app.queue_count > 0u) {
        if (next < hops && (int32_t)(next - host.credit.limit) < 0) {
            send_audio(next++);
        } else {
            TEST_ASSERT_TRUE_MESSAGE(app_step(&app), "no credit and nothing queued: flow control is stuck");
        }
    }
    TEST_ASSERT_EQUAL_INT(0, app_step(&app));
}

static unsigned results_expected(uint32_t hops)
{
    return hops < FIRST_RESULT_HOP ? 0u : (hops - FIRST_RESULT_HOP) / N + 1u;
}

/* ---- fixtures ---------------------------------------------------------------------------------- */

static struct {
    unsigned results, events; /* of the direct replay in the stream test */
} replayed;

void setUp(void)
{
    memset(&host, 0, sizeof host);
    memset(&replayed, 0, sizeof replayed);
    host.seq_ok = 1;
    TEST_ASSERT_EQUAL_INT(BITEAR_OK, bitear_proto_decoder_init(&host.dec));
    TEST_ASSERT_EQUAL_INT(BITEAR_OK, app_init(&app, capture, NULL, 0));
    app_start(&app);
    host_seq = 0;
}

void tearDown(void) {}

/* ---- tests ------------------------------------------------------------------------------------- */

void test_boot_sends_ready_then_credit(void)
{
    TEST_ASSERT_EQUAL_UINT(2, host.frames);
    TEST_ASSERT_EQUAL_UINT(1, host.readys);
    TEST_ASSERT_EQUAL_UINT(BITEAR_PROTO_CREDIT, host.last_type);
    TEST_ASSERT_EQUAL_UINT(BITEAR_SAMPLE_RATE, host.ready.sample_rate_hz);
    TEST_ASSERT_EQUAL_UINT(BITEAR_FRONTEND_HOP, host.ready.hop_samples);
    TEST_ASSERT_EQUAL_UINT(N, host.ready.infer_every_hops);
    TEST_ASSERT_EQUAL_UINT(CLASSES, host.ready.classes);
    TEST_ASSERT_EQUAL_UINT(BITEAR_MODEL_EXITS, host.ready.exits);
#if defined(BITEAR_BOARD_QEMU_MPS2_AN386)
    TEST_ASSERT_EQUAL_UINT(BITEAR_PROTO_COST_INSTRUCTIONS, host.ready.cost_unit);
#elif defined(BITEAR_BOARD_STM32F405)
    TEST_ASSERT_EQUAL_UINT(BITEAR_PROTO_COST_CYCLES, host.ready.cost_unit);
#else
    TEST_ASSERT_EQUAL_UINT(BITEAR_PROTO_COST_MICROSECONDS, host.ready.cost_unit);
#endif
    TEST_ASSERT_EQUAL_STRING(bitear_board_name(), host.board);
    TEST_ASSERT_EQUAL_UINT(APP_MODEL_ID_CHARS, strlen(host.model));
    TEST_ASSERT_EQUAL_INT(0, strncmp(BITEAR_MODEL_SHA256, host.model, APP_MODEL_ID_CHARS));
    TEST_ASSERT_EQUAL_STRING(bitear_model_label(2), host.label2);
    TEST_ASSERT_EQUAL_UINT(C, host.credit.limit);
    TEST_ASSERT_EQUAL_UINT(C, host.credit.capacity);
    TEST_ASSERT_TRUE(host.seq_ok);

    /* HELLO: READY, CREDIT, then the ACK */
    TEST_ASSERT_EQUAL_INT(0, simple_command(BITEAR_PROTO_HELLO));
    TEST_ASSERT_EQUAL_UINT(2, host.readys);
    TEST_ASSERT_EQUAL_UINT(2, host.credits);
    TEST_ASSERT_EQUAL_UINT(0, host.damaged);
}

/* bitear_stream_result_fn of the replay: the next RESULT and DETECTION the application sent must be
 * exactly this. */
static void compare_result(void *ctx, const bitear_result_t *r, uint32_t hop)
{
    (void)ctx;
    TEST_ASSERT_LESS_THAN(host.n_results, replayed.results);
    const result_t *sent = &host.results[replayed.results++];
    TEST_ASSERT_EQUAL_UINT32(sent->hop, hop);
    TEST_ASSERT_EQUAL_UINT(sent->label, r->label);
    TEST_ASSERT_EQUAL_UINT(sent->exit_index, r->exit_index);
    TEST_ASSERT_EQUAL_UINT32(sent->entropy_q16, r->entropy_q16);
    TEST_ASSERT_EQUAL_UINT(sent->score_q15, r->scores_q15[r->label]);
    TEST_ASSERT_EQUAL_UINT(sent->scores_hash, hash_scores(r->scores_q15, CLASSES));
    bitear_detector_event_t ev;
    TEST_ASSERT_EQUAL_INT(BITEAR_OK, bitear_detector_process(&app.detector, hop * APP_HOP_MS, r->scores_q15, &ev));
    if (ev.is_new) {
        TEST_ASSERT_LESS_THAN(host.n_detections, replayed.events);
        const bitear_proto_detection_t *d = &host.detections[replayed.events++];
        TEST_ASSERT_EQUAL_UINT32(hop, d->hop);
        TEST_ASSERT_EQUAL_UINT(ev.label, d->label);
        TEST_ASSERT_EQUAL_UINT(ev.score_q15, d->score_q15);
    }
}

void test_a_stream_gives_one_result_every_n_hops_equal_to_the_plugin_run_directly(void)
{
    stream(STREAM_HOPS);
    const unsigned n = host.n_results;
    TEST_ASSERT_EQUAL_UINT(results_expected(STREAM_HOPS), n);
    TEST_ASSERT_LESS_OR_EQUAL(MAX_RESULTS, n);
    for (unsigned i = 0; i < n; i++) {
        const result_t *r = &host.results[i];
        TEST_ASSERT_EQUAL_UINT32(FIRST_RESULT_HOP + i * N, r->hop);
        TEST_ASSERT_LESS_THAN(CLASSES, r->label);
        TEST_ASSERT_LESS_THAN(BITEAR_MODEL_EXITS, r->exit_index);
        TEST_ASSERT_UINT32_WITHIN(CLASSES, 32768u, r->scores_sum); /* a softmax, rounded per class */
#if defined(BITEAR_BOARD_QEMU_MPS2_AN386)
        /* front end + network, in instructions: at most the budget bars (2.0 M + 60 k) */
        TEST_ASSERT_GREATER_THAN_UINT32(20000u, r->cost);
        TEST_ASSERT_LESS_OR_EQUAL_UINT32(2060000u, r->cost);
#elif defined(BITEAR_BOARD_STM32F405)
        /* the same in QEMU's 168 MHz SysTick cycles: 21 per 125 instructions */
        TEST_ASSERT_GREATER_THAN_UINT32(20000u * 21u / 125u, r->cost);
        TEST_ASSERT_LESS_OR_EQUAL_UINT32(2060000u * 21u / 125u, r->cost);
#endif
    }
    const bitear_proto_stats_t *s = get_stats();
    TEST_ASSERT_EQUAL_UINT32(STREAM_HOPS + 1u, s->frames_received); /* the AUDIO frames + GET_STATS */
    TEST_ASSERT_EQUAL_UINT32(STREAM_HOPS, s->audio_frames);
    TEST_ASSERT_EQUAL_UINT32(STREAM_HOPS, s->hops);
    TEST_ASSERT_EQUAL_UINT32(n, s->inferences);
    TEST_ASSERT_EQUAL_UINT32(host.n_detections, s->detections);
    TEST_ASSERT_EQUAL_UINT32(0, s->frames_dropped + s->overruns + s->rx_dropped + s->crc_errors +
                                    s->framing_errors + s->unknown_commands + s->bad_commands);
#if defined(BITEAR_BOARD_CORTEX_M)
    TEST_ASSERT_EQUAL_UINT32(4096u, s->stack_size);
    TEST_ASSERT_TRUE(s->stack_used > 0u && s->stack_used < s->stack_size);
#endif
    TEST_ASSERT_TRUE(host.seq_ok);
    TEST_ASSERT_EQUAL_UINT(0, host.damaged);

    /* The same samples straight through the plugin, in chunks of CHUNK samples (not whole hops),
     * with the application's own stream and detector objects re-initialised. */
    TEST_ASSERT_EQUAL_INT(BITEAR_OK, bitear_stream_init(&app.stream, N));
    TEST_ASSERT_EQUAL_INT(BITEAR_OK, bitear_detector_reset(&app.detector));
    static int16_t chunk[CHUNK];
    for (uint32_t k = 0; k < STREAM_HOPS * BITEAR_FRONTEND_HOP; k += CHUNK) {
        uint32_t len = STREAM_HOPS * BITEAR_FRONTEND_HOP - k;
        len = len < CHUNK ? len : CHUNK;
        for (uint32_t i = 0; i < len; i++) {
            chunk[i] = sample_at(k + i);
        }
        TEST_ASSERT_EQUAL_INT(BITEAR_OK, bitear_stream_push(&app.stream, chunk, len, compare_result, NULL));
    }
    TEST_ASSERT_EQUAL_UINT(n, replayed.results);
    TEST_ASSERT_EQUAL_UINT(host.n_detections, replayed.events);
}

void test_full_depth_and_always_first_exit_change_the_exits_taken(void)
{
    TEST_ASSERT_EQUAL_INT(0, set_threshold(BITEAR_PROTO_EXIT_ALL, BITEAR_PROTO_THRESHOLD_NEVER));
    stream(FIRST_RESULT_HOP + 3u * N);
    TEST_ASSERT_EQUAL_UINT(4, host.n_results);
    for (unsigned i = 0; i < host.n_results; i++) {
        TEST_ASSERT_EQUAL_UINT(BITEAR_MODEL_EXITS - 1, host.results[i].exit_index);
    }
    const uint32_t full_cost = host.results[0].cost;

    /* a stream reset keeps the thresholds and restarts the hop count: CREDIT (limit C), then ACK */
    const unsigned credits = host.credits;
    TEST_ASSERT_EQUAL_INT(0, reset(BITEAR_PROTO_RESET_STREAM));
    TEST_ASSERT_EQUAL_UINT(credits + 1u, host.credits);
    TEST_ASSERT_EQUAL_UINT(C, host.credit.limit);
    host.n_results = 0;
    stream(FIRST_RESULT_HOP);
    TEST_ASSERT_EQUAL_UINT(1, host.n_results);
    TEST_ASSERT_EQUAL_UINT32(FIRST_RESULT_HOP, host.results[0].hop);
    TEST_ASSERT_EQUAL_UINT(BITEAR_MODEL_EXITS - 1, host.results[0].exit_index);

    /* always stop at the first exit: cheaper */
    TEST_ASSERT_EQUAL_INT(0, set_threshold(BITEAR_PROTO_EXIT_ALL, BITEAR_THRESHOLD_ALWAYS));
    TEST_ASSERT_EQUAL_INT(0, reset(BITEAR_PROTO_RESET_STREAM | BITEAR_PROTO_RESET_STATS));
    host.n_results = 0;
    stream(FIRST_RESULT_HOP + 2u * N);
    TEST_ASSERT_EQUAL_UINT(3, host.n_results);
    for (unsigned i = 0; i < host.n_results; i++) {
        TEST_ASSERT_EQUAL_UINT(0, host.results[i].exit_index);
    }
#if defined(BITEAR_BOARD_CORTEX_M)
    if (BITEAR_MODEL_EXITS > 1) {
        TEST_ASSERT_TRUE(host.results[0].cost < full_cost);
    }
#else
    (void)full_cost;
#endif
    const bitear_proto_stats_t *s = get_stats(); /* zeroed by the reset */
    TEST_ASSERT_EQUAL_UINT32(FIRST_RESULT_HOP + 2u * N, s->hops);
    TEST_ASSERT_EQUAL_UINT32(3, s->inferences);
    TEST_ASSERT_EQUAL_UINT32(FIRST_RESULT_HOP + 2u * N + 1u, s->frames_received);

    /* out of range: NACK BITEAR_ERR_ARG, counted as a bad command, nothing changes */
    TEST_ASSERT_EQUAL_INT(BITEAR_ERR_ARG, set_threshold(BITEAR_MODEL_EXITS - 1, 1000));
    TEST_ASSERT_EQUAL_INT(BITEAR_ERR_ARG, set_threshold(0, 65537));
    TEST_ASSERT_EQUAL_INT(BITEAR_ERR_ARG, set_threshold(0, -2));
    TEST_ASSERT_EQUAL_INT(BITEAR_ERR_ARG, reset(0x04));
    TEST_ASSERT_EQUAL_UINT32(4, get_stats()->bad_commands);
    TEST_ASSERT_TRUE(host.seq_ok);
}

void test_set_detector_is_checked_and_acknowledged(void)
{
    bitear_proto_msg_t m = {.type = BITEAR_PROTO_SET_DETECTOR};
    m.body.set_detector.window_ms = 500;
    m.body.set_detector.threshold_q15 = 16384;
    m.body.set_detector.suppression_ms = 1000;
    m.body.set_detector.min_count = 2;
    TEST_ASSERT_EQUAL_INT(0, command(&m));
    TEST_ASSERT_EQUAL_UINT(500, app.detector.params.window_ms);
    TEST_ASSERT_EQUAL_UINT(16384, app.detector.params.threshold_q15);
    TEST_ASSERT_EQUAL_UINT(0x3u, app.detector.params.never_mask); /* _silence_, _unknown_ kept */
    m.body.set_detector.min_count = 0;
    TEST_ASSERT_EQUAL_INT(BITEAR_ERR_ARG, command(&m));
    m.body.set_detector.min_count = 2;
    m.body.set_detector.threshold_q15 = 40000;
    TEST_ASSERT_EQUAL_INT(BITEAR_ERR_ARG, command(&m));
    TEST_ASSERT_EQUAL_UINT(16384, app.detector.params.threshold_q15); /* unchanged */
}

static void stream_range(uint32_t first, uint32_t end);

static int16_t set_period(uint8_t infer_every)
{
    bitear_proto_msg_t m = {.type = BITEAR_PROTO_SET_PERIOD};
    m.body.set_period.infer_every = infer_every;
    return command(&m);
}

/* The period the board reports: READY in reply to HELLO. */
static unsigned period_in_ready(void)
{
    const unsigned readys = host.readys;
    TEST_ASSERT_EQUAL_INT(0, simple_command(BITEAR_PROTO_HELLO));
    TEST_ASSERT_EQUAL_UINT(readys + 1u, host.readys);
    return host.ready.infer_every_hops;
}

static void assert_results_every(uint32_t first_hop, uint32_t period)
{
    TEST_ASSERT_TRUE(host.n_results >= 2u && host.n_results <= MAX_RESULTS);
    for (unsigned i = 0; i < host.n_results; i++) {
        TEST_ASSERT_EQUAL_UINT32(first_hop + i * period, host.results[i].hop);
    }
}

void test_set_period_changes_the_period_survives_a_stream_reset_and_refuses_0(void)
{
    TEST_ASSERT_EQUAL_UINT(app_detector_min_count(N), app.detector.params.min_count); /* at boot */
    TEST_ASSERT_EQUAL_INT(0, set_period(2));
    TEST_ASSERT_EQUAL_UINT(2, period_in_ready());
    TEST_ASSERT_EQUAL_UINT(6, app.detector.params.min_count); /* 240 ms / 40 ms */
    stream(FIRST_RESULT_HOP + 7u);
    TEST_ASSERT_EQUAL_UINT(4, host.n_results);
    assert_results_every(FIRST_RESULT_HOP, 2u);

    /* a stream reset keeps the period */
    TEST_ASSERT_EQUAL_INT(0, reset(BITEAR_PROTO_RESET_STREAM | BITEAR_PROTO_RESET_STATS));
    TEST_ASSERT_EQUAL_UINT(2, period_in_ready());
    host.n_results = 0;
    stream(FIRST_RESULT_HOP + 5u);
    TEST_ASSERT_EQUAL_UINT(3, host.n_results);
    assert_results_every(FIRST_RESULT_HOP, 2u);

    /* 0: NACK BITEAR_ERR_ARG, a bad command, nothing changes */
    TEST_ASSERT_EQUAL_INT(BITEAR_ERR_ARG, set_period(0));
    TEST_ASSERT_EQUAL_UINT(2, app.stream.infer_every);
    TEST_ASSERT_EQUAL_UINT(6, app.detector.params.min_count);
    TEST_ASSERT_EQUAL_UINT(2, period_in_ready());
    TEST_ASSERT_EQUAL_UINT32(1, get_stats()->bad_commands);

    /* mid-stream, longer: the next result at most 5 hops after the change, then every 5 */
    TEST_ASSERT_EQUAL_INT(0, set_period(5));
    host.n_results = 0;
    stream_range(FIRST_RESULT_HOP + 5u, FIRST_RESULT_HOP + 5u + 16u);
    TEST_ASSERT_EQUAL_UINT(4, host.n_results);
    TEST_ASSERT_TRUE(host.results[0].hop <= FIRST_RESULT_HOP + 5u + 5u);
    assert_results_every(host.results[0].hop, 5u);
    TEST_ASSERT_TRUE(host.seq_ok);
    TEST_ASSERT_EQUAL_UINT(0, host.damaged);
}

void test_the_detector_min_count_follows_the_period_until_set_detector(void)
{
    /* ceil(240 ms / (N x 20 ms)) within 1 .. BITEAR_DETECTOR_CAPACITY, computed by hand */
    static const uint8_t period[] = {1, 2, 3, 4, 5, 6, 11, 12, 13, 255};
    static const uint8_t min_count[] = {12, 6, 4, 3, 3, 2, 2, 1, 1, 1};
    for (unsigned i = 0; i < sizeof period; i++) {
        TEST_ASSERT_EQUAL_INT(0, set_period(period[i]));
        TEST_ASSERT_EQUAL_UINT(period[i], app.stream.infer_every);
        TEST_ASSERT_EQUAL_UINT_MESSAGE(min_count[i], app.detector.params.min_count, "min_count at this period");
        TEST_ASSERT_EQUAL_UINT(min_count[i], app_detector_min_count(period[i]));
    }
    /* SET_DETECTOR sets its own count; the next SET_PERIOD applies the rule again */
    bitear_proto_msg_t m = {.type = BITEAR_PROTO_SET_DETECTOR};
    m.body.set_detector.window_ms = 750;
    m.body.set_detector.threshold_q15 = 26214;
    m.body.set_detector.suppression_ms = 1500;
    m.body.set_detector.min_count = 9;
    TEST_ASSERT_EQUAL_INT(0, command(&m));
    TEST_ASSERT_EQUAL_UINT(9, app.detector.params.min_count);
    TEST_ASSERT_EQUAL_INT(0, set_period(2));
    TEST_ASSERT_EQUAL_UINT(6, app.detector.params.min_count);
}

/* COBS + CRC around a hand-made payload (version, type, seq, body), for frames the encoder refuses. */
static size_t raw_frame(const uint8_t *head, size_t n, uint8_t *out)
{
    uint8_t payload[16];
    memcpy(payload, head, n);
    const uint16_t crc = bitear_proto_crc16(0xFFFFu, head, n);
    payload[n] = (uint8_t)(crc >> 8);
    payload[n + 1u] = (uint8_t)(crc & 0xFFu);
    n += 2u;
    size_t o = 1u, code_at = 0u;
    uint8_t code = 1u;
    for (size_t i = 0; i < n; i++) {
        if (payload[i] == 0u) {
            out[code_at] = code;
            code_at = o++;
            code = 1u;
        } else {
            out[o++] = payload[i];
            code++;
        }
    }
    out[code_at] = code;
    out[o++] = 0u;
    return o;
}

void test_malformed_input_is_counted_and_answered_and_the_app_keeps_working(void)
{
    uint8_t frame[24];
    size_t len;
    const unsigned acks = host.acks;

    /* damaged frames: only counted */
    static const uint8_t garbage[] = {0x00, 0x00, 0x07, 0x99, 0x00, 0x05, 0x01, 0x00};    /* empty x2, COBS x2 */
    to_app(garbage, sizeof garbage);
    static const uint8_t bad_crc[] = {0x03, 0x01, 0x01, 0x01, 0x03, 0xc4, 0x44, 0x00}; /* HELLO, CRC bit flipped */
    to_app(bad_crc, sizeof bad_crc);
    static const uint8_t too_short[] = {0x03, 0x01, 0x01, 0x02, 0x00};                   /* 4-byte payload */
    to_app(too_short, sizeof too_short);
    for (unsigned i = 0; i < 700u; i++) { /* oversize: 700 non-zero bytes, then the delimiter */
        const uint8_t b = (uint8_t)(1u + i % 200u);
        to_app(&b, 1u);
    }
    to_app(garbage, 1u);
    TEST_ASSERT_EQUAL_UINT(acks, host.acks);

    /* frames that passed their CRC but cannot be used: NACKed with their seq and type */
    static const uint8_t version2[] = {0x02, 0x05, 0x10, 0x00};          /* GET_STATS, protocol version 2 */
    len = raw_frame(version2, sizeof version2, frame);
    to_app(frame, len);
    TEST_ASSERT_EQUAL_INT(BITEAR_ERR_UNSUPPORTED, host.ack.status);
    TEST_ASSERT_EQUAL_UINT(0x10, host.ack.seq);
    static const uint8_t unknown[] = {0x01, 0x7E, 0x11, 0x00};           /* type 0x7E */
    len = raw_frame(unknown, sizeof unknown, frame);
    to_app(frame, len);
    TEST_ASSERT_EQUAL_INT(BITEAR_ERR_UNSUPPORTED, host.ack.status);
    TEST_ASSERT_EQUAL_UINT(0x7E, host.ack.type);
    static const uint8_t long_stats[] = {0x01, 0x05, 0x12, 0x00, 0x01}; /* GET_STATS with a body */
    len = raw_frame(long_stats, sizeof long_stats, frame);
    to_app(frame, len);
    TEST_ASSERT_EQUAL_INT(BITEAR_ERR_FORMAT, host.ack.status);
    bitear_proto_msg_t credit = {.type = BITEAR_PROTO_CREDIT};   /* a board -> host message */
    credit.body.credit.limit = 5;
    credit.body.credit.capacity = 5;
    TEST_ASSERT_EQUAL_INT(BITEAR_ERR_UNSUPPORTED, command(&credit));
    TEST_ASSERT_EQUAL_UINT(acks + 4u, host.acks);

    /* still working */
    TEST_ASSERT_EQUAL_INT(0, simple_command(BITEAR_PROTO_HELLO));
    stream(FIRST_RESULT_HOP);
    TEST_ASSERT_EQUAL_UINT(1, host.n_results);
    const bitear_proto_stats_t *s = get_stats();
    TEST_ASSERT_EQUAL_UINT32(1, s->crc_errors);
    TEST_ASSERT_EQUAL_UINT32(2 + 2 + 1 + 1, s->framing_errors); /* empty x2, COBS x2, short, oversize */
    TEST_ASSERT_EQUAL_UINT32(3, s->unknown_commands);           /* version 2, type 0x7E, CREDIT */
    TEST_ASSERT_EQUAL_UINT32(1, s->bad_commands);               /* GET_STATS with a body */
    TEST_ASSERT_EQUAL_UINT32(FIRST_RESULT_HOP, s->audio_frames);
    TEST_ASSERT_EQUAL_UINT32(0, s->frames_dropped + s->overruns + s->rx_dropped);
    TEST_ASSERT_TRUE(host.seq_ok);
    TEST_ASSERT_EQUAL_UINT(0, host.damaged);
}

void test_a_host_ignoring_credit_gets_overruns_gaps_and_stale_hops_counted(void)
{
    for (uint32_t hop = 0; hop < C + 2u; hop++) { /* C queued, 2 overruns */
        send_audio(hop);
    }
    send_audio(C + 4u);                     /* C+2, C+3 never came: dropped; C+4 overruns too */
    send_audio(C + 1u);                     /* stale */
    const bitear_proto_stats_t *s = get_stats();
    TEST_ASSERT_EQUAL_UINT32(C, s->audio_frames);
    TEST_ASSERT_EQUAL_UINT32(3, s->overruns);
    TEST_ASSERT_EQUAL_UINT32(2, s->frames_dropped);
    TEST_ASSERT_EQUAL_UINT32(1, s->bad_commands);
    TEST_ASSERT_EQUAL_UINT32(C + 4u + 1u, app.audio.expected);
    /* the board works off its queue and grants credit from the next expected hop */
    const unsigned credits = host.credits;
    while (app_step(&app)) {
    }
    TEST_ASSERT_EQUAL_UINT(credits + C, host.credits);
    TEST_ASSERT_EQUAL_UINT32(C + 5u + C, host.credit.limit);
    TEST_ASSERT_EQUAL_UINT32(C, get_stats()->hops);
}

/* Hops first .. end-1 as a well-behaved host (obeying CREDIT), then the queue worked off. */
static void stream_range(uint32_t first, uint32_t end)
{
    uint32_t next = first;
    while (next < end || app.queue_count > 0u) {
        if (next < end && next < host.credit.limit) {
            send_audio(next++);
        } else {
            TEST_ASSERT_TRUE_MESSAGE(app_step(&app), "no credit and nothing queued: flow control is stuck");
        }
    }
}

/* One AUDIO frame with a good CRC far from the expected hop; returns the status of the ACK it got
 * (1 when it got none). */
static int stray_audio(uint32_t hop)
{
    const unsigned acks = host.acks;
    send_audio(hop);
    if (host.acks == acks) {
        return 1;
    }
    TEST_ASSERT_EQUAL_UINT(acks + 1u, host.acks);
    TEST_ASSERT_EQUAL_UINT(BITEAR_PROTO_AUDIO, host.ack.type);
    TEST_ASSERT_EQUAL_UINT((uint16_t)(host_seq - 1u), host.ack.seq);
    return host.ack.status;
}

void test_one_stray_far_ahead_audio_frame_does_not_kill_the_stream(void)
{
    stream_range(0u, 100u);
    const uint32_t limit = host.credit.limit;
    TEST_ASSERT_EQUAL_INT(BITEAR_ERR_ARG, stray_audio(100u + 100000u)); /* refused, NACKed */
    stream_range(100u, 300u);                /* before the fix: all 200 stale, counted as bad */
    const bitear_proto_stats_t *s = get_stats();
    TEST_ASSERT_EQUAL_UINT32(300, s->audio_frames);
    TEST_ASSERT_EQUAL_UINT32(300, s->hops);
    TEST_ASSERT_EQUAL_UINT32(1, s->bad_commands);
    TEST_ASSERT_EQUAL_UINT32(0, s->frames_dropped + s->overruns + s->resyncs);
    TEST_ASSERT_TRUE(limit <= 100u + C);     /* the stray frame never widened the credit */
    TEST_ASSERT_TRUE(host.seq_ok);
    TEST_ASSERT_EQUAL_UINT(0, host.damaged);
}

void test_a_host_that_renumbers_from_zero_is_followed_after_one_hop(void)
{
    stream_range(0u, 300u);
    TEST_ASSERT_EQUAL_INT(BITEAR_ERR_ARG, stray_audio(0u)); /* far behind: refused, remembered */
    TEST_ASSERT_EQUAL_INT(BITEAR_OK, stray_audio(1u));      /* continues it: resync, told with ACK 0 */
    stream_range(2u, 60u);
    const bitear_proto_stats_t *s = get_stats();
    TEST_ASSERT_EQUAL_UINT32(1, s->resyncs);
    TEST_ASSERT_EQUAL_UINT32(300u + 59u, s->audio_frames);
    TEST_ASSERT_EQUAL_UINT32(300u + 59u, s->hops);
    TEST_ASSERT_EQUAL_UINT32(1, s->bad_commands);
    TEST_ASSERT_EQUAL_UINT32(0, s->frames_dropped + s->overruns);
}

void test_hop_ffffffff_and_huge_jumps_wrap_nothing(void)
{
    stream_range(0u, 200u);
    TEST_ASSERT_EQUAL_INT(BITEAR_ERR_ARG, stray_audio(200u + 0x7FFFFFF0u)); /* far ahead */
    TEST_ASSERT_EQUAL_INT(BITEAR_ERR_ARG, stray_audio(0xFFFFFFFFu));        /* never a stream position */
    TEST_ASSERT_EQUAL_INT(BITEAR_ERR_ARG, stray_audio(0xFFFFFFFFu));
    stream_range(200u, 260u);
    const bitear_proto_stats_t *s = get_stats();
    TEST_ASSERT_EQUAL_UINT32(0, s->frames_dropped); /* before the fix: 4294967294 */
    TEST_ASSERT_EQUAL_UINT32(260, s->audio_frames);
    TEST_ASSERT_EQUAL_UINT32(3, s->bad_commands);
    TEST_ASSERT_EQUAL_UINT32(0, s->resyncs + s->overruns);
    TEST_ASSERT_EQUAL_UINT32(260u + C, host.credit.limit);
}

static int line_busy_flag;

static int line_busy(void *ctx)
{
    (void)ctx;
    return line_busy_flag;
}

void test_a_host_that_stops_reading_costs_results_not_audio(void)
{
    app.tx_busy = line_busy;
    line_busy_flag = 0;
    stream_range(0u, 60u);
    const unsigned results_before = host.n_results, detections_before = host.n_detections;
    uint32_t next = 60u;
    for (int cycle = 0; cycle < 40; cycle++) { /* the host sends what its last CREDIT allows ... */
        line_busy_flag = 1;                    /* ... and stops reading */
        const unsigned credits = host.credits;
        while (next < host.credit.limit) {
            send_audio(next++);
        }
        while (app_step(&app)) {
        }
        TEST_ASSERT_EQUAL_UINT(credits, host.credits); /* nothing written while the line is busy */
        TEST_ASSERT_EQUAL_INT(1, app_flush(&app));     /* the CREDIT waits */
        line_busy_flag = 0;                            /* the host reads again */
        TEST_ASSERT_EQUAL_INT(0, app_flush(&app));
        TEST_ASSERT_EQUAL_UINT(credits + 1u, host.credits);
        TEST_ASSERT_EQUAL_UINT32(next + C, host.credit.limit); /* the whole truth */
    }
    TEST_ASSERT_EQUAL_UINT(results_before, host.n_results); /* every result of the busy time dropped */
    TEST_ASSERT_EQUAL_UINT(detections_before, host.n_detections);
    stream_range(next, next + 60u);                         /* and then results flow again */
    TEST_ASSERT_EQUAL_UINT(results_before + results_expected(next + 60u) - results_expected(next), host.n_results);
    const bitear_proto_stats_t *s = get_stats();
    TEST_ASSERT_EQUAL_UINT32(next + 60u, s->hops);          /* no audio lost */
    TEST_ASSERT_EQUAL_UINT32(next + 60u, s->audio_frames);
    TEST_ASSERT_EQUAL_UINT32(0, s->frames_dropped + s->overruns + s->bad_commands);
    TEST_ASSERT_EQUAL_UINT32(results_expected(next) - results_expected(60u) + s->detections - host.n_detections,
                             s->results_dropped);
    TEST_ASSERT_TRUE(s->results_dropped > 0u);
    TEST_ASSERT_TRUE(host.seq_ok);
    TEST_ASSERT_EQUAL_UINT(0, host.damaged);
}

void test_a_microphone_board_asks_for_no_audio_frames(void)
{
    memset(&host, 0, sizeof host);
    host.seq_ok = 1;
    TEST_ASSERT_EQUAL_INT(BITEAR_OK, bitear_proto_decoder_init(&host.dec));
    TEST_ASSERT_EQUAL_INT(BITEAR_OK, app_init(&app, capture, NULL, 1));
    app_start(&app);
    TEST_ASSERT_EQUAL_UINT(0, host.credit.limit);
    TEST_ASSERT_EQUAL_UINT(0, host.credit.capacity);
    send_audio(0);                          /* sent anyway: an overrun, not queued */
    app_poll_mic(&app);                     /* this board has no microphone: nothing arrives */
    TEST_ASSERT_EQUAL_INT(0, app_step(&app));
    const bitear_proto_stats_t *s = get_stats();
    TEST_ASSERT_EQUAL_UINT32(1, s->overruns);
    TEST_ASSERT_EQUAL_UINT32(0, s->audio_frames);
}

int main(void)
{
    bitear_board_init();
    UNITY_BEGIN();
    RUN_TEST(test_boot_sends_ready_then_credit);
    RUN_TEST(test_a_stream_gives_one_result_every_n_hops_equal_to_the_plugin_run_directly);
    RUN_TEST(test_full_depth_and_always_first_exit_change_the_exits_taken);
    RUN_TEST(test_set_detector_is_checked_and_acknowledged);
    RUN_TEST(test_set_period_changes_the_period_survives_a_stream_reset_and_refuses_0);
    RUN_TEST(test_the_detector_min_count_follows_the_period_until_set_detector);
    RUN_TEST(test_malformed_input_is_counted_and_answered_and_the_app_keeps_working);
    RUN_TEST(test_a_host_ignoring_credit_gets_overruns_gaps_and_stale_hops_counted);
    RUN_TEST(test_one_stray_far_ahead_audio_frame_does_not_kill_the_stream);
    RUN_TEST(test_a_host_that_renumbers_from_zero_is_followed_after_one_hop);
    RUN_TEST(test_hop_ffffffff_and_huge_jumps_wrap_nothing);
    RUN_TEST(test_a_host_that_stops_reading_costs_results_not_audio);
    RUN_TEST(test_a_microphone_board_asks_for_no_audio_frames);
    return UNITY_END();
}
