// CRC32C for block and file checksums. The hardware path processes 8 bytes per
// instruction (~10 GB/s a core); the portable path is a byte-wise table used on CPUs
// without SSE4.2 and as a reference in tests.
#include "crc32c.h"

#include <string.h>

static uint32_t table[256];

// Built once when the library loads, before any thread can call in.
__attribute__((constructor))
static void build_table(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        table[i] = c;
    }
}

uint32_t ledger_crc32c_extend_portable(uint32_t crc, const void *bytes, size_t length) {
    const uint8_t *p = (const uint8_t *)bytes;
    crc = ~crc;
    while (length--) crc = table[(crc ^ *p++) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

#if defined(__x86_64__)
#include <nmmintrin.h>

__attribute__((target("sse4.2")))
static uint32_t extend_sse42(uint32_t crc, const void *bytes, size_t length) {
    const uint8_t *p = (const uint8_t *)bytes;
    uint64_t c = (uint32_t)~crc;
    while (length >= 8) {
        uint64_t word;
        memcpy(&word, p, 8);  // unaligned-safe load
        c = _mm_crc32_u64(c, word);
        p += 8;
        length -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (length--) c32 = _mm_crc32_u8(c32, *p++);
    return ~c32;
}

int ledger_crc32c_hardware(void) {
    static int cached = -1;
    if (cached < 0) cached = __builtin_cpu_supports("sse4.2") ? 1 : 0;
    return cached;
}

uint32_t ledger_crc32c_extend(uint32_t crc, const void *bytes, size_t length) {
    if (ledger_crc32c_hardware()) return extend_sse42(crc, bytes, length);
    return ledger_crc32c_extend_portable(crc, bytes, length);
}
#else
int ledger_crc32c_hardware(void) { return 0; }

uint32_t ledger_crc32c_extend(uint32_t crc, const void *bytes, size_t length) {
    return ledger_crc32c_extend_portable(crc, bytes, length);
}
#endif
