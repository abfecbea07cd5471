#pragma once
// A1111 prompt emphasis syntax, parsed into text fragments with weights.
//
//   (text)       weight × 1.1          [text]      weight ÷ 1.1
//   (text:1.3)   weight × 1.3          \( \) \[ \] literal brackets, \\ a backslash
//   BREAK        (upper case, a word of its own) ends the current 75-token chunk
//
// Brackets nest and multiply. Unbalanced brackets are text, not errors, exactly as in A1111:
// a ')' or ']' with nothing open is kept literally; a '(' or '[' never closed weights everything
// after it (× 1.1 or ÷ 1.1); "(word:x)" whose number does not parse is text. Adjacent fragments
// with equal weights are merged.

#include <string>
#include <vector>

namespace sdxl::prompt {

struct Fragment {
  std::string text;
  double weight = 1.0;
  bool is_break = false;  ///< a BREAK marker (text empty)
};

std::vector<Fragment> parse_emphasis(const std::string& prompt);

/// `<lora:name:0.8>` tags removed from a prompt (A1111 extra-networks syntax); returns the rest.
struct LoraTag {
  std::string name;
  double unet_weight = 1.0;
  double text_encoder_weight = 1.0;  ///< `<lora:name:te:unet>` sets them separately
};
std::string extract_lora_tags(const std::string& prompt, std::vector<LoraTag>& tags);

}  // namespace sdxl::prompt
