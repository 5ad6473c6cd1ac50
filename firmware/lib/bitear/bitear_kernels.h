/*
 * bitear_kernels.h — the layer kernels of the binary network and the descriptors they read.
 *
 * Contract. Every kernel computes exactly what codegen/reference.py computes (integer only, bit
 * for bit on every platform). Layers are described by const descriptor structs that the code
 * generator writes into bitear_model_tables.c; kernels never allocate and never read outside
 * the ranges the descriptor states. Callers (bitear_model.c) check arguments; kernels do not.
 *
 * Bit convention: bit 1 means -1, bit 0 means +1; sign(0) = +1. Channel c of a time step is
 * bit (c % 32) of word (c / 32), so a step of C channels is C / 32 consecutive uint32_t and an
 * activation map is channels-last: word [t * words + c / 32]. A conv patch over k consecutive
 * time steps is then one contiguous run of k * words words — no im2col.
 *
 * Time axis. Every conv layer states its own `pad` (rows of padding before and after the input)
 * and `skip` (oldest input rows that no output reads); output step t reads the kernel input
 * rows skip + t * stride - pad + j, j = 0 .. kernel - 1 (the code generator sets them from the
 * student's time padding: "same" pad = kernel / 2, skip = 0; "valid" pad = 0,
 * skip = (in_len - kernel) % stride, so the last output ends on the last input row).
 *
 *   stem   int8 conv1d over time (all bins as input channels), zero rows as padding:
 *          acc[c][t] = sum_{j,b} w[c][j][b] * x[skip + t*stride + j - pad][b]   (x = 0 outside)
 *          out bit = (acc < threshold[c]) ^ flip[c]
 *   bconv  binary conv1d over time on an input region of pad + in_len + pad rows: `pad` rows of
 *          zero bits (+1) above and below the map, written by nobody (the caller zeroes them
 *          once; pad = 0: no such rows). Output t reads the region's rows skip + t*stride + j:
 *          P[c][t] = popcount over the patch of (in XOR w[c]), K = kernel * Cin bits
 *          (the +-1 dot product is K - 2P), out bit = (P > threshold[c]) ^ flip[c]
 *   head   m[c] = number of -1 of channel c over the `length` time steps;
 *          logit[k] = bias[k] - (sum_c w[k][c] * m[c]) << step_shift
 *   entropy  normalized entropy of softmax(logits * scale) in Q16, fixed point (see .c)
 *
 * Two implementations: *_ref are plain C99, the reference on every platform. The optimized
 * ones (*_opt) run where they pay off; bitear_stem_conv1d() / bitear_bconv1d() pick at compile
 * time: the optimized path when `__ARM_FEATURE_DSP` is defined (Cortex-M4/M7/M33) and
 * BITEAR_REFERENCE_KERNELS is not. bitear_bconv1d_opt and bitear_head_opt are portable C (carry-save popcount
 * accumulation, byte-lane counting) and are also built on the host for tests; bitear_stem_conv1d_opt uses the DSP
 * instructions (SXTB16, SMLAD), needs a scratch buffer and exists only where __ARM_FEATURE_DSP
 * is defined.
 */
#ifndef BITEAR_KERNELS_H
#define BITEAR_KERNELS_H

#include <stdint.h>

/* int8 stem: [channels][kernel][bins] weights, threshold per channel, flip bits per 32 channels. */
typedef struct {
    uint16_t frames;            /* input time steps */
    uint16_t bins;              /* input channels (mel bins) */
    uint16_t kernel;            /* odd */
    uint16_t stride;
    uint16_t out_len;           /* output time steps */
    uint16_t channels;          /* output channels, multiple of 32 */
    uint16_t pad;               /* zero frames before and after the input */
    uint16_t skip;              /* oldest input frames not read */
    const int8_t *weights;      /* [channels][kernel][bins] */
    const int32_t *thresholds;  /* [channels]: bit = (acc < t) ^ flip */
    const uint32_t *flips;      /* [channels / 32] */
} bitear_stem_t;

/* Binary conv1d: packed +-1 weights, one popcount threshold per output channel. */
typedef struct {
    uint16_t in_len;            /* input time steps (without the padding rows) */
    uint16_t in_words;          /* Cin / 32 */
    uint16_t kernel;            /* odd */
    uint16_t stride;
    uint16_t out_len;
    uint16_t out_words;         /* Cout / 32 */
    uint16_t pad;               /* +1 rows before and after the map in the input region */
    uint16_t skip;              /* oldest rows of the region not read */
    const uint32_t *weights;    /* [Cout][kernel * in_words]: same layout as an input patch */
    const int16_t *thresholds;  /* [Cout]: bit = (P > t) ^ flip, t in [-1, K] */
    const uint32_t *flips;      /* [Cout / 32] */
} bitear_bconv_t;

