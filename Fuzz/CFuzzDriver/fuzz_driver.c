// Only a header is needed: LLVMFuzzerRunDriver comes from libFuzzer (-sanitize=fuzzer).
#include "fuzz_driver.h"
