/*
 * bitear_protocol.h — the binary serial protocol between a bitear board and its host: framing,
 * checksums, message layouts, an incremental decoder and encoders. docs/protocol.md is the
 * specification with byte-level examples; host/protocol.py is the Python side.
 *
 * Contract. Portable C99, no dynamic memory, no I/O: the caller moves bytes. A frame on the wire
 * is COBS(payload) followed by one 0x00 delimiter, so a receiver that starts in the middle of a
 * stream, or sees garbage, is back in step at the next 0x00. The payload is
 *
 *   [version u8][type u8][seq u16 LE][body ...][CRC-16/CCITT-FALSE u16 BIG-endian]
 *
 * with the CRC over version..body (poly 0x1021, init 0xFFFF, no reflection, no final xor); in
 * big-endian order the CRC over the whole payload is 0, which is how the decoder checks it. All
 * multi-byte body fields are little-endian. Types 0x01.. go host -> board, 0x81.. board -> host.
 *
 *   static bitear_proto_decoder_t dec;
 *   bitear_proto_decoder_init(&dec);
 *   bitear_proto_msg_t msg;
 *   for each received byte b:
 *       st = bitear_proto_decoder_feed(&dec, b, &msg);
 *       if (st == BITEAR_PROTO_MESSAGE) handle(&msg);       // msg valid until the next feed
 *       else if (st < 0) ...                                // a damaged frame, already counted
 *   reply.type = BITEAR_PROTO_ACK; reply.seq = seq++; reply.body.ack = ...;
 *   bitear_proto_encode(&reply, out, sizeof out, &len);  // out[0 .. len): one whole frame
 *
 * The decoder never blocks and never fails hard: every damaged frame (COBS error, too short, too
 * long, bad CRC, unknown version or type, wrong body length) returns a negative status once,
 * increments one counter in dec.counters, and the decoder carries on with the next frame. Its
 * state is BITEAR_PROTO_MAX_PAYLOAD bytes plus a few words. Variable-length fields of a decoded
 * message (audio samples, the READY strings) point into the decoder's buffer.
 */
#ifndef BITEAR_PROTOCOL_H
#define BITEAR_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#include "bitear_status.h"

#define BITEAR_PROTO_VERSION 1u

#define BITEAR_PROTO_HEADER_BYTES 4u /* version, type, seq */
#define BITEAR_PROTO_CRC_BYTES 2u
#define BITEAR_PROTO_AUDIO_SAMPLES 320u /* one 20 ms hop at 16 kHz per AUDIO frame */
#define BITEAR_PROTO_AUDIO_BODY (4u + 2u * BITEAR_PROTO_AUDIO_SAMPLES)
#define BITEAR_PROTO_MAX_BODY BITEAR_PROTO_AUDIO_BODY /* the largest body: AUDIO, 644 bytes */
#define BITEAR_PROTO_MAX_PAYLOAD (BITEAR_PROTO_HEADER_BYTES + BITEAR_PROTO_MAX_BODY + BITEAR_PROTO_CRC_BYTES)
/* COBS adds one byte per started block of 254, then the delimiter: 654 bytes at most. */
#define BITEAR_PROTO_MAX_FRAME (BITEAR_PROTO_MAX_PAYLOAD + BITEAR_PROTO_MAX_PAYLOAD / 254u + 2u)
#define BITEAR_PROTO_MAX_CLASSES 32u /* scores a RESULT can carry */
/* READY banner limits (the strings of section 2 of docs/protocol.md), so that a model's labels always
 * fit: model/checkpoint.py refuses checkpoints whose labels break them. */
#define BITEAR_PROTO_MAX_LABEL_CHARS 23u /* one label (app.c keeps 24 bytes per label, NUL included) */
#define BITEAR_PROTO_MAX_BOARD_CHARS 31u /* the board name */
#define BITEAR_PROTO_MAX_MODEL_CHARS 16u /* the model identity (sha256 prefix in hex) */
#define BITEAR_PROTO_READY_FIXED 10u     /* bytes before the strings */
/* What is left for the labels block (every label + its NUL): 585 bytes. */
#define BITEAR_PROTO_READY_LABELS_BYTES                                                              \
    (BITEAR_PROTO_MAX_BODY - BITEAR_PROTO_READY_FIXED - (BITEAR_PROTO_MAX_BOARD_CHARS + 1u) -       \
     (BITEAR_PROTO_MAX_MODEL_CHARS + 1u))

/* SET_THRESHOLD: exit index meaning "every early exit"; BITEAR_PROTO_THRESHOLD_NEVER there is
 * "full depth" (bitear_model.h: BITEAR_MODEL_ALL_EXITS, BITEAR_THRESHOLD_NEVER). */
