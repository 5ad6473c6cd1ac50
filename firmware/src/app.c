/* app.c - the bitear keyword-spotting application (contract in app.h): protocol messages in,
 * audio hops through bitear_stream and bitear_detector, RESULT / DETECTION / CREDIT / ACK out.
 *
 * Why N = 4 (an inference every 80 ms). Counted on the emulated Cortex-M4 running this firmware
 * (QEMU -icount; RESULT.cost and the tick counter; tests/test_firmware_stream.py prints them):
 *   - a hop without inference costs ~78 k instructions in all: front end ~27 k, decoding its AUDIO
 *     frame ~11 k, the UART RX interrupt ~40 per byte (the emulated UART holds one byte);
 *   - a hop with an inference costs 753 k at full depth (412 k stopping at the first exit; RESULT.cost,
 *     also shown by host/listen.py); the budget bar for one full-depth network is 2.0 M.
 * At 64 MHz a 20 ms hop is 1.28 M cycles. Average per hop, counting one cycle per instruction:
 *   N = 1: 831 k (65 %; over 100 % at the 2.0 M bar)   N = 2: 454 k (35 %; 84 % at the bar)
 *   N = 4: 266 k (21 %; 45 % at the bar)                N = 5: 229 k (18 %)
 * (measured over a 5 s stream at N = 4: 258 k per hop). N = 4 leaves room for a larger trained
 * network, for more than one cycle per instruction and for sleeping, and still looks at every word
 * many times: a 1 s window moved by 80 ms holds a 0.5 s word whole in ~6 inferences, enough for the
 * detector's average (default window 750 ms: ~9 results; minimum count 3). N = 5 saves little more
 * and coarsens detection times. One inference at the bar (~31 ms) outlasts a hop: AUDIO frames wait under
 * credit (serial), the microphone's samples in the board's 128 ms buffer.
 *
 * A streamable model ("valid" time padding, BITEAR_MODEL_STREAMABLE) runs the streaming runtime
 * instead (bitear_stream.h): every hop feeds its frame, an inference computes only the outputs that
 * are new, so the cost per second of audio hardly depends on N; its default N = 2 (40 ms) keeps the
 * detector's 750 ms window within its 32 results. Figures: README, "Streaming execution".
 * SET_PERIOD changes N at run time; the detector's minimum count follows (app.h).
 */
#include "app.h"

#include <string.h>

#include "bitear_board.h"
#include "bitear_model.h"

#ifndef BITEAR_MODEL_NEVER_EVENT_MASK
#error "tables without BITEAR_MODEL_NEVER_EVENT_MASK (codegen < 1.2): regenerate them with python -m codegen CHECKPOINT"
#endif
#if APP_INFER_EVERY < 1 || APP_INFER_EVERY > 255
#error "APP_INFER_EVERY must fit READY.infer_every (1 .. 255)"
#endif
#if APP_QUEUE_HOPS < 1 || APP_QUEUE_HOPS > 255
#error "APP_QUEUE_HOPS must be 1 .. 255"
#endif
#if BITEAR_MODEL_CLASSES > BITEAR_DETECTOR_MAX_CLASSES || BITEAR_MODEL_CLASSES > BITEAR_PROTO_MAX_CLASSES
#error "the network has more classes than the detector or RESULT can carry"
#endif
#if APP_MODEL_ID_CHARS > BITEAR_PROTO_MAX_MODEL_CHARS
#error "the model identity is longer than READY may carry"
#endif
#if BITEAR_FRONTEND_HOP != BITEAR_PROTO_AUDIO_SAMPLES
#error "an AUDIO frame must carry exactly one front-end hop"
#endif

/* ---- sending --------------------------------------------------------------------------------- */

static void send(app_t *app, bitear_proto_msg_t *msg)
{
    size_t len;
    msg->seq = app->tx_seq;
    if (bitear_proto_encode(msg, app->tx, sizeof app->tx, &len) == BITEAR_OK) {
        app->tx_seq++;
        app->write(app->write_ctx, app->tx, len);
    }
}

