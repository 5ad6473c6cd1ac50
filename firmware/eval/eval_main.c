/* eval_main.c - evaluation build of bitear for the emulated board (PlatformIO env qemu_m4_eval).
 *
 * Why: the emulated UART moves only ~30-45 kB/s, far too slow to stream thousands of clips.
 * This program runs the very same plugin code as the firmware (bitear_stream: front end ->
 * window -> early-exit network; bitear_detector) but reads its audio from a host file and writes
 * its results to a host file through Arm semihosting (QEMU -semihosting-config
 * enable=on,target=native; the files are opened relative to QEMU's working directory).
 * host/evaluate.py and host/streaming_quality.py write the input, run QEMU, read the output.
 *
 * Input  "eval_in.bin" (all little-endian):
 *   header, 28 bytes: magic "BEVI", u16 version (2), u16 mode (1 = clips, 2 = stream),
 *     u32 count (clips, or hops in stream mode), u16 infer_every (stream mode),
 *     u16 detector window_ms, i32 exit threshold (Q16 for all early exits; -1 = full depth;
 *     EVAL_THRESHOLD_DEFAULT = keep the model's defaults), u16 detector threshold_q15,
 *     u16 detector suppression_ms, u8 detector min_count, 3 bytes 0
 *   then the audio: clips: count x 16000 int16; stream: count x 320 int16.
 * Output "eval_out.bin":
 *   header, 16 bytes: magic "BEVO", u16 version, u8 classes, u8 exits, u32 tick_hz, u32 reserved
 *   records: 'R' result:    u8 'R', u8 label, u8 exit, u8 classes, u32 hop, u32 entropy_q16,
 *                           u32 ticks (the hop that inferred: front end + network),
 *                           u32 ticks of the hop before (front end only), i32 logits[classes],
 *                           u16 scores_q15[classes]
 *            'D' detection: u8 'D', u8 label, u16 score_q15, u32 hop
 *            'E' end:       u8 'E', u8 0, u16 0, u32 hops, u32 inferences, u32 stack bytes used,
 *                           u32 ticks of all hops (stream mode: the cost of the whole stream),
 *                           u32 ticks of the dearest hop
 *   The exit code of QEMU is 0 on success, else one of the EVAL_ERR_* codes below.
 *
 * Clip mode, alignment: a clip's 50 hops are pushed right after CLIP_BLOCK_HOPS - 50 (>= 1) hops of
 * zeros (the front end's history is then all zeros, as after bitear_frontend_init), the stream
 * infers every CLIP_BLOCK_HOPS hops, and 49 hops of zeros come first, so exactly one inference lands
 * on each clip's last hop: its window is the clip's 49 frames, bit for bit what
 * bitear_frontend_clip computes (model.frontend.compute_features on the host). CLIP_BLOCK_HOPS is
 * 51 rounded up to a multiple of BITEAR_MODEL_STREAM_ALIGN_FRAMES, so with the streaming runtime every
 * clip ends on an aligned hop, where its result equals bitear_model_infer on that window.
 */
#include <stdint.h>
#include <string.h>

#include "bitear_board.h"
#include "bitear_detector.h"
#include "bitear_stream.h"

#ifndef BITEAR_MODEL_NEVER_EVENT_MASK
#error "tables without BITEAR_MODEL_NEVER_EVENT_MASK (codegen < 1.2): regenerate them with python -m codegen CHECKPOINT"
#endif

#define EVAL_VERSION 2u
#define EVAL_MODE_CLIPS 1u
#define EVAL_MODE_STREAM 2u
#define EVAL_THRESHOLD_DEFAULT INT32_MAX
#define CLIP_HOPS 50u /* 16000 samples */
#define CLIP_BLOCK_HOPS \
    (((CLIP_HOPS + 1u + BITEAR_MODEL_STREAM_ALIGN_FRAMES - 1u) / BITEAR_MODEL_STREAM_ALIGN_FRAMES) * BITEAR_MODEL_STREAM_ALIGN_FRAMES)

enum {
    EVAL_ERR_OPEN = 2,
    EVAL_ERR_HEADER = 3,
    EVAL_ERR_READ = 4,
    EVAL_ERR_STREAM = 5,
    EVAL_ERR_WRITE = 6,
    EVAL_ERR_ALIGN = 7,
};

/* ---- Arm semihosting ---------------------------------------------------------------------- */

