/* harness.c - the C side of codegen/harness.py: entry points into the runtime (firmware/lib/bitear)
 * for the bit-exactness tests and the benchmark, built for the host (ctypes) and for the
 * Cortex-M4 (unicorn). Not part of the firmware. Every array size comes from the generated
 * bitear_model_tables.h, so any generated network builds with it. */
#include <stddef.h>
#include <string.h>

#include "bitear_model.h"
#include "bitear_stream.h"
#include "bitear_stream_model.h"

#define H_USED __attribute__((noipa, used))

H_USED int harness_model_size(void) { return (int)sizeof(bitear_model_t); }
H_USED int harness_record_words(void)
{
    return 4 + BITEAR_MODEL_CLASSES * 2 + BITEAR_MODEL_EXITS * (2 + BITEAR_MODEL_CLASSES) + BITEAR_MODEL_ACT_WORDS;
}

/* Run n windows; per window one record of harness_record_words() int32:
 * status, label, exit, entropy, logits[C], scores[C], per exit (reached, entropy, logits[C]), arena. */
H_USED int harness_run(bitear_model_t *m, const int8_t *features, int n, int32_t *out)
{
    const int words = harness_record_words();
    for (int i = 0; i < n; i++) {
        bitear_result_t r;
        int32_t *rec = out + i * words;
        rec[0] = bitear_model_infer(m, features + i * BITEAR_MODEL_FRAMES * BITEAR_MODEL_BINS, &r);
        rec[1] = r.label;
        rec[2] = r.exit_index;
        rec[3] = (int32_t)r.entropy_q16;
        int32_t *p = rec + 4;
        for (int k = 0; k < BITEAR_MODEL_CLASSES; k++) {
            *p++ = r.logits[k];
        }
        for (int k = 0; k < BITEAR_MODEL_CLASSES; k++) {
            *p++ = r.scores_q15[k];
        }
        for (int e = 0; e < BITEAR_MODEL_EXITS; e++) {
            uint32_t ent = 0u;
            p[0] = bitear_model_exit_output(m, e, p + 2, &ent) == BITEAR_OK;
            p[1] = (int32_t)ent;
            p += 2 + BITEAR_MODEL_CLASSES;
        }
        memcpy(p, m->act, sizeof(m->act));
    }
    return 0;
}

/* Streaming: push n samples in chunks of `chunk` (320 = bitear_stream_push_hop, else
 * bitear_stream_push); per result one record of 2 + CLASSES int32: hop, exit, logits. */
typedef struct {
    int32_t *out;
    int n, max;
} harness_results_t;

static void harness_on_result(void *ctx, const bitear_result_t *r, uint32_t hop)
{
    harness_results_t *h = (harness_results_t *)ctx;
    if (h->n < h->max) {
        int32_t *rec = h->out + h->n * (2 + BITEAR_MODEL_CLASSES);
        rec[0] = (int32_t)hop;
        rec[1] = r->exit_index;
        for (int k = 0; k < BITEAR_MODEL_CLASSES; k++) {
            rec[2 + k] = r->logits[k];
        }
    }
    h->n++;
}

H_USED int harness_stream_size(void) { return (int)sizeof(bitear_stream_t); }

H_USED int harness_stream_run(bitear_stream_t *s, int period, const int16_t *audio, int n, int chunk, int32_t *out,
                              int max_results)
{
    harness_results_t h = {out, 0, max_results};
    if (bitear_stream_init(s, (unsigned)period) != BITEAR_OK) {
        return -1;
    }
    (void)bitear_stream_set_threshold(s, BITEAR_MODEL_ALL_EXITS, BITEAR_THRESHOLD_NEVER);
    for (int i = 0; i < n; i += chunk) {
        const int len = n - i < chunk ? n - i : chunk;
        if (chunk == BITEAR_FRONTEND_HOP) {
            bitear_result_t r;
            int ready;
            if (len < chunk || bitear_stream_push_hop(s, audio + i, &r, &ready) != BITEAR_OK) {
                return -2;
            }
            if (ready) {
                harness_on_result(&h, &r, s->hops);
            }
        } else if (bitear_stream_push(s, audio + i, (size_t)len, harness_on_result, &h) != BITEAR_OK) {
            return -3;
        }
    }
    return h.n;
}

/* One inference, for instruction counts. */
H_USED int harness_infer(bitear_model_t *m, const int8_t *features, bitear_result_t *r)
{
    return bitear_model_infer(m, features, r);
}