#define BITEAR_PROTO_EXIT_ALL 0xFFu
#define BITEAR_PROTO_THRESHOLD_NEVER (-1)

/* RESET flags */
#define BITEAR_PROTO_RESET_STATS 0x01u  /* zero the statistics */
#define BITEAR_PROTO_RESET_STREAM 0x02u /* audio history, detector, queue, hop index 0; new CREDIT */

/* READY cost_unit: what RESULT.cost counts. */
#define BITEAR_PROTO_COST_INSTRUCTIONS 0u
#define BITEAR_PROTO_COST_CYCLES 1u
#define BITEAR_PROTO_COST_MICROSECONDS 2u

/* Decoder return values besides the negative bitear_status_t errors. */
#define BITEAR_PROTO_NEED_MORE 0 /* == BITEAR_OK: byte taken, no message yet */
#define BITEAR_PROTO_MESSAGE 1   /* a message was decoded into *msg */

/*
 * Message types: X(name, code, min_body, max_body, description). Append only; never renumber.
 * model/facts.py reads this list for host/protocol.py; tests/test_facts.py checks it against gcc.
 */
#define BITEAR_PROTO_MESSAGE_LIST(X)                                                                  \
    X(HELLO,         0x01, 0, 0, "host asks for READY (and a CREDIT)")                                 \
    X(AUDIO,         0x02, BITEAR_PROTO_AUDIO_BODY, BITEAR_PROTO_AUDIO_BODY, "hop index + 320 samples") \
    X(SET_THRESHOLD, 0x03, 5, 5, "early-exit threshold of one exit or all, Q16")                     \
    X(SET_DETECTOR,  0x04, 7, 7, "detector window, threshold, suppression, minimum count")           \
    X(GET_STATS,     0x05, 0, 0, "host asks for STATS")                                               \
    X(RESET,         0x06, 1, 1, "reset statistics and/or the stream")                                \
    X(SET_PERIOD,    0x07, 1, 1, "inference period: an inference every N hops, 1 .. 255")            \
    X(READY,         0x81, 10, BITEAR_PROTO_MAX_BODY, "banner: protocol, board, model identity")      \
    X(RESULT,        0x82, 17, 17 + 2 * BITEAR_PROTO_MAX_CLASSES, "one inference")                   \
    X(DETECTION,     0x83, 7, 7, "keyword event from the detector")                                   \
    X(STATS,         0x84, 1, BITEAR_PROTO_MAX_BODY, "counters, u32 each, see STATS_LIST")           \
    X(ACK,           0x85, 5, 5, "reply to a command: its seq, type and a status (0 = done)")         \
    X(CREDIT,        0x86, 6, 6, "flow control: AUDIO hop indices below limit may be sent")

#define BITEAR_PROTO_TYPE_ENUM_(name, code, min_body, max_body, text) BITEAR_PROTO_##name = (code),
enum { BITEAR_PROTO_MESSAGE_LIST(BITEAR_PROTO_TYPE_ENUM_) };
#undef BITEAR_PROTO_TYPE_ENUM_

/*
 * Decoder counters: X(name, description). One per kind of damaged frame, plus good frames.
 * Every frame ends in exactly one of them. Python's FrameDecoder has the same names.
 */
#define BITEAR_PROTO_DECODER_COUNTERS(X)                                                  \
    X(frames,       "messages decoded")                                                   \
    X(cobs_errors,  "COBS error: a block cut short by the delimiter")                     \
    X(empty_frames, "zero-length frames (a delimiter right after a delimiter)")           \
    X(short_frames, "frames shorter than header + CRC (6 bytes)")                         \
    X(oversize,     "frames longer than BITEAR_PROTO_MAX_PAYLOAD; skipped to the next 0x00") \
    X(crc_errors,   "CRC mismatch")                                                       \
    X(bad_version,  "protocol version not BITEAR_PROTO_VERSION")                         \
    X(unknown_type, "message type not in BITEAR_PROTO_MESSAGE_LIST")                      \
    X(bad_length,   "body length or content wrong for its type")

#define BITEAR_PROTO_COUNTER_FIELD_(name, text) uint32_t name;
typedef struct {
    BITEAR_PROTO_DECODER_COUNTERS(BITEAR_PROTO_COUNTER_FIELD_)
} bitear_proto_counters_t;

/*
 * STATS body: u8 count, then count u32 values in this order. Append only: a host reads the
 * values it knows by position and ignores extra ones (model/facts.py reads the names from here).
 */