/* The line cannot take a frame now: the host is not reading (app.h). */
static int line_busy(const app_t *app)
{
    return app->tx_busy != NULL && app->tx_busy(app->write_ctx);
}

static void count_dropped_result(app_t *app)
{
    if (app->stats.results_dropped < UINT32_MAX) {
        app->stats.results_dropped++;
    }
}

static unsigned audio_capacity(const app_t *app)
{
    return app->mic ? 0u : APP_QUEUE_HOPS; /* a microphone board takes no AUDIO frames */
}

static uint32_t current_limit(const app_t *app)
{
    return bitear_proto_credit_limit(app->audio.expected, app->mic ? 0u : app->queue_count, audio_capacity(app));
}

static void send_credit(app_t *app)
{
    bitear_proto_msg_t msg = {.type = BITEAR_PROTO_CREDIT};
    msg.body.credit.limit = current_limit(app);
    msg.body.credit.capacity = (uint16_t)audio_capacity(app);
    app->credit_limit = msg.body.credit.limit;
    app->credit_pending = 0u;
    send(app, &msg);
}

static void send_ready(app_t *app)
{
    char model_id[APP_MODEL_ID_CHARS + 1];
    char labels[BITEAR_MODEL_CLASSES * (BITEAR_PROTO_MAX_LABEL_CHARS + 1u)];
    memcpy(model_id, BITEAR_MODEL_SHA256, APP_MODEL_ID_CHARS);
    model_id[APP_MODEL_ID_CHARS] = '\0';
    const size_t labels_len = bitear_proto_labels_join(bitear_model_labels, BITEAR_MODEL_CLASSES, labels,
                                                       sizeof labels);
    bitear_proto_msg_t msg = {.type = BITEAR_PROTO_READY};
    bitear_proto_ready_t *r = &msg.body.ready;
    r->sample_rate_hz = BITEAR_SAMPLE_RATE;
    r->hop_samples = BITEAR_FRONTEND_HOP;
    r->infer_every_hops = (uint8_t)app->stream.infer_every; /* the current period (SET_PERIOD) */
    r->classes = BITEAR_MODEL_CLASSES;
    r->exits = BITEAR_MODEL_EXITS;
    r->cost_unit = bitear_board_cost_unit(); /* what RESULT.cost counts on this board */
    r->board = bitear_board_name();
    r->model = model_id;
    r->labels = labels;
    r->labels_len = (uint16_t)labels_len;
    send(app, &msg); /* labels that do not fit: the encoder refuses, nothing is sent */
}

static void send_ack(app_t *app, uint16_t seq, uint8_t type, bitear_status_t status)
{
    bitear_proto_msg_t msg = {.type = BITEAR_PROTO_ACK};
    msg.body.ack.seq = seq;
    msg.body.ack.type = type;
    msg.body.ack.status = (int16_t)status;
    send(app, &msg);
}

static void send_stats(app_t *app)
{
    bitear_proto_msg_t msg = {.type = BITEAR_PROTO_STATS};
    app_stats(app, &msg.body.stats);
    send(app, &msg);
}

/* ---- state ----------------------------------------------------------------------------------- */

static void reset_stats(app_t *app)
{
    memset(&app->stats, 0, sizeof app->stats);
    memset(&app->decoder.counters, 0, sizeof app->decoder.counters);
    app->rx_dropped_base = bitear_board_rx_dropped();
    app->mic_dropped_base = bitear_board_mic_dropped();
}

/* Audio history, feature window, detector history and queue cleared; next AUDIO hop 0. The exit
 * thresholds and the detector's parameters stay as the host set them. */
