/* app.h - the bitear keyword-spotting application, without the board's main loop: serial
 * protocol in (docs/protocol.md), audio hops through the plugin, results and events out.
 *
 * Contract. One app_t (fixed size, static storage, no dynamic memory) holds everything: the
 * protocol decoder, a queue of APP_QUEUE_HOPS audio hops, the stream (front end -> network every
 * N hops, the window or the streaming runtime as the model's tables say, bitear_stream.h; N = APP_INFER_EVERY at init, then as the host's
 * SET_PERIOD says, kept over a stream RESET and reported in READY) and the keyword detector
 * (bitear_detector.h). The board's loop (main.c) moves bytes and calls in:
 *
 *   static app_t app;
 *   app_init(&app, write_frame, NULL, mic);   // mic: 1 when audio comes from the board's microphone
 *   app_start(&app);                           // READY banner + CREDIT
 *   loop:
 *     app_rx(&app, bytes, n);                  // received bytes, any run length: AUDIO is queued,
 *                                              // commands are done and ACKed at once
 *     app_poll_mic(&app);                      // microphone boards: samples into the queue
 *     if (!app_step(&app) && !app_flush(&app))  // one queued hop: front end, every N hops an
 *         sleep until input;                   // inference -> RESULT (+ DETECTION), then CREDIT;
 *                                              // app_flush: a CREDIT deferred while the line was busy
 *
 * Every frame the application sends goes through write(ctx, frame, len), one whole frame per
 * call (main.c: the UART; the Unity test: a capture buffer). Audio comes either from AUDIO frames
 * under credit flow control (emulated board, boards without a microphone) or from the microphone
 * (then CREDIT.limit stays at the next expected hop: the host is not asked for audio, and AUDIO
 * frames it sends anyway count as overruns).
 *
 * A host that stops reading (docs/protocol.md section 4, "A host that stops reading"): with
 * `app.tx_busy` set (main.c: bitear_board_tx_busy), a RESULT or DETECTION the line cannot take now
 * is dropped and counted (STATS.results_dropped) and the CREDIT that follows a processed hop is
 * deferred to app_flush, so the application never waits on the line while audio is queued: it
 * keeps decoding what arrives and processing hops. Replies to commands (READY, CREDIT of a
 * RESET, STATS, ACK) are always sent: the host that asked reads them.
 *
 * RESULT.cost is the work of the hop that produced the result (its front end, the window shift and
 * the network; not the detector or the serial line; interrupt handlers that ran meanwhile, e.g. for
 * received bytes, are included: a few k at most), in READY.cost_unit, as the board says
 * (bitear_board_cost_unit, bitear_board_cost): qemu_m4 (QEMU -icount shift=0, as host/emulator.py
 * and `pio test` run it): instructions = SysTick ticks x 40; Cortex-M4 Arduino boards: DWT
 * cycles; other boards and the host build: microseconds.
 */
#ifndef BITEAR_APP_H
#define BITEAR_APP_H

#include <stddef.h>
#include <stdint.h>

#include "bitear_detector.h"
#include "bitear_protocol.h"
#include "bitear_stream.h"

/* An inference every N hops of 20 ms after init, the runtime's default (bitear_stream.h; app.c,
 * "Why N = 4"); SET_PERIOD changes it. */
#ifndef APP_INFER_EVERY
#define APP_INFER_EVERY BITEAR_STREAM_DEFAULT_PERIOD
#endif

/* AUDIO hops the application queues (CREDIT.capacity). The board's RX buffer must hold this many
 * whole AUDIO frames (BITEAR_PROTO_MAX_FRAME bytes each) plus a few commands: under credit the
 * host never has more in flight. 2 hops (40 ms, 1280 bytes + a 2 KB RX ring) stream through the
 * emulator about as fast as 4 or 8 (measured 41-44 vs 44-46 hops/s) for 2-9 KB less RAM. */
#ifndef APP_QUEUE_HOPS
#define APP_QUEUE_HOPS 2
#endif

/* Characters of the checkpoint's sha256 (hex) in READY's model identity. */
#define APP_MODEL_ID_CHARS 16

/* Largest frame the application sends (READY with the labels; RESULT with 12 scores is 49). */
#define APP_TX_BYTES 256

/* The detector's clock: hop index x this many ms. */
#define APP_HOP_MS ((uint32_t)BITEAR_FRONTEND_HOP * 1000u / (uint32_t)BITEAR_SAMPLE_RATE)

