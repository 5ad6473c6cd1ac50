/* bitear_ring.c - lock-free SPSC byte ring used between the UART RX interrupt and the main
 * loop (see bitear_ring.h). Portable C99. */
#include "bitear_ring.h"

#include <string.h>

/* Keeps the compiler from moving the buffer access past the index update (one core: no
 * hardware barrier is needed between an interrupt handler and the main loop). */
#define BITEAR_COMPILER_BARRIER() __asm__ volatile("" ::: "memory")

int bitear_ring_init(bitear_ring_t *r, uint8_t *storage, uint32_t capacity)
{
    if (capacity < 2u || (capacity & (capacity - 1u)) != 0u) {
        return -1;
    }
    r->buf = storage;
    r->mask = capacity - 1u;
    r->head = 0u;
    r->tail = 0u;
    r->dropped = 0u;
    return 0;
}

int bitear_ring_push(bitear_ring_t *r, uint8_t byte)
{
    uint32_t head = r->head;
    if (head - r->tail > r->mask) { /* full: capacity bytes waiting */
        r->dropped++;
        return -1;
    }
    r->buf[head & r->mask] = byte;
    BITEAR_COMPILER_BARRIER();
    r->head = head + 1u; /* publish after the byte is stored */
    return 0;
}

int bitear_ring_pop(bitear_ring_t *r)
{
    uint32_t tail = r->tail;
    if (tail == r->head) {
        return -1;
    }
    uint8_t byte = r->buf[tail & r->mask];
    BITEAR_COMPILER_BARRIER();
    r->tail = tail + 1u;
    return byte;
}

size_t bitear_ring_read(bitear_ring_t *r, uint8_t *dst, size_t max)
{
    const uint32_t tail = r->tail;
    size_t n = (size_t)(r->head - tail);
    if (n > max) {
        n = max;
    }
    /* at most two runs: up to the end of the storage, then from its start */
    const size_t start = tail & r->mask;
    const size_t first = n < r->mask + 1u - start ? n : r->mask + 1u - start;
    memcpy(dst, r->buf + start, first);
    memcpy(dst + first, r->buf, n - first);
    BITEAR_COMPILER_BARRIER();
    r->tail = tail + (uint32_t)n; /* free the space after the bytes are copied */
    return n;
}

size_t bitear_ring_count(const bitear_ring_t *r)
{
    return (size_t)(r->head - r->tail);
}