static bitear_status_t restart_stream(app_t *app)
{
    int32_t thresholds[BITEAR_MODEL_EARLY_EXITS_ALLOC];
    for (int e = 0; e < BITEAR_MODEL_EARLY_EXITS; e++) {
        (void)bitear_stream_get_threshold(&app->stream, e, &thresholds[e]);
    }
    bitear_status_t st = bitear_stream_init(&app->stream, app->stream.infer_every); /* period kept */
    for (int e = 0; e < BITEAR_MODEL_EARLY_EXITS && st == BITEAR_OK; e++) {
        st = bitear_stream_set_threshold(&app->stream, e, thresholds[e]);
    }
    if (st == BITEAR_OK) {
        st = bitear_detector_reset(&app->detector);
    }
    app->queue_head = 0u;
    app->queue_count = 0u;
    app->mic_fill = 0u;
    app->audio.expected = 0u;
    app->audio.resync_hop = 0u;
    return st;
}

bitear_status_t app_init(app_t *app, app_write_fn write, void *ctx, int mic)
{
    if (app == NULL || write == NULL) {
        return BITEAR_ERR_NULL;
    }
    memset(app, 0, sizeof *app);
    app->write = write;
    app->write_ctx = ctx;
    app->mic = mic ? 1u : 0u;

    bitear_detector_params_t params = {
        .classes = BITEAR_MODEL_CLASSES,
        .window_ms = BITEAR_DETECTOR_DEFAULT_WINDOW_MS,
        .threshold_q15 = BITEAR_DETECTOR_DEFAULT_THRESHOLD_Q15,
        .suppression_ms = BITEAR_DETECTOR_DEFAULT_SUPPRESSION_MS,
        .min_count = app_detector_min_count(APP_INFER_EVERY), /* the span of app.h */
        .never_mask = BITEAR_MODEL_NEVER_EVENT_MASK, /* _silence_, _unknown_ when the model has them */
    };
    bitear_status_t st = bitear_stream_init(&app->stream, APP_INFER_EVERY);
    if (st == BITEAR_OK) {
        st = bitear_detector_init(&app->detector, &params);
    }
    if (st == BITEAR_OK) {
        st = bitear_proto_decoder_init(&app->decoder);
    }
    reset_stats(app);
    app->credit_limit = current_limit(app);
    return st;
}

void app_start(app_t *app)
{
    send_ready(app);
    send_credit(app);
}

/* ---- messages -------------------------------------------------------------------------------- */

/* Admission by the rule of docs/protocol.md section 4. AUDIO is not acknowledged, except a frame
 * that moved the stream position (a CREDIT, then ACK status 0) or was refused as far off (NACK
 * BITEAR_ERR_ARG). */
static void take_audio(app_t *app, const bitear_proto_audio_t *audio, uint16_t seq)
{
    const int r = bitear_proto_audio_admit(&app->audio, audio->hop, app->queue_count, audio_capacity(app), &app->stats);
    if (r & BITEAR_PROTO_ADMIT_QUEUE) {
        const unsigned slot = (app->queue_head + app->queue_count) % APP_QUEUE_HOPS;
        bitear_proto_audio_samples(audio, app->queue[slot]);
        app->queue_count++;
    }
    if (r & BITEAR_PROTO_ADMIT_RESYNC) {
        send_credit(app); /* the limit moved with the stream position: the whole truth first */
        send_ack(app, seq, BITEAR_PROTO_AUDIO, BITEAR_OK);
    } else if (r & BITEAR_PROTO_ADMIT_REFUSED) {
        send_ack(app, seq, BITEAR_PROTO_AUDIO, BITEAR_ERR_ARG);
    }
}

static bitear_status_t set_threshold(app_t *app, const bitear_proto_set_threshold_t *p)
{
    const int exit_index = p->exit_index == BITEAR_PROTO_EXIT_ALL ? BITEAR_MODEL_ALL_EXITS : (int)p->exit_index;
    return bitear_stream_set_threshold(&app->stream, exit_index, p->threshold_q16);
}

