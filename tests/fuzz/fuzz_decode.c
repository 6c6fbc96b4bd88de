/*
 * fuzz_decode.c - libFuzzer target: arbitrary bytes as a manifest file.
 * Invariant: decoding never crashes, leaks or reads out of bounds, and either
 * adds objects or reports at least one error or notice for bad input.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rc_model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rc_desired want = {0};
    struct rc_errs errs = {0}, notices = {0};
    char *buf = malloc(size + 1);

    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    rc_decode_yaml(&want, "fuzz.yaml", buf, size, &errs, &notices);
    rc_validate_refs(&want, &errs);
    rc_desired_release(&want);
    rc_errs_release(&errs);
    rc_errs_release(&notices);
    free(buf);
    return 0;
}
