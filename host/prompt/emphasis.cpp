#include "prompt/emphasis.h"

#include <cctype>
#include <cstdlib>

namespace sdxl::prompt {
namespace {

constexpr double kRoundMultiplier = 1.1;
constexpr double kSquareMultiplier = 1.0 / 1.1;

// Splits plain text at BREAK words (BREAK surrounded by non-word characters or the ends).
void append_text(std::vector<Fragment>& out, const std::string& text) {
  std::size_t start = 0;
  auto is_word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  for (std::size_t i = 0; i + 5 <= text.size(); ++i) {
    if (text.compare(i, 5, "BREAK") != 0) continue;
    const bool left_ok = i == 0 || !is_word(text[i - 1]);
    const bool right_ok = i + 5 == text.size() || !is_word(text[i + 5]);
    if (!left_ok || !right_ok) continue;
    // Whitespace around BREAK belongs to it.
    std::size_t a = i, b = i + 5;
    while (a > start && std::isspace(static_cast<unsigned char>(text[a - 1]))) --a;
    while (b < text.size() && std::isspace(static_cast<unsigned char>(text[b]))) ++b;
    out.push_back({text.substr(start, a - start), 1.0, false});
    out.push_back({"", 1.0, true});
    start = b;
    i = b - 1;
  }
  out.push_back({text.substr(start), 1.0, false});
}

// At `pos` (just after a ':'), a number followed by optional spaces and ')'. Returns the index
// after ')' and the number, or npos when that is not what follows.
std::size_t weight_suffix(const std::string& s, std::size_t pos, double& weight) {
  std::size_t i = pos;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  std::size_t num_start = i;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  std::size_t digits = i;
  while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
  if (i == digits) return std::string::npos;
  std::string number = s.substr(num_start, i - num_start);
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  if (i >= s.size() || s[i] != ')') return std::string::npos;
  char* end = nullptr;
  weight = std::strtod(number.c_str(), &end);
  if (end == number.c_str()) weight = 1.0;  // "(x:.)": A1111's float() would fail; treat as 1
  return i + 1;
}

}  // namespace

std::vector<Fragment> parse_emphasis(const std::string& prompt) {
  std::vector<Fragment> res;
  std::vector<std::size_t> round, square;  // positions in `res` where open brackets started
  auto multiply_from = [&](std::size_t start, double m) {
    for (std::size_t p = start; p < res.size(); ++p) res[p].weight *= m;
  };
  std::string text;  // pending plain text
  auto flush = [&] {
    if (!text.empty()) append_text(res, text);
    text.clear();
  };
  for (std::size_t i = 0; i < prompt.size();) {
    const char c = prompt[i];
    if (c == '\\' && i + 1 < prompt.size() && std::string("()[]\\").find(prompt[i + 1]) != std::string::npos) {
      flush();
      res.push_back({std::string(1, prompt[i + 1]), 1.0, false});  // its own fragment: weight 1 like A1111
      i += 2;
    } else if (c == '\\') {
      flush();  // a lone backslash disappears, as in A1111
      ++i;
    } else if (c == '(') {
      flush();
      round.push_back(res.size());
      ++i;
    } else if (c == '[') {
      flush();
      square.push_back(res.size());
      ++i;
    } else if (c == ':' && !round.empty()) {
      double w = 1.0;
      std::size_t after = weight_suffix(prompt, i + 1, w);
      if (after == std::string::npos) {
        text.push_back(c);
        ++i;
        continue;
      }
      flush();
      multiply_from(round.back(), w);
      round.pop_back();
      i = after;
    } else if (c == ')' && !round.empty()) {
      flush();
      multiply_from(round.back(), kRoundMultiplier);
      round.pop_back();
      ++i;
    } else if (c == ']' && !square.empty()) {
      flush();
      multiply_from(square.back(), kSquareMultiplier);
      square.pop_back();
      ++i;
    } else {
      text.push_back(c);
      ++i;
    }
  }
  flush();
  for (auto p : round) multiply_from(p, kRoundMultiplier);
  for (auto p : square) multiply_from(p, kSquareMultiplier);
  // Drop empty text fragments, merge neighbours of equal weight (BREAKs stay separate).
  std::vector<Fragment> merged;
  for (auto& f : res) {
    if (!f.is_break && f.text.empty()) continue;
    if (!merged.empty() && !f.is_break && !merged.back().is_break && merged.back().weight == f.weight)
      merged.back().text += f.text;
    else
      merged.push_back(std::move(f));
  }
  if (merged.empty()) merged.push_back({"", 1.0, false});
  return merged;
}

std::string extract_lora_tags(const std::string& prompt, std::vector<LoraTag>& tags) {
  std::string out;
  std::size_t i = 0;
  while (i < prompt.size()) {
    if (prompt.compare(i, 6, "<lora:") == 0) {
      std::size_t close = prompt.find('>', i);
      if (close != std::string::npos) {
        std::string body = prompt.substr(i + 6, close - i - 6);  // name[:w[:te_w]]
        std::vector<std::string> parts;
        for (std::size_t s = 0;;) {
          auto e = body.find(':', s);
          parts.push_back(body.substr(s, e == std::string::npos ? std::string::npos : e - s));
          if (e == std::string::npos) break;
          s = e + 1;
        }
        LoraTag t;
        t.name = parts[0];
        char* end = nullptr;
        // A1111: <lora:name:te[:unet]>; the UNet multiplier defaults to the text-encoder one.
        if (parts.size() > 1) t.unet_weight = t.text_encoder_weight = std::strtod(parts[1].c_str(), &end);
        if (parts.size() > 2) t.unet_weight = std::strtod(parts[2].c_str(), &end);
        if (!t.name.empty()) {
          tags.push_back(t);
          i = close + 1;
          continue;
        }
      }
    }
    out.push_back(prompt[i++]);
  }
  return out;
}

}  // namespace sdxl::prompt
