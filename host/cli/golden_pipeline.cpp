// Registers the end-to-end (txt2img / img2img) golden handler with `sdxl golden`.
#include "golden/pipeline_golden.h"

SDXL_REGISTER_GOLDEN_HANDLER(sdxl::golden::PipelineGoldenHandler)