static bitear_status_t set_detector(app_t *app, const bitear_proto_set_detector_t *p)
{
    bitear_detector_params_t params = app->detector.params;
    params.window_ms = p->window_ms;
    params.threshold_q15 = p->threshold_q15;
    params.suppression_ms = p->suppression_ms;
    params.min_count = p->min_count;
    return bitear_detector_set_params(&app->detector, &params);
}

/* The inference period (0: BITEAR_ERR_ARG, nothing changes), and the detector's minimum count that keeps
 * APP_DETECTOR_MIN_SPAN_MS (app.h; the detector's history is cleared, as by SET_DETECTOR). */
static bitear_status_t set_period(app_t *app, uint8_t infer_every)
{
    bitear_status_t st = bitear_stream_set_period(&app->stream, infer_every);
    if (st == BITEAR_OK) {
        bitear_detector_params_t params = app->detector.params;
        params.min_count = app_detector_min_count(infer_every);
        st = bitear_detector_set_params(&app->detector, &params);
    }
    return st;
}

static bitear_status_t reset(app_t *app, uint8_t flags)
{
    if ((flags & ~(BITEAR_PROTO_RESET_STATS | BITEAR_PROTO_RESET_STREAM)) != 0u) {
        return BITEAR_ERR_ARG;
    }
    bitear_status_t st = BITEAR_OK;
    if (flags & BITEAR_PROTO_RESET_STATS) {
        reset_stats(app);
        (void)bitear_stream_reset_stats(&app->stream);
    }
    if (flags & BITEAR_PROTO_RESET_STREAM) {
        st = restart_stream(app);
        send_credit(app); /* the limit starts again from hop 0 */
    }
    return st;
}

static void handle(app_t *app, const bitear_proto_msg_t *msg)
{
    bitear_status_t st = BITEAR_OK;
    switch (msg->type) {
    case BITEAR_PROTO_AUDIO:
        take_audio(app, &msg->body.audio, msg->seq);
        return; /* acknowledged only on a resync or refusal */
    case BITEAR_PROTO_HELLO:
        app_start(app);
        break;
    case BITEAR_PROTO_SET_THRESHOLD:
        st = set_threshold(app, &msg->body.set_threshold);
        break;
    case BITEAR_PROTO_SET_DETECTOR:
        st = set_detector(app, &msg->body.set_detector);
        break;
    case BITEAR_PROTO_GET_STATS:
        send_stats(app);
        break;
    case BITEAR_PROTO_RESET:
        st = reset(app, msg->body.reset.flags);
        break;
    case BITEAR_PROTO_SET_PERIOD:
        st = set_period(app, msg->body.set_period.infer_every);
        break;
    default: /* a well-formed board -> host message sent to the board */
        app->stats.unknown_commands++;
        send_ack(app, msg->seq, msg->type, BITEAR_ERR_UNSUPPORTED);
        return;
    }
    if (st < 0) {
        app->stats.bad_commands++; /* a value out of range */
    }
    send_ack(app, msg->seq, msg->type, st);
}

void app_rx(app_t *app, const uint8_t *data, size_t n)
{
    while (n > 0u) {
        bitear_proto_msg_t msg;
        size_t used = 0u;
        const bitear_status_t st = bitear_proto_decoder_feed_bytes(&app->decoder, data, n, &used, &msg);
        if (used == 0u) {
            return; /* cannot happen with n > 0; never loop forever */
        }
        data += used;
        n -= used;
        if (st == BITEAR_PROTO_MESSAGE) {
            handle(app, &msg);
        } else if (st < 0 && msg.type != 0u) {
            send_ack(app, msg.seq, msg.type, st); /* passed its CRC but unusable: NACK (counted) */
        } /* damaged frames (COBS, CRC, ...) are only counted: their seq cannot be trusted */
    }
}

/* ---- audio ----------------------------------------------------------------------------------- */

