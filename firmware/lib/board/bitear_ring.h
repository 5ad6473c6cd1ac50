/* bitear_ring.h - single-producer / single-consumer byte ring for the serial RX path.
 *
 * The producer is an interrupt handler (bitear_ring_push), the consumer is the main loop
 * (bitear_ring_pop, or bitear_ring_read for a run of bytes). Head and tail are free-running 32-bit counters, only the producer writes
 * head and only the consumer writes tail, so no lock is needed on a single core. The capacity
 * is a power of two; a byte pushed into a full ring is dropped and counted.
 */
#ifndef BITEAR_RING_H
#define BITEAR_RING_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    uint8_t *buf;
    uint32_t mask;           /* capacity - 1 */
    volatile uint32_t head;  /* bytes ever pushed (written by the producer) */
    volatile uint32_t tail;  /* bytes ever popped (written by the consumer) */
    volatile uint32_t dropped;
} bitear_ring_t;

/* capacity must be a power of two >= 2; returns 0, or -1 when it is not. */
int bitear_ring_init(bitear_ring_t *r, uint8_t *storage, uint32_t capacity);
int bitear_ring_push(bitear_ring_t *r, uint8_t byte); /* 0, or -1 when full (dropped) */
int bitear_ring_pop(bitear_ring_t *r);                /* byte 0..255, or -1 when empty */
size_t bitear_ring_read(bitear_ring_t *r, uint8_t *dst, size_t max); /* up to max bytes; count */
size_t bitear_ring_count(const bitear_ring_t *r);

#ifdef __cplusplus
}
#endif

#endif /* BITEAR_RING_H */