#define BITEAR_PROTO_STATS_LIST(X)                                                                  \
    X(frames_received,  "well-formed frames decoded by the board")                                  \
    X(crc_errors,       "frames with a bad CRC")                                                    \
    X(framing_errors,   "COBS errors, empty, short and oversize frames")                            \
    X(unknown_commands, "unknown type or version, or a board->host type sent to the board")         \
    X(bad_commands,     "wrong body length or content; stale or far-off AUDIO hop")               \
    X(audio_frames,     "AUDIO frames accepted into the queue")                                     \
    X(frames_dropped,   "AUDIO frames missing from the hop sequence (damaged or lost on the line)") \
    X(overruns,         "AUDIO frames dropped for lack of queue space (or microphone data lost)")   \
    X(rx_dropped,       "bytes lost because the receive ring was full")                             \
    X(hops,             "audio hops processed by the front end")                                    \
    X(inferences,       "inferences run")                                                           \
    X(detections,       "keyword events")                                                           \
    X(stack_used,       "stack high-water mark, bytes (0: not measured)")                           \
    X(stack_size,       "stack size, bytes (0: not measured)")                                       \
    X(resyncs,          "AUDIO stream position moved to a far-off hop (two in a row, section 4)")   \
    X(results_dropped,  "RESULT / DETECTION frames not sent: the host was not reading (line busy)")

typedef struct {
    BITEAR_PROTO_STATS_LIST(BITEAR_PROTO_COUNTER_FIELD_)
} bitear_proto_stats_t;
#undef BITEAR_PROTO_COUNTER_FIELD_

#define BITEAR_PROTO_STATS_COUNT_ONE_(name, text) +1
#define BITEAR_PROTO_STATS_COUNT (0 BITEAR_PROTO_STATS_LIST(BITEAR_PROTO_STATS_COUNT_ONE_))

/* ---- message bodies ------------------------------------------------------------------------ */

typedef struct {
    uint32_t hop;       /* stream position: hops since the stream started (0, 1, 2, ...) */
    const uint8_t *pcm; /* BITEAR_PROTO_AUDIO_SAMPLES int16, little-endian byte pairs */
} bitear_proto_audio_t;

typedef struct {
    uint8_t exit_index;    /* 0 .. exits - 2, or BITEAR_PROTO_EXIT_ALL */
    int32_t threshold_q16; /* normalized entropy 0 .. 65536, or BITEAR_PROTO_THRESHOLD_NEVER */
} bitear_proto_set_threshold_t;

typedef struct {
    uint16_t window_ms;      /* averaging window */
    uint16_t threshold_q15;  /* averaged score needed for an event, 0 .. 32768 */
    uint16_t suppression_ms; /* quiet time after an event */
    uint8_t min_count;       /* results needed in the window */
} bitear_proto_set_detector_t;

typedef struct {
    uint8_t flags; /* BITEAR_PROTO_RESET_* */
} bitear_proto_reset_t;

typedef struct {
    uint8_t infer_every; /* an inference every this many hops, 1 .. 255 (0: the board refuses it) */
} bitear_proto_set_period_t;

typedef struct {
    uint32_t sample_rate_hz;
    uint16_t hop_samples;
    uint8_t infer_every_hops;
    uint8_t classes;
    uint8_t exits;
    uint8_t cost_unit;      /* BITEAR_PROTO_COST_* */
    const char *board;      /* NUL-terminated, e.g. "qemu_mps2_an386" */
    const char *model;      /* NUL-terminated: checkpoint sha256 prefix in hex */
    const char *labels;     /* `classes` NUL-terminated strings back to back ("a\0b\0") */
    uint16_t labels_len;    /* bytes of labels including every NUL */
} bitear_proto_ready_t;

typedef struct {
    uint32_t hop;          /* hops processed when the inference ran (window ends at hop x 20 ms) */
    uint8_t label;         /* class index */
    uint8_t exit_index;    /* exit taken */
    uint16_t score_q15;    /* softmax score of label, 32768 = 1.0 */
    uint32_t entropy_q16;  /* normalized entropy at that exit, 65536 = 1.0 */
    uint32_t cost;         /* instructions / cycles / us spent (READY.cost_unit) */
    uint8_t classes;       /* number of scores that follow, 0 .. BITEAR_PROTO_MAX_CLASSES */
    uint16_t scores_q15[BITEAR_PROTO_MAX_CLASSES];
} bitear_proto_result_t;

typedef struct {
    uint32_t hop;       /* as RESULT.hop of the inference that caused the event */
    uint8_t label;      /* class index */
    uint16_t score_q15; /* averaged score */
} bitear_proto_detection_t;

