#pragma once
// Golden comparison for runs outside float32 (`sdxl golden check --dtype bfloat16|float16`, the
// GPU machine's checks). The references were computed in float32, so element-wise tolerances do
// not apply: a few near-zero elements dominate them. Each produced tensor the case records is
// compared instead by its relative RMS error, rms(got − want) / rms(want), against a bound per
// dtype. The bounds and the measurements they come from are documented in docs/golden.md.

#include <c10/core/ScalarType.h>

#include <set>
#include <string>

#include "golden/golden_case.h"

namespace sdxl::golden {

/// rms(got − want) / rms(want), in double; NaN when the shapes differ or `want` is all zeros
/// while `got` is not; infinity when `got` holds a NaN or an infinity `want` does not.
double relative_rms_error(const at::Tensor& got, const at::Tensor& want);

/// The documented bound for `dtype` (bfloat16 or float16); 0 for any other dtype.
double relative_rms_bound(c10::ScalarType dtype);

/// Compares every floating tensor in `produced` that `full` records with relative_rms_error
/// against relative_rms_bound(dtype) × `slack` (GoldenHandler::reduced_precision_slack()), and
/// fails when a name in `required` (GoldenHandler::required_outputs()) was not produced. Integer outputs (uint8 pictures, token ids) are skipped:
/// their rounding makes them follow the float tensors they are made from. Fails when nothing
/// was compared.
CompareReport compare_relative_rms(const GoldenCase& full, const TensorList& produced, c10::ScalarType dtype,
                                   const std::set<std::string>& required = {}, double slack = 1.0);

}  // namespace sdxl::golden
