#pragma once
// Generated Unicode property tables (see gen_unicode_tables.py for where each comes from).
// Ranges are sorted, disjoint and inclusive, so lookups are binary searches.

#include <cstddef>
#include <cstdint>

namespace sdxl::tokenizer::tables {

struct CodeRange {
  char32_t first;
  char32_t last;
};

/// Code points first..last (every `stride`-th one) lower-case to code point + delta.
struct LowerRun {
  char32_t first;
  char32_t last;
  std::int32_t stride;
  std::int32_t delta;
};

extern const CodeRange kLetters[];  ///< \p{L}
extern const std::size_t kLetters_size;
extern const CodeRange kNumbers[];  ///< \p{N}
extern const std::size_t kNumbers_size;
extern const CodeRange kCased[];  ///< cased and not case-ignorable (final-sigma rule)
extern const std::size_t kCased_size;
extern const CodeRange kCaseIgnorable[];  ///< case-ignorable (final-sigma rule)
extern const std::size_t kCaseIgnorable_size;
extern const LowerRun kLowerRuns[];  ///< single-code-point lower-case mappings
extern const std::size_t kLowerRuns_size;

}  // namespace sdxl::tokenizer::tables
