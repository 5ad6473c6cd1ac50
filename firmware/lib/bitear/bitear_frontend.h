/*
 * bitear_frontend.h — the integer audio front end: 16 kHz int16 audio -> 40 int8 log-mel values
 * per 20 ms hop.
 *
 * Contract. The caller owns a bitear_frontend_t (fixed size, no dynamic memory), initialises it
 * once with bitear_frontend_init(), then pushes audio in hops of exactly BITEAR_FRONTEND_HOP (320)
 * samples with bitear_frontend_push(); every push writes one frame of BITEAR_FRONTEND_BINS (40)
 * int8 values describing the last BITEAR_FRONTEND_WINDOW (480) samples: the 160 samples kept from
 * the previous hops (zeros after init) followed by the 320 new ones. The arithmetic is integer-only
 * and deterministic: the same samples give the same bytes on every platform (the training code in
 * model/frontend.py runs this very file compiled for the host; tests compare it with the
 * Cortex-M4 build byte for byte). A 1 s clip (16000 samples) becomes the network's input of
 * BITEAR_FRONTEND_FRAMES x BITEAR_FRONTEND_BINS (49 x 40) values by pushing its 50 hops into a
 * freshly initialised front end and dropping the first frame (bitear_frontend_clip), so frame k
 * covers samples [320k + 160, 320k + 640). Functions return BITEAR_OK or a negative
 * bitear_status_t and never read or write through a NULL pointer.
 *
 * What a value means (the float definition, model/frontend_reference.py, which this approximates):
 *   x[n] = s[n] * hann[n]               s in raw int16 units, periodic Hann of 480 samples
 *   X[k] = sum_n x[n] e^(-2 pi i n k / 512)   zero-padded 512-point DFT
 *   E[c] = sum_k M[k][c] |X[k]|^2        40 triangular mel filters (HTK mel, peak 1, 125..7500 Hz)
 *   v[c] = clamp(floor(BITEAR_FRONTEND_LOG_SCALE * log2(E[c]) + 0.5) + BITEAR_FRONTEND_LOG_OFFSET,
 *                -128, 127)
 * with LOG_SCALE = 6 (one step = 1/6 octave of energy = 0.50 dB) and LOG_OFFSET = -150: digital
 * silence and anything below log2 E = 22/6 give -128; 1-LSB rms noise gives about -92; a
 * full-scale sine about +115; no int16 input can exceed +123 (Parseval), so the top never clips.
 * To undo: log2 E ~ (v - LOG_OFFSET) / LOG_SCALE (for v > -128).
 *
 * How (bitear_frontend.c): window with a Q15 table; block floating point — the windowed frame is
 * shifted so its largest magnitude lies in (2^11, 2^12], whatever the input level, and the shift
 * is added back in the log domain, so quiet audio keeps its precision; 256-point complex radix-4
 * FFT of the even/odd samples (first stage exact, then Q14 twiddles and /4 per stage) + real-FFT
 * split; power and mel
 * weights accumulate in 64 bits; log2 by count-leading-zeros + a 128-entry table. Versus the float
 * definition the codes differ by at most 1 in every channel within 40 dB of the loudest channel
 * of its frame (60 dB for pure tones); further down, the FFT's rounding noise (about 45-50 dB
 * under the frame's peak for speech) shows instead of the true, lower energy
 * (tests/test_frontend.py states and checks the tolerances). On a Cortex-M4 a DSP path
 * (__ARM_FEATURE_DSP: SIMD32 and dual multiply-accumulate intrinsics, generated coefficient rows;
 * byte-identical to the plain C) is used; cost per push ~17.9 k instructions (plain C ~38 k,
 * Cortex-M0+ ~91 k), counted per stage by `python -m host.bench_frontend`; budget 18 k on the M4.
 * RAM: sizeof(bitear_frontend_t) = 1352 bytes, stack ~84 bytes.
 *
 * Portability: C99, no malloc, no floating point at run time. Relies on arithmetic right shift
 * of negative signed integers (implementation-defined in C99; a compile-time check in
 * bitear_frontend.c rejects a compiler that differs).
 */
#ifndef BITEAR_FRONTEND_H
#define BITEAR_FRONTEND_H

#include <stddef.h>
#include <stdint.h>

#include "bitear_status.h"
#include "bitear_frontend_tables.h" /* generated: the parameter #defines (and, privately, the tables) */

/* BITEAR_SAMPLE_RATE (16000), BITEAR_FRONTEND_WINDOW (480), BITEAR_FRONTEND_HOP (320),
 * BITEAR_FRONTEND_BINS (40), BITEAR_FRONTEND_FFT_SIZE (512), BITEAR_FRONTEND_CLIP_SAMPLES (16000),
 * BITEAR_FRONTEND_FMIN_HZ/FMAX_HZ (125/7500), BITEAR_FRONTEND_LOG_SCALE (6),
 * BITEAR_FRONTEND_LOG_OFFSET (-150) come from the generated header. */
#define BITEAR_FRONTEND_HISTORY (BITEAR_FRONTEND_WINDOW - BITEAR_FRONTEND_HOP) /* 160 */
/* Frames of one clip: the 49 windows that lie inside 16000 samples. */
#define BITEAR_FRONTEND_FRAMES \
    ((BITEAR_FRONTEND_CLIP_SAMPLES - BITEAR_FRONTEND_WINDOW) / BITEAR_FRONTEND_HOP + 1)
/* Value of a channel with (almost) no energy. */
#define BITEAR_FRONTEND_FLOOR (-128)

typedef struct {
    int16_t history[BITEAR_FRONTEND_HISTORY]; /* last 160 samples pushed (zeros after init) */
    int16_t work[BITEAR_FRONTEND_FFT_SIZE];   /* scratch of one push: 256 complex (re, im) pairs */
    uint32_t magic;                           /* set by init; push refuses a state without it */
    uint32_t hops;                            /* hops pushed since init (wraps at 2^32) */
} bitear_frontend_t;

/* Reset to the start of a stream: zero history. BITEAR_ERR_NULL if fe is NULL. */
bitear_status_t bitear_frontend_init(bitear_frontend_t *fe);

/* Push BITEAR_FRONTEND_HOP samples, get one frame of BITEAR_FRONTEND_BINS int8 values.
 * BITEAR_ERR_NULL if any pointer is NULL, BITEAR_ERR_STATE if fe was never initialised
 * (out is then left untouched). hop and out may not overlap fe. */
bitear_status_t bitear_frontend_push(bitear_frontend_t *fe, const int16_t *hop, int8_t *out);

/* Features of one 1 s clip (BITEAR_FRONTEND_CLIP_SAMPLES samples) into out
 * (BITEAR_FRONTEND_FRAMES * BITEAR_FRONTEND_BINS values, frame-major): initialises fe, pushes the
 * 50 hops, drops the first frame. fe is scratch here (its previous stream is lost). */
bitear_status_t bitear_frontend_clip(bitear_frontend_t *fe, const int16_t *clip, int8_t *out);

/* sizeof(bitear_frontend_t): lets bindings (Python ctypes, emulator tests) check their mirror. */
size_t bitear_frontend_state_size(void);

/* bitear_frontend_clip over n_clips consecutive clips (for training-time feature extraction). */
bitear_status_t bitear_frontend_clips(bitear_frontend_t *fe, const int16_t *clips, size_t n_clips,
                                      int8_t *out);

#endif /* BITEAR_FRONTEND_H */
