/*
 * fuzz_observe.c - libFuzzer target: arbitrary bytes as an ARM response.
 * Invariant: the ARM decoder never crashes, leaks or reads out of bounds.
 */
#include <stddef.h>
#include <stdint.h>

#include "rc_observed.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rc_observed have = {0};
    struct rc_errs errs = {0};

    rc_observe_arm_text(&have, "fuzz.json", (const char *)data, size, &errs);
    rc_observed_release(&have);
    rc_errs_release(&errs);
    return 0;
}
