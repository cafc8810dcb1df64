/*
 * fuzz_jpeg.c — the JPEG path of loaders/image.h (libjpeg-turbo behind its
 * setjmp boundary, DCT scaling, CMYK/YCCK, warnings as errors, the scan
 * cap, then the resize); see fuzz_image.h. Inputs must start with FF D8.
 */
#include "fuzz_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_image(data, size, "\xff\xd8", 2, LOOM_IMAGE_JPEG);
}