/* Layers one by one on the model's arena (instruction counts per layer). */
H_USED void harness_stem(bitear_model_t *m, const int8_t *features)
{
    bitear_stem_conv1d(&bitear_model_stem, features, m->stem_scratch, m->act + BITEAR_MODEL_STEM_OUT_OFFSET);
}
H_USED void harness_block(bitear_model_t *m, int i)
{
    const bitear_block_t *b = &bitear_model_blocks[i];
    bitear_bconv1d(&b->conv, m->act + b->in_offset, m->act + b->out_offset);
}
H_USED int harness_head(bitear_model_t *m, int i)
{
    const bitear_block_t *b = &bitear_model_blocks[i];
    const bitear_head_t *h = &bitear_model_heads[b->head];
    bitear_head(h, m->act + b->out_offset, m->counts, m->logits[b->head]);
    return (int)bitear_entropy_q16(h, &bitear_model_entropy_tables, m->logits[b->head]);
}

/* Kernels on caller-made layers (kernel tests). variant: 0 = reference, 1 = optimized.
 * bconv shape: in_len, in_words, kernel, stride, out_len, out_words, pad, skip; `in` is the input
 * region (pad rows, map, pad rows). stem shape: frames, bins, kernel, stride, out_len, channels,
 * pad, skip. head shape: length, channels, classes, step_shift. */
H_USED int harness_bconv(int variant, const uint16_t *shape, const uint32_t *w, const int16_t *thr,
                         const uint32_t *flips, const uint32_t *in, uint32_t *out)
{
    const bitear_bconv_t layer = {
        .in_len = shape[0], .in_words = shape[1], .kernel = shape[2], .stride = shape[3],
        .out_len = shape[4], .out_words = shape[5], .pad = shape[6], .skip = shape[7],
        .weights = w, .thresholds = thr, .flips = flips,
    };
    if (variant == 0) {
        bitear_bconv1d_ref(&layer, in, out);
    } else {
        bitear_bconv1d_opt(&layer, in, out);
    }
    return 0;
}

H_USED int harness_head_kernel(int variant, const uint16_t *shape, const int8_t *w, const int32_t *bias,
                               const uint32_t *act, int32_t *logits)
{
    static uint16_t counts[1024];
    const bitear_head_t head = {
        .length = shape[0], .channels = shape[1], .classes = shape[2], .step_shift = (uint8_t)shape[3],
        .shift = 0, .mult = 0u, .weights = w, .bias = bias,
    };
    if (head.channels > 1024) {
        return -2;
    }
    if (variant == 0) {
        bitear_head_ref(&head, act, counts, logits);
    } else {
        bitear_head_opt(&head, act, counts, logits);
    }
    return 0;
}

H_USED int harness_stem_kernel(int variant, const uint16_t *shape, const int8_t *w, const int32_t *thr,
                               const uint32_t *flips, const int8_t *x, uint32_t *out)
{
    const bitear_stem_t layer = {
        .frames = shape[0], .bins = shape[1], .kernel = shape[2], .stride = shape[3],
        .out_len = shape[4], .channels = shape[5], .pad = shape[6], .skip = shape[7],
        .weights = w, .thresholds = thr, .flips = flips,
    };
    if (variant == 0) {
        bitear_stem_conv1d_ref(&layer, x, out);
        return 0;
    }
#if defined(__ARM_FEATURE_DSP)
    static uint32_t scratch[BITEAR_STEM_SCRATCH_WORDS(256, 64, 9, 4)];
    if (BITEAR_STEM_SCRATCH_WORDS(layer.frames, layer.bins, layer.kernel, layer.pad) > (int)(sizeof(scratch) / 4)) {
        return -2;
    }
    bitear_stem_conv1d_opt(&layer, x, scratch, out);
    return 0;
#else
    return -1; /* no optimized stem on this target */
#endif
}

/* Streaming model (bitear_stream_model.h). Per step i: flags[i] bit 1: reset first; push frame i;
 * bit 2: set the early-exit thresholds to thr[i * BITEAR_MODEL_EARLY_EXITS_ALLOC ..]; bit 0: infer.
 * Per step one record of harness_stream_model_record_words() int32: status of infer (1 = not
 * asked), label, exit, entropy, logits[C], scores[C], layer_outputs[LAYERS], catch_ups,
 * window_recomputes (the statistics after the step). Returns 0, or the first failing status. */