#define SYS_OPEN 0x01u
#define SYS_CLOSE 0x02u
#define SYS_WRITE 0x05u
#define SYS_READ 0x06u

static int32_t semihost(uint32_t op, const void *args)
{
    register uint32_t r0 __asm__("r0") = op;
    register uint32_t r1 __asm__("r1") = (uint32_t)(uintptr_t)args;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return (int32_t)r0;
}

static int32_t sh_open(const char *name, uint32_t mode) /* mode 1 = "rb", 5 = "wb" */
{
    const uint32_t args[3] = {(uint32_t)(uintptr_t)name, mode, (uint32_t)strlen(name)};
    return semihost(SYS_OPEN, args);
}

static int sh_read(int32_t fd, void *buf, uint32_t n) /* 1 when all n bytes were read */
{
    const uint32_t args[3] = {(uint32_t)fd, (uint32_t)(uintptr_t)buf, n};
    return semihost(SYS_READ, args) == 0;
}

static int32_t out_fd = -1;

static void sh_write_or_die(const void *buf, uint32_t n)
{
    const uint32_t args[3] = {(uint32_t)out_fd, (uint32_t)(uintptr_t)buf, n};
    if (semihost(SYS_WRITE, args) != 0) {
        bitear_board_exit(EVAL_ERR_WRITE);
    }
}

static void sh_close(int32_t fd)
{
    const uint32_t args[1] = {(uint32_t)fd};
    (void)semihost(SYS_CLOSE, args);
}

/* ---- little-endian helpers ------------------------------------------------------------------ */

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)get16(p) | ((uint32_t)get16(p + 2) << 16); }

static uint8_t *put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    return p + 2;
}

static uint8_t *put32(uint8_t *p, uint32_t v)
{
    return put16(put16(p, (uint16_t)v), (uint16_t)(v >> 16));
}

/* ---- the evaluation ------------------------------------------------------------------------- */

static bitear_stream_t stream;
static bitear_detector_t detector;
static int16_t hop_samples[BITEAR_FRONTEND_HOP];
static uint8_t record[16 + 6 * BITEAR_MODEL_CLASSES];

static void write_result(const bitear_result_t *r, uint32_t hop, uint32_t ticks, uint32_t ticks_before)
{
    uint8_t *p = record;
    *p++ = 'R';
    *p++ = (uint8_t)r->label;
    *p++ = (uint8_t)r->exit_index;
    *p++ = (uint8_t)BITEAR_MODEL_CLASSES;
    p = put32(p, hop);
    p = put32(p, r->entropy_q16);
    p = put32(p, ticks);
    p = put32(p, ticks_before);
    for (unsigned c = 0; c < BITEAR_MODEL_CLASSES; c++) {
        p = put32(p, (uint32_t)r->logits[c]);
    }
    for (unsigned c = 0; c < BITEAR_MODEL_CLASSES; c++) {
        p = put16(p, r->scores_q15[c]);
    }
    sh_write_or_die(record, (uint32_t)(p - record));
}

static void write_detection(const bitear_detector_event_t *ev, uint32_t hop)
{
    uint8_t *p = record;
    *p++ = 'D';
    *p++ = (uint8_t)ev->label;
    p = put16(p, ev->score_q15);
    p = put32(p, hop);
    sh_write_or_die(record, (uint32_t)(p - record));
}

/* One hop through the stream; returns 1 when it ran an inference. last_ticks: its ticks;
 * total_ticks, max_ticks: over all hops pushed. */
static uint32_t last_ticks;
static uint32_t total_ticks;
static uint32_t max_ticks;

static int push(const int16_t *samples, bitear_result_t *result)
{
    int ready = 0;
    const uint32_t t0 = bitear_board_ticks();
    if (bitear_stream_push_hop(&stream, samples, result, &ready) != BITEAR_OK) {
        bitear_board_exit(EVAL_ERR_STREAM);
    }
    last_ticks = bitear_board_ticks() - t0;
    total_ticks += last_ticks;
    if (last_ticks > max_ticks) {
        max_ticks = last_ticks;
    }
    return ready;
}