typedef struct {
    uint16_t seq;    /* seq of the command answered */
    uint8_t type;    /* its type */
    int16_t status;  /* BITEAR_OK (ACK) or a negative bitear_status_t (NACK) */
} bitear_proto_ack_t;

typedef struct {
    uint32_t limit;    /* the host may send AUDIO with hop < limit */
    uint16_t capacity; /* AUDIO frames the board can queue */
} bitear_proto_credit_t;

typedef struct {
    uint8_t type; /* BITEAR_PROTO_<NAME> */
    uint16_t seq;
    union {
        bitear_proto_audio_t audio;
        bitear_proto_set_threshold_t set_threshold;
        bitear_proto_set_detector_t set_detector;
        bitear_proto_reset_t reset;
        bitear_proto_set_period_t set_period;
        bitear_proto_ready_t ready;
        bitear_proto_result_t result;
        bitear_proto_detection_t detection;
        bitear_proto_stats_t stats;
        bitear_proto_ack_t ack;
        bitear_proto_credit_t credit;
    } body; /* HELLO and GET_STATS have no body */
} bitear_proto_msg_t;

/* ---- decoder ------------------------------------------------------------------------------- */

typedef struct {
    uint8_t buf[BITEAR_PROTO_MAX_PAYLOAD]; /* decoded payload of the frame being received */
    uint16_t len;                          /* bytes in buf */
    uint8_t state;                         /* internal */
    uint8_t code;                          /* COBS code of the current block */
    uint8_t remaining;                     /* data bytes left in the current block */
    bitear_proto_counters_t counters;
    uint32_t magic; /* set by init */
} bitear_proto_decoder_t;

/* Empty decoder waiting for the start of a frame; counters zeroed. */
bitear_status_t bitear_proto_decoder_init(bitear_proto_decoder_t *dec);

/* Forget a partial frame (counters kept): the next byte starts a new frame. */
bitear_status_t bitear_proto_decoder_resync(bitear_proto_decoder_t *dec);

/*
 * Take one received byte. Returns
 *   BITEAR_PROTO_NEED_MORE (0)  nothing complete yet;
 *   BITEAR_PROTO_MESSAGE (1)    *msg holds a decoded message (pointers into dec, valid until the
 *                               next feed);
 *   BITEAR_ERR_FORMAT           COBS error, empty, short frame or wrong body length;
 *   BITEAR_ERR_OVERFLOW         the frame outgrew the buffer (reported once; the rest of it, up
 *                               to the next 0x00, is skipped);
 *   BITEAR_ERR_CRC              checksum mismatch;
 *   BITEAR_ERR_UNSUPPORTED      unknown version or type;
 *   BITEAR_ERR_NULL / BITEAR_ERR_STATE  bad arguments / decoder not initialised (not counted).
 * Each damaged frame is counted once in dec->counters. On an error msg->type is 0 (no message
 * has type 0) unless the frame passed its CRC: then msg->type and msg->seq are those of the
 * rejected frame (unknown version or type, or a bad body), so the board can NACK it.
 */
bitear_status_t bitear_proto_decoder_feed(bitear_proto_decoder_t *dec, uint8_t byte, bitear_proto_msg_t *msg);

/*
 * The same for a run of bytes, faster (the state stays in registers and a block's data bytes
 * are copied in one loop): takes bytes from data[0 .. n) until a frame ends with a message or an
 * error, or the bytes run out. *used gets the number taken; the return value is what feed would
 * have returned for the last byte taken (BITEAR_PROTO_NEED_MORE when none ended a frame). Call it
 * again with the rest (data + *used) after handling a message. Prefer it where bytes come in
 * bunches (the UART ring): on a Cortex-M4 an AUDIO frame costs about half as many instructions.
 */
bitear_status_t bitear_proto_decoder_feed_bytes(bitear_proto_decoder_t *dec, const uint8_t *data, size_t n,
                                                size_t *used, bitear_proto_msg_t *msg);

/* Decode one whole payload (COBS already removed, CRC included) without a decoder: the same
 * checks and results as feed; pointers in *msg point into payload. Used by feed and by tests. */
bitear_status_t bitear_proto_parse(const uint8_t *payload, size_t len, bitear_proto_msg_t *msg);

/* ---- encoders ------------------------------------------------------------------------------ */