/* The detector's minimum count as a time span: the default count at the period it was chosen for
 * (3 results x 4 hops of 20 ms = 240 ms). The application keeps this span whatever the period: at init
 * and on every SET_PERIOD it sets min_count = app_detector_min_count(N) (a later SET_DETECTOR may set
 * another). host/detector.py, min_count_for_period, is the same rule in Python. */
#define APP_DETECTOR_MIN_SPAN_MS (BITEAR_DETECTOR_DEFAULT_MIN_COUNT * 80u)

/* The results an inference every infer_every hops (1 .. 255; 0 is taken as 1) puts in
 * APP_DETECTOR_MIN_SPAN_MS, rounded up, within 1 .. BITEAR_DETECTOR_CAPACITY: 12 at N = 1, 6 at 2,
 * 4 at 3, 3 at 4 and 5, 1 from 12 on. */
static inline uint8_t app_detector_min_count(uint8_t infer_every)
{
    const uint32_t period_ms = (infer_every > 0u ? (uint32_t)infer_every : 1u) * APP_HOP_MS;
    const uint32_t count = (APP_DETECTOR_MIN_SPAN_MS + period_ms - 1u) / period_ms;
    if (count < 1u) {
        return 1u;
    }
    return (uint8_t)(count > (uint32_t)BITEAR_DETECTOR_CAPACITY ? (uint32_t)BITEAR_DETECTOR_CAPACITY : count);
}

typedef void (*app_write_fn)(void *ctx, const uint8_t *frame, size_t len);
/* 1 when the line cannot take a frame now (the host is not reading); called with write_ctx. */
typedef int (*app_busy_fn)(void *ctx);

typedef struct {
    bitear_stream_t stream;       /* front end, feature window, network (its thresholds, stats) */
    bitear_detector_t detector;   /* keyword events from RESULT scores */
    bitear_proto_decoder_t decoder;
    int16_t queue[APP_QUEUE_HOPS][BITEAR_FRONTEND_HOP]; /* hops waiting for the front end */
    uint8_t queue_head;           /* slot of the oldest queued hop */
    uint8_t queue_count;          /* hops queued */
    uint16_t mic_fill;            /* samples already in the slot after the last queued hop (mic) */
    uint8_t mic;                  /* 1: audio from the microphone, not from AUDIO frames */
    bitear_proto_audio_window_t audio; /* next AUDIO hop wanted, pending resync (bitear_protocol.h) */
    uint32_t credit_limit;        /* CREDIT.limit last sent */
    uint8_t credit_pending;       /* 1: a CREDIT was deferred because the line was busy */
    bitear_proto_stats_t stats;   /* the application's counters (the decoder's are added at STATS) */
    uint32_t rx_dropped_base;     /* board's count at the last statistics reset */
    uint32_t mic_dropped_base;
    uint16_t tx_seq;              /* seq of the next frame sent */
    app_write_fn write;
    void *write_ctx;
    app_busy_fn tx_busy;          /* optional, set after app_init (NULL: the line is never busy) */
    uint8_t tx[APP_TX_BYTES];     /* the frame being sent */
} app_t;

/* Everything reset: stream with default exit thresholds, default detector, empty queue, zero
 * statistics, next AUDIO hop 0, seq 0. Sends nothing. BITEAR_ERR_NULL, or an error of the plugin. */
bitear_status_t app_init(app_t *app, app_write_fn write, void *ctx, int mic);

/* The start-up banner: READY, then CREDIT. */
void app_start(app_t *app);

/* Received bytes (any split: a frame may end in a later call). Messages are handled in order as
 * they complete: AUDIO is admitted into the queue (docs/protocol.md section 4), commands take
 * effect and are ACKed (with any reply first), unusable frames are NACKed, damaged ones counted. */
void app_rx(app_t *app, const uint8_t *data, size_t n);

/* Sends a CREDIT deferred while the line was busy, once it is free. Returns 1 while one is still
 * deferred (then the board's loop should not sleep: nothing else will wake it to send it). */
int app_flush(app_t *app);

/* Microphone boards: move waiting samples into the queue while it has room. */
void app_poll_mic(app_t *app);

/* Process the oldest queued hop: front end, and on every N-th hop (once 49 are in) an inference,
 * sent as RESULT, and the detector (DETECTION on a keyword event); CREDIT when the limit grew.
 * Returns 1 when a hop was processed, 0 when the queue was empty (nothing to do). */
int app_step(app_t *app);

/* The STATS values as sent (application + decoder counters, board's RX losses, stack). */
void app_stats(const app_t *app, bitear_proto_stats_t *out);

#endif /* BITEAR_APP_H */
