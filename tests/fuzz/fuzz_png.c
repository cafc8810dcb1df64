/*
 * fuzz_png.c — the PNG path of loaders/image.h (libpng behind its setjmp
 * boundary, every colour type and depth to 8-bit RGB, then the resize);
 * see fuzz_image.h. Inputs must start with "\x89PNG".
 */
#include "fuzz_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_image(data, size, "\x89PNG", 4, LOOM_IMAGE_PNG);
}