int main(void)
{
    bitear_board_init();
    const int32_t in_fd = sh_open("eval_in.bin", 1u);
    out_fd = sh_open("eval_out.bin", 5u);
    if (in_fd < 0 || out_fd < 0) {
        return EVAL_ERR_OPEN;
    }
    uint8_t h[28];
    if (!sh_read(in_fd, h, sizeof h) || memcmp(h, "BEVI", 4) != 0 || get16(h + 4) != EVAL_VERSION) {
        return EVAL_ERR_HEADER;
    }
    const uint16_t mode = get16(h + 6);
    const uint32_t count = get32(h + 8);
    const uint16_t infer_every = get16(h + 12);
    const int32_t threshold = (int32_t)get32(h + 16);
    const bitear_detector_params_t params = {
        .classes = BITEAR_MODEL_CLASSES,
        .never_mask = BITEAR_MODEL_NEVER_EVENT_MASK, /* _silence_, _unknown_ when the model has them */
        .window_ms = get16(h + 14),
        .threshold_q15 = get16(h + 20),
        .suppression_ms = get16(h + 22),
        .min_count = h[24],
    };
    const unsigned period = mode == EVAL_MODE_CLIPS ? CLIP_BLOCK_HOPS : infer_every;
    if ((mode != EVAL_MODE_CLIPS && mode != EVAL_MODE_STREAM) || bitear_stream_init(&stream, period) != BITEAR_OK
        || bitear_detector_init(&detector, &params) != BITEAR_OK) {
        return EVAL_ERR_HEADER;
    }
    if (threshold != EVAL_THRESHOLD_DEFAULT
        && bitear_stream_set_threshold(&stream, BITEAR_MODEL_ALL_EXITS, threshold) != BITEAR_OK) {
        return EVAL_ERR_HEADER;
    }

    uint8_t *p = record;
    memcpy(p, "BEVO", 4);
    p = put16(p + 4, EVAL_VERSION);
    *p++ = (uint8_t)BITEAR_MODEL_CLASSES;
    *p++ = (uint8_t)BITEAR_MODEL_EXITS;
    p = put32(p, bitear_board_tick_hz());
    p = put32(p, 0u);
    sh_write_or_die(record, (uint32_t)(p - record));

    bitear_result_t result;
    if (mode == EVAL_MODE_CLIPS) {
        memset(hop_samples, 0, sizeof hop_samples);
        for (unsigned i = 0; i < BITEAR_MODEL_FRAMES; i++) { /* warm-up: the first inference, on zeros */
            (void)push(hop_samples, &result);
        }
        for (uint32_t clip = 0; clip < count; clip++) {
            memset(hop_samples, 0, sizeof hop_samples);
            for (unsigned k = CLIP_HOPS; k < CLIP_BLOCK_HOPS; k++) {
                if (push(hop_samples, &result)) {
                    return EVAL_ERR_ALIGN;
                }
            }
            uint32_t ticks_before = last_ticks;
            for (unsigned k = 0; k < CLIP_HOPS; k++) {
                if (!sh_read(in_fd, hop_samples, sizeof hop_samples)) {
                    return EVAL_ERR_READ;
                }
                const int ready = push(hop_samples, &result);
                if (ready != (k == CLIP_HOPS - 1u)) {
                    return EVAL_ERR_ALIGN;
                }
                if (ready) {
                    write_result(&result, stream.hops, last_ticks, ticks_before);
                }
                ticks_before = last_ticks;
            }
        }
    } else {
        uint32_t ticks_before = 0u;
        for (uint32_t hop = 0; hop < count; hop++) {
            if (!sh_read(in_fd, hop_samples, sizeof hop_samples)) {
                return EVAL_ERR_READ;
            }
            if (push(hop_samples, &result)) {
                write_result(&result, stream.hops, last_ticks, ticks_before);
                bitear_detector_event_t ev;
                if (bitear_detector_process(&detector, stream.hops * 20u, result.scores_q15, &ev) != BITEAR_OK) {
                    return EVAL_ERR_STREAM;
                }
                if (ev.is_new) {
                    write_detection(&ev, stream.hops);
                }
            }
            ticks_before = last_ticks;
        }
    }

    p = record;
    *p++ = 'E';
    *p++ = 0u;
    p = put16(p, 0u);
    p = put32(p, stream.hops);
    p = put32(p, stream.inferences);
    p = put32(p, (uint32_t)bitear_board_stack_used());
    p = put32(p, total_ticks);
    p = put32(p, max_ticks);
    sh_write_or_die(record, (uint32_t)(p - record));
    sh_close(in_fd);
    sh_close(out_fd);
    return 0;
}
