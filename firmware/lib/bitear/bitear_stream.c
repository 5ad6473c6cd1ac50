/*
 * bitear_stream.c — audio -> front end -> network every N hops (contract in bitear_stream.h).
 * Window runtime ("same" padding): the window is kept oldest-first and shifted by one frame per
 * hop (a 1920-byte memmove, a few hundred instructions next to the front end's ~27 k), so the
 * network reads one contiguous 49 x 40 array, exactly what bitear_frontend_clip produces.
 * Streaming runtime ("valid" padding): every frame goes to bitear_stream_model_push_frame.
 */
#include "bitear_stream.h"

#include <string.h>

#define BITEAR_STREAM_MAGIC 0x7374726Du /* "strm" */

#if BITEAR_MODEL_BINS != BITEAR_FRONTEND_BINS
#error "the network's input bins differ from the front end's"
#endif

bitear_status_t bitear_stream_init(bitear_stream_t *stream, unsigned infer_every)
{
    if (stream == NULL) {
        return BITEAR_ERR_NULL;
    }
    if (infer_every < 1u || infer_every > 65535u) {
        return BITEAR_ERR_ARG;
    }
    bitear_status_t st = bitear_frontend_init(&stream->frontend);
    if (st == BITEAR_OK) {
#if BITEAR_MODEL_STREAMABLE
        st = bitear_stream_model_init(&stream->network);
#else
        st = bitear_model_init(&stream->model);
        memset(stream->window, BITEAR_FRONTEND_FLOOR, sizeof(stream->window));
#endif
    }
    if (st != BITEAR_OK) {
        stream->magic = 0u;
        return st;
    }
    stream->partial_len = 0u;
    stream->infer_every = (uint16_t)infer_every;
    stream->until_infer = BITEAR_MODEL_FRAMES; /* the hop that fills the window runs the first one */
    stream->hops = 0u;
    stream->inferences = 0u;
    stream->magic = BITEAR_STREAM_MAGIC;
    return BITEAR_OK;
}

bitear_status_t bitear_stream_set_period(bitear_stream_t *stream, unsigned infer_every)
{
    if (stream == NULL) {
        return BITEAR_ERR_NULL;
    }
    if (stream->magic != BITEAR_STREAM_MAGIC) {
        return BITEAR_ERR_STATE;
    }
    if (infer_every < 1u || infer_every > 65535u) {
        return BITEAR_ERR_ARG;
    }
    stream->infer_every = (uint16_t)infer_every;
    if (stream->hops >= BITEAR_MODEL_FRAMES && stream->until_infer > infer_every) {
        stream->until_infer = (uint16_t)infer_every;
    }
    return BITEAR_OK;
}

bitear_status_t bitear_stream_set_threshold(bitear_stream_t *stream, int exit_index, int32_t threshold_q16)
{
    if (stream == NULL) {
        return BITEAR_ERR_NULL;
    }
#if BITEAR_MODEL_STREAMABLE
    return bitear_stream_model_set_threshold(&stream->network, exit_index, threshold_q16);
#else
    return bitear_model_set_threshold(&stream->model, exit_index, threshold_q16);
#endif
}

bitear_status_t bitear_stream_get_threshold(const bitear_stream_t *stream, int exit_index, int32_t *threshold_q16)
{
    if (stream == NULL) {
        return BITEAR_ERR_NULL;
    }
#if BITEAR_MODEL_STREAMABLE
    return bitear_stream_model_get_threshold(&stream->network, exit_index, threshold_q16);
#else
    return bitear_model_get_threshold(&stream->model, exit_index, threshold_q16);
#endif
}

bitear_status_t bitear_stream_reset_stats(bitear_stream_t *stream)
{
    if (stream == NULL) {
        return BITEAR_ERR_NULL;
    }
#if BITEAR_MODEL_STREAMABLE
    return bitear_stream_model_reset_stats(&stream->network);
#else
    return bitear_model_reset_stats(&stream->model);
#endif
}

/* The hop itself, after the checks. */
static bitear_status_t bitear_stream_hop(bitear_stream_t *stream, const int16_t *hop, bitear_result_t *result,
                                         int *ready)
{
    *ready = 0;
#if BITEAR_MODEL_STREAMABLE
    bitear_status_t st = bitear_frontend_push(&stream->frontend, hop, stream->frame);
    if (st == BITEAR_OK) {
        st = bitear_stream_model_push_frame(&stream->network, stream->frame);
    }
#else
    memmove(stream->window, stream->window + BITEAR_MODEL_BINS, BITEAR_STREAM_WINDOW_BYTES - BITEAR_MODEL_BINS);
    bitear_status_t st = bitear_frontend_push(&stream->frontend, hop,
                                              stream->window + BITEAR_STREAM_WINDOW_BYTES - BITEAR_MODEL_BINS);
#endif
    if (st != BITEAR_OK) {
        return st;
    }
    stream->hops++;
    if (--stream->until_infer > 0u) {
        return BITEAR_OK;
    }
    stream->until_infer = stream->infer_every;
#if BITEAR_MODEL_STREAMABLE
    st = bitear_stream_model_infer(&stream->network, result);
#else
    st = bitear_model_infer(&stream->model, stream->window, result);
#endif
    if (st != BITEAR_OK) {
        return st;
    }
    stream->inferences++;
    *ready = 1;
    return BITEAR_OK;
}

bitear_status_t bitear_stream_push_hop(bitear_stream_t *stream, const int16_t *hop, bitear_result_t *result,
                                       int *ready)
{
    if (stream == NULL || hop == NULL || result == NULL || ready == NULL) {
        return BITEAR_ERR_NULL;
    }
    *ready = 0;
    if (stream->magic != BITEAR_STREAM_MAGIC || stream->partial_len != 0u) {
        return BITEAR_ERR_STATE;
    }
    return bitear_stream_hop(stream, hop, result, ready);
}

bitear_status_t bitear_stream_push(bitear_stream_t *stream, const int16_t *samples, size_t n,
                                   bitear_stream_result_fn on_result, void *ctx)
{
    if (stream == NULL || (samples == NULL && n > 0u)) {
        return BITEAR_ERR_NULL;
    }
    if (stream->magic != BITEAR_STREAM_MAGIC) {
        return BITEAR_ERR_STATE;
    }
    while (n > 0u) {
        const int16_t *hop;
        if (stream->partial_len == 0u && n >= BITEAR_FRONTEND_HOP) {
            hop = samples; /* a whole hop in place: no copy */
            samples += BITEAR_FRONTEND_HOP;
            n -= BITEAR_FRONTEND_HOP;
        } else {
            size_t take = BITEAR_FRONTEND_HOP - stream->partial_len;
            if (take > n) {
                take = n;
            }
            memcpy(stream->partial + stream->partial_len, samples, take * sizeof(int16_t));
            stream->partial_len = (uint16_t)(stream->partial_len + take);
            samples += take;
            n -= take;
            if (stream->partial_len < BITEAR_FRONTEND_HOP) {
                break;
            }
            stream->partial_len = 0u;
            hop = stream->partial;
        }
        bitear_result_t result;
        int ready;
        const bitear_status_t st = bitear_stream_hop(stream, hop, &result, &ready);
        if (st != BITEAR_OK) {
            return st;
        }
        if (ready && on_result != NULL) {
            on_result(ctx, &result, stream->hops);
        }
    }
    return BITEAR_OK;
}