void app_poll_mic(app_t *app)
{
    if (!app->mic) {
        return;
    }
    while (app->queue_count < APP_QUEUE_HOPS) { /* a full queue: samples wait in the board's buffer */
        int16_t *slot = app->queue[(app->queue_head + app->queue_count) % APP_QUEUE_HOPS];
        app->mic_fill += (uint16_t)bitear_board_mic_read(slot + app->mic_fill, BITEAR_FRONTEND_HOP - app->mic_fill);
        if (app->mic_fill < BITEAR_FRONTEND_HOP) {
            return;
        }
        app->mic_fill = 0u;
        app->queue_count++;
    }
}

static void report(app_t *app, const bitear_result_t *r, uint32_t cost)
{
    const uint32_t hop = app->stream.hops;
    bitear_proto_msg_t msg = {.type = BITEAR_PROTO_RESULT};
    bitear_proto_result_t *res = &msg.body.result;
    app->stats.inferences++;
    res->hop = hop;
    res->label = (uint8_t)r->label;
    res->exit_index = (uint8_t)r->exit_index;
    res->score_q15 = r->scores_q15[r->label];
    res->entropy_q16 = r->entropy_q16;
    res->cost = cost;
    res->classes = BITEAR_MODEL_CLASSES;
    memcpy(res->scores_q15, r->scores_q15, sizeof r->scores_q15);
    if (line_busy(app)) {
        count_dropped_result(app); /* the host is not reading: drop the result, never the audio */
    } else {
        send(app, &msg);
    }

    bitear_detector_event_t ev;
    if (bitear_detector_process(&app->detector, hop * APP_HOP_MS, r->scores_q15, &ev) == BITEAR_OK && ev.is_new) {
        app->stats.detections++;
        bitear_proto_msg_t det = {.type = BITEAR_PROTO_DETECTION};
        det.body.detection.hop = hop;
        det.body.detection.label = (uint8_t)ev.label;
        det.body.detection.score_q15 = ev.score_q15;
        if (line_busy(app)) {
            count_dropped_result(app);
        } else {
            send(app, &det);
        }
    }
}

int app_step(app_t *app)
{
    if (app->queue_count == 0u) {
        return 0;
    }
    bitear_result_t result;
    int ready = 0;
    const uint32_t t0 = bitear_board_ticks();
    const bitear_status_t st = bitear_stream_push_hop(&app->stream, app->queue[app->queue_head], &result, &ready);
    const uint32_t ticks = bitear_board_ticks() - t0;
    app->queue_head = (uint8_t)((app->queue_head + 1u) % APP_QUEUE_HOPS);
    app->queue_count--;
    app->stats.hops++;
    if (current_limit(app) != app->credit_limit) {
        if (line_busy(app)) {
            app->credit_pending = 1u; /* the host is not reading: app_flush sends it later */
        } else {
            send_credit(app); /* the slot is free again: first, so the host can send the next hop */
        }
    }
    if (st == BITEAR_OK && ready) {
        report(app, &result, bitear_board_cost(ticks));
    }
    return 1;
}

int app_flush(app_t *app)
{
    if (app->credit_pending && !line_busy(app)) {
        send_credit(app); /* the whole truth: the limit now */
    }
    return app->credit_pending;
}

void app_stats(const app_t *app, bitear_proto_stats_t *out)
{
    bitear_proto_stats_t dec;
    memset(&dec, 0, sizeof dec);
    bitear_proto_stats_from_decoder(&app->decoder, &dec);
    *out = app->stats;
    out->frames_received = dec.frames_received;
    out->crc_errors = dec.crc_errors;
    out->framing_errors = dec.framing_errors;
    out->unknown_commands += dec.unknown_commands;
    out->bad_commands += dec.bad_commands;
    out->rx_dropped = bitear_board_rx_dropped() - app->rx_dropped_base;
    /* microphone samples the board lost, in hops (rounded up) */
    out->overruns += (bitear_board_mic_dropped() - app->mic_dropped_base + BITEAR_FRONTEND_HOP - 1u) /
                     BITEAR_FRONTEND_HOP;
    out->stack_used = (uint32_t)bitear_board_stack_used();
    out->stack_size = (uint32_t)bitear_board_stack_size();
}