H_USED int harness_stream_model_size(void) { return (int)sizeof(bitear_stream_model_t); }
H_USED int harness_stream_model_record_words(void)
{
    return 4 + 2 * BITEAR_MODEL_CLASSES + BITEAR_STREAM_MODEL_LAYERS + 2;
}
H_USED int harness_stream_model_init(bitear_stream_model_t *sm) { return bitear_stream_model_init(sm); }

H_USED int harness_stream_model_step(bitear_stream_model_t *sm, const int8_t *frame, int flags, const int32_t *thr,
                                     int32_t *rec)
{
    bitear_result_t r;
    memset(&r, 0, sizeof(r));
    int st;
    if ((flags & 2) && (st = bitear_stream_model_reset(sm)) != BITEAR_OK) {
        return st;
    }
    if ((st = bitear_stream_model_push_frame(sm, frame)) != BITEAR_OK) {
        return st;
    }
    for (int e = 0; (flags & 4) && e < BITEAR_MODEL_EARLY_EXITS; e++) {
        if ((st = bitear_stream_model_set_threshold(sm, e, thr[e])) != BITEAR_OK) {
            return st;
        }
    }
    rec[0] = (flags & 1) ? bitear_stream_model_infer(sm, &r) : 1;
    rec[1] = r.label;
    rec[2] = r.exit_index;
    rec[3] = (int32_t)r.entropy_q16;
    int32_t *p = rec + 4;
    for (int k = 0; k < BITEAR_MODEL_CLASSES; k++) {
        *p++ = r.logits[k];
    }
    for (int k = 0; k < BITEAR_MODEL_CLASSES; k++) {
        *p++ = r.scores_q15[k];
    }
    bitear_stream_model_stats_t stats;
    if ((st = bitear_stream_model_get_stats(sm, &stats)) != BITEAR_OK) {
        return st;
    }
    for (int l = 0; l < BITEAR_STREAM_MODEL_LAYERS; l++) {
        *p++ = (int32_t)stats.layer_outputs[l];
    }
    p[0] = (int32_t)stats.catch_ups;
    p[1] = (int32_t)stats.window_recomputes;
    return 0;
}

H_USED int harness_stream_model_run(bitear_stream_model_t *sm, const int8_t *frames, const uint8_t *flags,
                                    const int32_t *thr, int n, int32_t *out)
{
    const int words = harness_stream_model_record_words();
    for (int i = 0; i < n; i++) {
        const int st = harness_stream_model_step(sm, frames + i * BITEAR_MODEL_BINS, flags[i],
                                                 thr + i * BITEAR_MODEL_EARLY_EXITS_ALLOC, out + i * words);
        if (st != 0) {
            return st;
        }
    }
    return 0;
}

/* One push (and infer when asked), for instruction counts on the M4. */
H_USED int harness_stream_model_push(bitear_stream_model_t *sm, const int8_t *frame)
{
    return bitear_stream_model_push_frame(sm, frame);
}
H_USED int harness_stream_model_infer(bitear_stream_model_t *sm, bitear_result_t *r)
{
    return bitear_stream_model_infer(sm, r);
}

/* One stem output with bitear_stem_step_opt (the streaming runtime's DSP kernel) on a caller-made
 * layer; shape as harness_stem_kernel (frames, stride, out_len, pad, skip not read); x: `kernel`
 * frames. variant is ignored (there is one variant); -1 where there is no DSP extension. */
H_USED int harness_stem_step_kernel(int variant, const uint16_t *shape, const int8_t *w, const int32_t *thr,
                                    const uint32_t *flips, const int8_t *x, uint32_t *out)
{
    (void)variant;
#if defined(__ARM_FEATURE_DSP)
    const bitear_stem_t layer = {
        .frames = shape[2], .bins = shape[1], .kernel = shape[2], .stride = 1,
        .out_len = 1, .channels = shape[5], .pad = 0, .skip = 0,
        .weights = w, .thresholds = thr, .flips = flips,
    };
    static uint32_t scratch[BITEAR_STEM_STEP_SCRATCH_WORDS(64, 9)];
    if (BITEAR_STEM_STEP_SCRATCH_WORDS(layer.bins, layer.kernel) > (int)(sizeof(scratch) / 4)) {
        return -2;
    }
    bitear_stem_step_opt(&layer, x, scratch, out);
    return 0;
#else
    (void)shape, (void)w, (void)thr, (void)flips, (void)x, (void)out;
    return -1;
#endif
}