/*
 * Encode msg (msg->type selects the body, msg->seq goes into the header) as a complete frame —
 * COBS bytes and the 0x00 delimiter — into out[0 .. cap). *out_len gets the frame length.
 * BITEAR_ERR_ARG for an unknown type or a field the decoder would reject (e.g. READY strings
 * that do not fit, classes > BITEAR_PROTO_MAX_CLASSES); BITEAR_ERR_SIZE when cap is too small
 * (BITEAR_PROTO_MAX_FRAME is always enough). Nothing is promised about out on error.
 */
bitear_status_t bitear_proto_encode(const bitear_proto_msg_t *msg, uint8_t *out, size_t cap, size_t *out_len);

/* ---- helpers ------------------------------------------------------------------------------- */

/* CRC-16/CCITT-FALSE of data, continuing from crc (start with 0xFFFF). "123456789" -> 0x29B1. */
uint16_t bitear_proto_crc16(uint16_t crc, const uint8_t *data, size_t len);

/* The AUDIO samples as int16 (dst: BITEAR_PROTO_AUDIO_SAMPLES values), on any endianness. */
void bitear_proto_audio_samples(const bitear_proto_audio_t *audio, int16_t *dst);

/* Label i of a READY body (walks the NUL-separated block); "" when i is out of range. */
const char *bitear_proto_ready_label(const bitear_proto_ready_t *ready, unsigned i);

/* Join n strings into one NUL-separated block (for READY.labels): returns the bytes written,
 * including every NUL, or 0 if it does not fit in cap. */
size_t bitear_proto_labels_join(const char *const *list, unsigned n, char *dst, size_t cap);

/*
 * The board's rule for an AUDIO frame (docs/protocol.md, section 4). d = hop - expected, computed
 * without wrapping (hops and the expected hop never wrap: hop 0xFFFFFFFF is refused):
 *   d == 0                 in order: queue it (unless the queue is full: stats->overruns, drop);
 *   0 < d <= RESYNC_HOPS   a gap: the d missing frames are added to stats->frames_dropped, then as d == 0;
 *   -RESYNC_HOPS <= d < 0  stale or repeated: stats->bad_commands, drop;
 *   otherwise (far off)    refused and dropped (stats->bad_commands) and remembered: when the NEXT
 *                          AUDIO frame is hop + 1, the board takes the sender's numbering
 *                          (stats->resyncs, expected = hop + 2, queued as d == 0). One stray frame
 *                          therefore never moves the stream; a host that renumbers loses one hop.
 * Far means more than BITEAR_PROTO_RESYNC_HOPS, larger than any credit window (CREDIT.capacity <=
 * 255), so frames lost on the line never look far off. The confirming frame is checked before the
 * stale rule. The counters touched here saturate at 0xFFFFFFFF.
 * Returns BITEAR_PROTO_ADMIT_* flags: QUEUE (put the samples in the queue), RESYNC (the stream
 * position moved: the board ACKs the AUDIO frame with status 0 to tell the host), REFUSED (far off
 * or hop 0xFFFFFFFF: the board NACKs the AUDIO frame with BITEAR_ERR_ARG); 0: dropped quietly.
 */
#define BITEAR_PROTO_RESYNC_HOPS 256u
#define BITEAR_PROTO_HOP_MAX 0xFFFFFFFEu /* the largest stream position; then RESET the stream */
#define BITEAR_PROTO_ADMIT_QUEUE 1
#define BITEAR_PROTO_ADMIT_RESYNC 2
#define BITEAR_PROTO_ADMIT_REFUSED 4

typedef struct {
    uint32_t expected;   /* hop index of the next AUDIO frame wanted */
    uint32_t resync_hop; /* the hop that confirms a resynchronisation (a far-off hop + 1); 0: none */
} bitear_proto_audio_window_t;

int bitear_proto_audio_admit(bitear_proto_audio_window_t *w, uint32_t hop, unsigned queued, unsigned capacity,
                             bitear_proto_stats_t *stats);

/* CREDIT.limit the board announces: expected + free queue slots, at most 0xFFFFFFFF (never wraps). */
uint32_t bitear_proto_credit_limit(uint32_t expected, unsigned queued, unsigned capacity);

/* 1 for a host -> board type (a command the board accepts), 0 otherwise. */
int bitear_proto_is_command(uint8_t type);

/* "AUDIO", "READY", ... or "?" for an unknown type. */
const char *bitear_proto_type_name(uint8_t type);

/* The decoder's counters folded into the board's STATS fields frames_received, crc_errors,
 * framing_errors, unknown_commands and bad_commands (the other fields are left alone). */
void bitear_proto_stats_from_decoder(const bitear_proto_decoder_t *dec, bitear_proto_stats_t *stats);

#endif /* BITEAR_PROTOCOL_H */
