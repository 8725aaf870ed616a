#ifndef LEDGER_CRC32C_H
#define LEDGER_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/// Extends a CRC32C (Castagnoli, reflected polynomial 0x82F63B78) over `length` bytes.
/// Start with `crc = 0`; feeding a buffer in pieces gives the same value as feeding it whole.
/// Uses the SSE4.2 `crc32` instruction when the CPU has it, a table otherwise.
uint32_t ledger_crc32c_extend(uint32_t crc, const void *bytes, size_t length);

/// The table-driven implementation, exposed so tests can compare both paths.
uint32_t ledger_crc32c_extend_portable(uint32_t crc, const void *bytes, size_t length);

/// 1 when the hardware path is in use.
int ledger_crc32c_hardware(void);

#endif
