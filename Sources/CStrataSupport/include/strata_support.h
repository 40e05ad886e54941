#ifndef STRATA_SUPPORT_H
#define STRATA_SUPPORT_H
#include <stddef.h>
#include <stdint.h>

/// CRC-32C (Castagnoli) of `len` bytes, continuing from `crc` (pass 0 to start).
/// Uses the SSE4.2 crc32 instruction when the CPU has it, else a table.
uint32_t strata_crc32c(uint32_t crc, const void *data, size_t len);

#endif