/* Exit head: counts of -1 per channel -> int32 logits; entropy scale. */
typedef struct {
    uint16_t length;            /* T, time steps counted: the most recent T of the block's map */
    uint16_t channels;
    uint16_t classes;
    uint8_t step_shift;         /* logits step per count: 2^(F+1), F = fraction bits */
    uint8_t shift;              /* d = (L_max - L_k) * mult >> shift, Q10 nats */
    uint32_t mult;
    const int8_t *weights;      /* [classes][channels] */
    const int32_t *bias;        /* [classes], folded (see codegen/intmodel.py) */
} bitear_head_t;

/* One binary block of the generated network and where its maps live in the activation arena. */
typedef struct {
    bitear_bconv_t conv;
    uint16_t in_offset;         /* arena word of the input region's first row (a padding row if pad > 0) */
    uint16_t out_offset;        /* arena word of output row 0 (after the next block's padding) */
    int16_t head;               /* index of the exit head after this block, -1 if none */
    uint32_t binary_macs;       /* out_len * kernel * Cin * Cout */
} bitear_block_t;

/* Fixed-point tables of the entropy (generated with the model). */
typedef struct {
    const uint32_t *exp_hi;     /* exp(-i / 8) in Q24, BITEAR_ENTROPY_EXP_HI_SIZE entries */
    const uint32_t *exp_lo;     /* exp(-i / 1024) in Q24, 128 entries */
    const uint16_t *ln;         /* ln(1 + i / 64) in Q16, 65 entries */
    uint32_t ln2_q16;
    uint32_t inv_ln_classes_q16; /* round(2^16 / ln(classes)) */
} bitear_entropy_tables_t;

void bitear_stem_conv1d_ref(const bitear_stem_t *layer, const int8_t *features, uint32_t *out);
/* region: the input region (pad rows, in_len rows of the map, pad rows), see above. */
void bitear_bconv1d_ref(const bitear_bconv_t *layer, const uint32_t *region, uint32_t *out);
void bitear_bconv1d_opt(const bitear_bconv_t *layer, const uint32_t *region, uint32_t *out);
#if defined(__ARM_FEATURE_DSP)
/* scratch: BITEAR_STEM_SCRATCH_WORDS(frames, bins, kernel, pad) words (the widened window and weights). */
void bitear_stem_conv1d_opt(const bitear_stem_t *layer, const int8_t *features, uint32_t *scratch, uint32_t *out);
#endif
#define BITEAR_STEM_SCRATCH_WORDS(frames, bins, kernel, pad) \
    (((frames) + 2 * (pad)) * (bins) / 2 + (kernel) * (bins))
#if defined(__ARM_FEATURE_DSP)
/* One output of the stem (streaming): patch = `kernel` consecutive frames; pad, skip, frames and
 * out_len of the descriptor are not read. scratch: BITEAR_STEM_STEP_SCRATCH_WORDS words. */
void bitear_stem_step_opt(const bitear_stem_t *layer, const int8_t *patch, uint32_t *scratch, uint32_t *out);
#endif
#define BITEAR_STEM_STEP_SCRATCH_WORDS(bins, kernel) ((kernel) * (bins) / 2 + 1)

/* counts: scratch of `channels` uint16_t. */
void bitear_head_ref(const bitear_head_t *head, const uint32_t *act, uint16_t *counts, int32_t *logits);
void bitear_head_opt(const bitear_head_t *head, const uint32_t *act, uint16_t *counts, int32_t *logits);
/* The logits of given -1 counts per channel (the second half of bitear_head_ref; the streaming
 * runtime keeps its counts running). */
void bitear_head_logits(const bitear_head_t *head, const uint16_t *counts, int32_t *logits);

/* Normalized entropy of the softmax of the head's logits, Q16 in [0, 65536]. */
uint32_t bitear_entropy_q16(const bitear_head_t *head, const bitear_entropy_tables_t *tables,
                            const int32_t *logits);

/* Softmax of the head's logits in Q15 (32768 = 1.0; each value rounded down), same exponentials. */
void bitear_exit_softmax_q15(const bitear_head_t *head, const bitear_entropy_tables_t *tables,
                             const int32_t *logits, uint16_t *scores_q15);

/* Index of the largest logit, the lowest index on ties. */
int bitear_argmax(const int32_t *values, int n);

/* The kernels the runtime uses (compile-time choice, see above). */
#if defined(__ARM_FEATURE_DSP) && !defined(BITEAR_REFERENCE_KERNELS)
#define BITEAR_KERNELS_OPTIMIZED 1
#define bitear_stem_conv1d(layer, features, scratch, out) bitear_stem_conv1d_opt(layer, features, scratch, out)
#define bitear_bconv1d bitear_bconv1d_opt
#define bitear_head bitear_head_opt
#else
#define BITEAR_KERNELS_OPTIMIZED 0
#define bitear_stem_conv1d(layer, features, scratch, out) ((void)(scratch), bitear_stem_conv1d_ref(layer, features, out))
#define bitear_bconv1d bitear_bconv1d_ref
#define bitear_head bitear_head_ref
#endif

#endif /* BITEAR_KERNELS_H */
