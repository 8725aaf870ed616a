#ifndef LEDGER_FUZZ_DRIVER_H
#define LEDGER_FUZZ_DRIVER_H
#include <stddef.h>
#include <stdint.h>

/// libFuzzer's driver, for a binary whose main is its own (SwiftPM names an executable's
/// entry point after its module, so libFuzzer's main cannot be used as is).
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
